"""Understand a message once: the ``Query`` every later stage reads and none recomputes.

It holds the message cleaned and typo-corrected, made standalone when it is a follow-up, the
studies it names, the lay words mapped to the corpus's words, what kind of answer it asks for, the
topics the library does not cover, and its one embedding.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from clbp_chat.config import get_settings
from clbp_chat.followup import standalone_question
from clbp_chat.index import named_docs
from clbp_chat.messages import messages
from clbp_chat.not_covered import Topic, topics_for
from clbp_chat.text import message_sentence_at, name_form, normalize, split_message, tokenize
from clbp_chat.tuning import tuning
from clbp_chat.unreported import unreported_details

if TYPE_CHECKING:
    from clbp_chat.index import Index

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Vocabulary:
    """The data files behind understanding: lay terms and intents (the topics the library does
    not cover come with each build: ``not_covered.topics_for``)."""

    lay_terms: tuple[tuple[re.Pattern[str], str], ...]
    intents: dict[str, re.Pattern[str]]
    whole_topic_terms: str
    topic_words: re.Pattern[str]
    asking_markers: re.Pattern[str]
    study_reference: re.Pattern[str]
    whole_topic_words: re.Pattern[str]
    question_opening: re.Pattern[str]
    year_of: re.Pattern[str]
    part_break: re.Pattern[str]
    question_word: re.Pattern[str]
    findings: re.Pattern[str]
    back_reference: re.Pattern[str]


# The keys of intents.yaml that are word patterns of their own, not intents.
_NOT_INTENTS = (
    "whole_topic_terms",
    "topic_words",
    "asking_markers",
    "study_reference",
    "whole_topic_words",
    "question_opening",
    "year_of",
    "part_break",
    "question_word",
    "findings",
    "back_reference",
)


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """Load ``lay_terms.yaml`` and ``intents.yaml`` once per process."""
    lay = yaml.safe_load((HERE / "lay_terms.yaml").read_text(encoding="utf-8"))
    intents = yaml.safe_load((HERE / "intents.yaml").read_text(encoding="utf-8"))
    return Vocabulary(
        lay_terms=tuple((re.compile(row["lay"]), row["means"]) for row in lay),
        intents={k: re.compile(v, re.M) for k, v in intents.items() if k not in _NOT_INTENTS},
        whole_topic_terms=intents["whole_topic_terms"],
        topic_words=re.compile(intents["topic_words"]),
        asking_markers=re.compile(intents["asking_markers"], re.I),
        study_reference=re.compile(intents["study_reference"], re.I),
        whole_topic_words=re.compile(intents["whole_topic_words"], re.I),
        question_opening=re.compile(intents["question_opening"]),
        year_of=re.compile(intents["year_of"]),
        part_break=re.compile(intents["part_break"], re.I),
        question_word=re.compile(intents["question_word"], re.I),
        findings=re.compile(intents["findings"]),
        back_reference=re.compile(intents["back_reference"]),
    )


@dataclass
class Query:
    """One patient message, understood."""

    question: str
    text: str
    standalone: str | None
    focus: set[str]
    expansions: list[str]
    intents: set[str]
    uncovered: list[Topic]
    whole_topic: bool
    vector: np.ndarray = field(repr=False)
    # The message as written (no corpus terms added), matched against sections' listed questions.
    question_vector: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    # What the question asks about (results, who took part...), from the learned aspect head.
    aspect: str | None = None
    # The separate questions of a message that asks more than one ("how many took part and how old
    # were they?"), each read like a message of its own; empty for a single question.
    parts: list[Query] = field(default_factory=list, repr=False)

    @property
    def search_text(self) -> str:
        """What is embedded, searched by keyword and scored lexically: the message as the
        treatment-level question, plus its corpus terms."""
        return " ".join([self.topic_text, *self.expansions])

    @property
    def topic_text(self) -> str:
        """The message with "it" / "this" read as the treatment when it asks about the whole topic."""
        if not self.whole_topic:
            return self.text
        terms = vocabulary().whole_topic_terms
        said, n = vocabulary().whole_topic_words.subn(terms, self.text, count=1)
        return said if n else f"{self.text} ({terms})"

    @property
    def asks_term(self) -> bool:
        """A word's meaning is asked: by its wording ("what does X mean") or, in words no pattern
        holds ("ODI keeps coming up, whit is it"), by the learned aspect head."""
        return "definition" in self.intents or self.aspect == "term"


_STUDY_NAME = re.compile(
    r"\b([a-z]{3,}|(?:19|20)\d\d)(?:s)? (?:trials?|stud(?:y|ies)|papers?|research)\b"
    r"|\b((?:19|20)\d\d) [a-z]+ (?:trials?|stud(?:y|ies)|papers?|research)\b"
    r"|\b(?:trials?|stud(?:y|ies)|papers?) (?:by|from|in) ([a-z]{3,}|(?:19|20)\d\d)\b"
)


def asked_part(text: str) -> str:
    """The sentences that ask something; background sentences around them are not the question.
    Inside one long sentence, what follows a turn to the question ("anyway what I want to know
    is...") is what is asked."""
    turns = list(vocabulary().asking_markers.finditer(text))
    if turns and turns[-1].end() < len(text) - 5:
        text = text[turns[-1].start() :]
    sentences = split_message(text)
    asked = [s for s in sentences if vocabulary().question_opening.search(s)]
    return " ".join(asked) if len(sentences) > 1 and asked else text


def asked_parts(text: str) -> list[str]:
    """The separate questions of a message that asks more than one, in their order (at most
    ``understanding.max_parts``); empty when it asks one thing. A sentence's opening piece is its
    question ("Amirdelfan 2021 - how many took part"); a piece after a break must ask on its own."""
    vocab = vocabulary()
    asked: list[str] = []
    for sentence in split_message(asked_part(text)):
        pieces = [p.strip(" ,;") for p in vocab.part_break.split(sentence)]
        pieces = [p for p in pieces if tokenize(p)]
        asks = [vocab.question_opening.search(p) for p in pieces]
        asks[:1] = [vocab.question_word.search(p) or asks[0] for p in pieces[:1]]
        asked += [p for p, a in zip(pieces, asks, strict=True) if a]
    return asked[: tuning().understanding.max_parts] if len(asked) > 1 else []


def _known_names(index: Index) -> tuple[frozenset[str], str]:
    """Words that are not a study's name, and the aliases text; computed once per build."""
    cached = index.__dict__.get("_known_names")
    if cached is None:
        known = frozenset(index.manifest.get("vocabulary", [])) | index.speller.english
        aliases = " ".join(a for names in index.manifest.get("aliases", {}).values() for a in names)
        cached = index.__dict__["_known_names"] = (known, aliases)
    return cached


def unknown_studies(low: str, index: Index) -> list[str]:
    """Names given to a study or trial that the library does not hold ("the noriega trial")."""
    known, aliases = _known_names(index)
    names = [a or b or c for a, b, c in _STUDY_NAME.findall(low)]
    return [
        n
        for n in names
        if (n.isdigit() and n not in aliases)
        or (
            n.isalpha()
            and n not in known
            and index.speller.correct(n) == n
            and not _run_together(n, known)
            and not _lay_word(n)
        )
    ]


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _with_year_names(text: str) -> str:
    """``text`` with "(<year> study)" after a year said of a study ("that 2017 trial", "the 2022
    marrow one", "the paper from 2015"), so the study's year alias names it."""
    vocab = vocabulary()
    refer = vocab.study_reference
    low = text.lower()
    out, last = [], 0
    for m in _YEAR.finditer(low):
        after = " ".join(low[m.end() :].split()[:3])
        before = low[: m.start()]
        said_of = (
            refer.match(after)
            or refer.match(" ".join(after.split()[1:]))
            or (vocab.year_of.search(before) and refer.search(" ".join(before.split()[-3:])))
        )
        if said_of:
            out += [text[last : m.end()], f" ({m.group()} study)"]
            last = m.end()
    return "".join([*out, text[last:]])


def _lay_word(word: str) -> bool:
    """A patient's word for part of the treatment ("the jab trial", "the tummy fat study")
    describes a study; it is not a study's name."""
    vocab = vocabulary()
    return any(lay.search(word) for lay, _ in vocab.lay_terms) or bool(
        vocab.topic_words.search(word)
    )


def _run_together(word: str, known: frozenset[str]) -> bool:
    """'stemcells', 'bonemarrow': two known words typed as one are not a study's name."""
    return any(word[:i] in known and word[i:] in known for i in range(3, len(word) - 2))


def uncovered_topics(text: str, topics: tuple[Topic, ...]) -> list[Topic]:
    """Which of ``topics`` (those the library does not cover) ``text`` asks about."""
    low = normalize(asked_part(text))
    pointing = vocabulary().back_reference.search(low)
    story = normalize(text).split(pointing.group(0))[0] if pointing else ""
    out = []
    for topic in topics:
        if pointing and topic.mention.search(story):
            # "I had two epidurals. How does it compare to that?": the question asks of the story.
            sentence = message_sentence_at(low, pointing.start())[1]
            if topic.asks is None or topic.asks.search(sentence):
                out.append(topic)
                continue
        for m in topic.mention.finditer(low):
            sentence = message_sentence_at(low, m.start())[1]
            if topic.asks is None or topic.asks.search(sentence):
                out.append(topic)
                break
    return out


def _asks_findings(low: str, focus: set[str], index: Index) -> bool:
    """Whether the message asks only what the named studies found: read with their names, the
    words joining them and their years taken out ("what did the 2015 study find" -> "what did the
    study find"), so every way of naming them reads alike."""
    unnamed = _without_aliases(low, focus, index)
    unnamed = re.sub(r"(?:\bthe\s+)?(?:\b(?:and|or)\b|&|,)(?:\s+the\b)?", " ", unnamed)
    unnamed = re.sub(r"[()]|\b(?:19|20)\d\d\b", " ", unnamed)
    return bool(vocabulary().findings.search(" ".join(unnamed.split())))


def _asks_what_its_words_mean(low: str, doc_id: str, index: Index) -> bool:
    """The question defines the words a study is described by ("what is a placebo-controlled
    trial?"), rather than asking about the study they describe ("the donor cell study - what
    exactly is in the syringe?")."""
    text = name_form(low)
    for alias in index.manifest.get("aliases", {}).get(doc_id, []):
        said = re.escape(name_form(alias))
        if re.search(
            rf"\bwhat(?: \w+)? (?:is|are|does|do|s) (?:an? |the )?{said}\b|\b{said}\w* (?:mean|means|stand)",
            text,
        ):
            return True
    return False


def _named_by_its_name(low: str, doc_id: str, index: Index) -> bool:
    short = index.manifest.get("short_names", {}).get(doc_id, "")
    name = normalize(short).removeprefix("the ").split(" ")[0]  # "the clinic's" -> "clinics"
    return bool(name) and re.search(rf"\b{re.escape(name)}\b", low) is not None


def _other_studies(
    low: str, index: Index, texts: Mapping[str, object], described: str | None = None
) -> list[Topic]:
    """A study the library does not hold, named in the message. A name spelt like the study the
    learned head read in the message ("the amir del fan trial", "the petty study") is that study
    misspelt, not another one."""
    names = [n for n in unknown_studies(low, index) if not _spelt_like(n, described, index)]
    if not names:
        return []
    first = names[0]
    if first.isdigit():
        study = str(texts["other_study_year"]).format(year=first)
    else:
        study = str(texts["other_study_name"]).format(name=first.title())
    says = str(texts["other_study"]).format(study=study, studies=", ".join(_study_names(index)))
    return [Topic("other_study", re.compile(re.escape(first)), None, says)]


def _study_names(index: Index) -> list[str]:
    """The names of the studies this build holds ("Atluri", from "the Atluri study"), in the
    corpus's order: a clinic that adds a study is named with the others."""
    short = index.manifest.get("short_names", {})
    return [
        (short.get(d) or d).removeprefix("the ").split(" ")[0]
        for d, kind in index.manifest.get("doc_types", {}).items()
        if kind == "study"
    ]


def _spelt_like(name: str, doc_id: str | None, index: Index) -> bool:
    if doc_id is None or name.isdigit():
        return False
    words = {w for a in index.manifest.get("aliases", {}).get(doc_id, []) for w in a.split()}
    return any(
        name in w
        or difflib.SequenceMatcher(None, name, w).ratio() >= tuning().understanding.spelt_like
        for w in words
    )


def _without_aliases(low: str, focus: set[str], index: Index, by: str = " ") -> str:
    """``low`` with the names of the focused studies replaced (by ``by``; ``None``: each study's
    own short name, so "the donor cell trial" reads as "the Amirdelfan study")."""
    aliases = index.manifest.get("aliases", {})
    short = index.manifest.get("short_names", {})
    pairs = sorted(
        ((a, d) for d in focus for a in aliases.get(d, [])), key=lambda p: len(p[0]), reverse=True
    )
    done: set[str] = set()
    for name, doc_id in pairs:
        if by is not None:
            low = re.sub(rf"\b{re.escape(name)}\b", by, low)
        elif doc_id not in done and re.search(rf"\b{re.escape(name)}\b", low):
            # A description ("the donor cell trial") keeps its words and gains the study's name.
            canonical = short.get(doc_id, doc_id)
            if canonical.lower().removeprefix("the ").split()[0] not in name:
                low = re.sub(rf"\b{re.escape(name)}\b", f"{name} ({canonical})", low, count=1)
            done.add(doc_id)
    return re.sub(r"\s+", " ", low).strip()


def read_message(
    question: str,
    history: list[dict[str, str]],
    index: Index,
    described: str | None = None,
    *,
    texts: Mapping[str, object] | None = None,
) -> Query:
    """Everything of the :class:`Query` but its embedding (cheap: no model call). ``described``
    is the study the learned study head read in the message, used when no name is found;
    ``texts`` the engine's ``messages`` (default: the process's settings)."""
    texts = texts if texts is not None else messages(get_settings())
    vocab = vocabulary()
    # "sf36" -> "sf-36": patients drop the hyphen the corpus writes.
    corrected = index.speller.correct(re.sub(r"\b([A-Za-z]{2,})(\d{1,3})\b", r"\1-\2", question))
    standalone = standalone_question(corrected, history, index, described)
    text = _with_year_names(standalone or corrected)
    low = normalize(text)
    # Only a study or the clinic's summary narrows the search; "the studies" names no one study.
    doc_types = index.manifest.get("doc_types", {})
    focus = {d for d in named_docs(text, index) if doc_types.get(d) in ("study", "summary")}
    if not focus and not standalone and described in doc_types:
        focus = {described}
    intents = _intents(low)
    if focus and _asks_findings(low, focus, index):
        intents.add("findings")
    if "definition" in intents:
        # "what is a placebo-controlled trial?" asks for the term, not for the study it describes:
        # only a study's own name focuses a definition question.
        focus = {
            d
            for d in focus
            if _named_by_its_name(low, d, index) or not _asks_what_its_words_mean(low, d, index)
        }
    # A study's name picks the study (``focus``); its words ("the fat cell one") are not lay terms.
    expansions = _expansions(_without_aliases(low, focus, index))
    whole_topic = not (focus or "definition" in intents or vocab.topic_words.search(low))
    query = Query(
        question=question,
        text=_without_aliases(low, focus, index, by=None) if focus else text,
        standalone=standalone,
        focus=focus,
        expansions=expansions,
        intents=intents,
        uncovered=uncovered_topics(text, topics_for(index))
        + _other_studies(low, index, texts, described)
        + unreported_details(normalize(asked_part(text)), focus, index),
        whole_topic=whole_topic,
        vector=np.zeros(0, np.float32),
    )
    query.parts = [
        replace(query, text=part, intents=_intents(part), expansions=_expansions(part))
        for part in asked_parts(normalize(text))
    ]
    return query


def _intents(low: str) -> set[str]:
    """What kind of answer the (lower-case) text asks for: intents.yaml."""
    return {name for name, pattern in vocabulary().intents.items() if pattern.search(low)}


def _expansions(words: str) -> list[str]:
    """The corpus's words for the lay words of ``words`` (lay_terms.yaml)."""
    return [means for lay, means in vocabulary().lay_terms if lay.search(words)]
