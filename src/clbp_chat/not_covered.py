"""Topics the library does not cover: the package's ``not_covered.yaml``, changed by the clinic.

A clinic that adds its own pages (say, what happens on the day) puts a ``not_covered.yaml`` in its
corpus folder: a topic of the same name replaces the package's fields it gives, a new name adds a
topic, and ``covered`` switches one off. Ingest validates the file and stores it in the build's
manifest, so every process answering from a build refuses the same topics, wherever the corpus is.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from clbp_chat.corpus import NOT_COVERED_FILE
from clbp_chat.errors import CorpusError
from clbp_chat.front_matter import mapping_lines, read_text

PACKAGE_FILE = Path(__file__).with_name(NOT_COVERED_FILE)
COVERED = "covered"
FIELDS = ("mention", "asks", "says")
MANIFEST_KEY = "not_covered"


@dataclass(frozen=True)
class Topic:
    """A topic the library does not cover, and the sentence that says so."""

    name: str
    mention: re.Pattern[str]
    asks: re.Pattern[str] | None
    says: str
    # Which file the topic's fields come from, for ingest's warnings.
    origin: str = f"the package's {NOT_COVERED_FILE}"


@lru_cache(maxsize=1)
def package_topics() -> dict[str, dict[str, str]]:
    """The package's topics, as written in its file."""
    return yaml.safe_load(PACKAGE_FILE.read_text(encoding="utf-8"))


def read_clinic_topics(corpus_dir: Path) -> dict[str, object]:
    """The clinic's ``not_covered.yaml`` in ``corpus_dir``, checked ({} when there is none);
    :class:`CorpusError` names the line and the fix."""
    path = corpus_dir / NOT_COVERED_FILE
    if not path.is_file():
        return {}
    name = f"{corpus_dir.name}/{NOT_COVERED_FILE}"
    text = read_text(path)
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise CorpusError(
            f"{name}: not valid YAML at line {line}; check the indentation and the quotes"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CorpusError(f"{name}: must list topics, each 'name:' then its fields or 'covered'")
    lines = mapping_lines(name, node, 1)
    for topic, spec in data.items():
        _check_topic(name, str(topic), spec, lines.get(str(topic), 1))
    return {str(k): v for k, v in data.items()}


def _check_topic(name: str, topic: str, spec: object, line: int) -> None:
    known = package_topics()
    where = f"{name}: topic '{topic}' (line {line})"
    if spec == COVERED:
        if topic not in known:
            close = difflib.get_close_matches(topic, list(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"the topics are {', '.join(known)}"
            raise CorpusError(
                f"{where} is not a topic of the package, so it cannot be covered; {hint}"
            )
        return
    if not isinstance(spec, dict):
        raise CorpusError(f"{where} must be 'covered' or fields mention, says and (optional) asks")
    for key in spec:
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "a topic has mention, asks and says"
            raise CorpusError(f"{where} has an unknown field '{key}'; {hint}")
    missing = [] if topic in known else [k for k in ("mention", "says") if k not in spec]
    if missing:
        raise CorpusError(f"{where} is new, so it needs '{missing[0]}'")
    for key in FIELDS:
        if key in spec and not (isinstance(spec[key], str) and spec[key].strip()):
            raise CorpusError(f"{where}: '{key}' must be text")
    for key in ("mention", "asks"):
        if key in spec:
            try:
                re.compile(spec[key])
            except re.error as exc:
                raise CorpusError(
                    f"{where}: '{key}' is not a valid pattern ({exc}); put it in single quotes "
                    "and check its brackets"
                ) from None


def topics(clinic: dict[str, object] | None = None) -> tuple[Topic, ...]:
    """The package's topics with the clinic's changes (``read_clinic_topics``) applied."""
    clinic = clinic or {}
    merged: dict[str, tuple[dict, str]] = {
        name: (spec, f"the package's {NOT_COVERED_FILE}") for name, spec in package_topics().items()
    }
    for name, spec in clinic.items():
        if spec == COVERED:
            merged.pop(name, None)
        else:
            base = merged.get(name, ({}, ""))[0]
            merged[name] = ({**base, **spec}, f"the corpus folder's {NOT_COVERED_FILE}")
    return tuple(
        Topic(
            name,
            re.compile(spec["mention"]),
            re.compile(spec["asks"]) if spec.get("asks") else None,
            spec["says"],
            origin,
        )
        for name, (spec, origin) in merged.items()
    )


def topics_for(index) -> tuple[Topic, ...]:
    """The topics a build refuses (the clinic's changes travel in its manifest); once per build."""
    cached = index.__dict__.get("_not_covered")
    if cached is None:
        cached = index.__dict__["_not_covered"] = topics(index.manifest.get(MANIFEST_KEY))
    return cached
