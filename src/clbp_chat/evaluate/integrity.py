"""Corpus integrity: the corpus checked against its own sources (``evals/corpus.yaml``).

The question sets cannot see a wrong figure in the corpus: the answer quoting it is grounded in the
wrong sentence, and no item asks about every figure. So the gate also compares every document with
the fact sheet and the clinic's seed text: numbers, source links, overclaims and doc ids.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from clbp_chat.corpus import Document, load_corpus
from clbp_chat.errors import ClbpError, ConfigError
from clbp_chat.text import numbers

_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"'<>)\]]+", re.I)
_URL = re.compile(r"https?://[^\s\"'<>)\]]+", re.I)
_SECTION = re.compile(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", re.S | re.M)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class DocIds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: list[str]
    optional: list[str] = []

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.required + self.optional)


class Spec(BaseModel):
    """``evals/corpus.yaml``, validated: an unknown key or a bad pattern is a one-line error."""

    model_config = ConfigDict(extra="forbid")
    fact_sheet: list[Path]
    seed: list[Path]
    doc_ids: DocIds
    clinic_summary: str
    overclaims: list[str]
    negation: str
    number_words: list[str]

    @field_validator("overclaims")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            re.compile(pattern)
        return patterns


def _first(paths: list[Path], what: str) -> Path:
    for path in paths:
        if path.exists():
            return path
    raise ConfigError(f"no {what} at any of {', '.join(map(str, paths))}")


def links(text: str) -> set[str]:
    """Every source link in ``text``, normalised: a DOI however written, else the URL."""
    found = {f"doi:{d.rstrip('.,;').lower()}" for d in _DOI.findall(text)}
    for url in _URL.findall(text):
        if not _DOI.search(url):
            found.add(url.rstrip("/.,;").lower())
    return found


def _without_links(text: str) -> str:
    return _DOI.sub(" ", _URL.sub(" ", text))


class Reference:
    """The fact sheet (one section per doc id) and the seed: the figures and links allowed."""

    def __init__(self, spec: Spec) -> None:
        sheet = _first(spec.fact_sheet, "fact sheet").read_text(encoding="utf-8")
        seed = _first(spec.seed, "seed folder")
        self.seed_text = "\n".join(
            p.read_text(encoding="utf-8") for p in sorted(seed.glob("*.txt"))
        )
        self.sections = {h.strip(): body for h, body in _SECTION.findall(sheet)}
        self._words = {w: str(n) for n, w in enumerate(spec.number_words)}
        self.all_numbers = self.numbers(sheet) | self.numbers(self.seed_text)
        self.all_links = links(sheet) | links(self.seed_text)

    def numbers(self, text: str) -> set[str]:
        words = {self._words[w] for w in re.findall(r"[a-z]+", text.lower()) if w in self._words}
        return numbers(_without_links(text)) | words

    def for_doc(self, doc: Document, spec: Spec) -> tuple[str, set[str], set[str]]:
        """(what it is checked against, allowed numbers, allowed links) for one document."""
        if doc.id == spec.clinic_summary:
            return "the seed", self.numbers(self.seed_text), links(self.seed_text)
        if doc.type == "study" and doc.id in self.sections:
            own = self.sections[doc.id]
            return f"the fact sheet's {doc.id}", self.numbers(own), links(own)
        return "the fact sheet or the seed", self.all_numbers, self.all_links


def load_spec(path: Path) -> Spec:
    try:
        return Spec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError, re.error) as exc:
        raise ConfigError(f"{path}: {' '.join(str(exc).splitlines()[:3])}") from None


def _flat(text: str) -> str:
    return " ".join(text.split())


def _overclaims(doc: Document, spec: Spec) -> list[str]:
    out = []
    for sentence in _SENTENCE.split(doc.body):
        for pattern in spec.overclaims:
            match = re.search(pattern, sentence, re.I)
            if match and not re.search(spec.negation, sentence[: match.start()], re.I):
                out.append(f"{doc.path.name}: overclaim {match.group(0)!r} in {sentence[:70]!r}")
    return out


def _doc_problems(doc: Document, spec: Spec, ref: Reference) -> list[str]:
    name = doc.path.name
    text = doc.path.read_text(encoding="utf-8")
    against, allowed_numbers, allowed_links = ref.for_doc(doc, spec)
    out = []
    for line in text.splitlines():
        for number in sorted(ref.numbers(line) - allowed_numbers, key=float):
            out.append(f"{name}: {number} is not in {against} ({line.strip()[:70]!r})")
    out += [
        f"{name}: link {link} is not in {against}" for link in sorted(links(text) - allowed_links)
    ]
    if doc.type == "study" and (not doc.source or not links(doc.source) <= allowed_links):
        out.append(f"{name}: source {doc.source} is not the link on {against}")
    if doc.id == spec.clinic_summary:
        if _flat(doc.body) != _flat(ref.seed_text):
            out.append(f"{name}: the clinic's summary is not the seed text, unchanged")
    else:
        out += _overclaims(doc, spec)
    return out


def corpus_problems(corpus_dir: Path, spec_path: Path) -> list[str]:
    """Every integrity problem of the corpus, one line each (empty when it is sound)."""
    spec = load_spec(spec_path)
    ref = Reference(spec)
    try:
        docs = load_corpus(corpus_dir)
    except ClbpError as exc:
        return [str(exc)]
    ids = {d.id for d in docs}
    out = [f"doc id {i} is missing" for i in sorted(set(spec.doc_ids.required) - ids)]
    pages = {d.id for d in docs if d.type == "faq"}  # the clinic's own pages (clinic-*)
    out += [
        f"doc id {i} is not an allowed doc id" for i in sorted(ids - spec.doc_ids.allowed - pages)
    ]
    for doc in docs:
        # A clinic page holds the clinic's own facts (times, parking), not the studies' figures:
        # it is held to the overclaim rule only.
        out += _overclaims(doc, spec) if doc.id in pages else _doc_problems(doc, spec, ref)
    return out
