"""Turn a follow-up ("How many people were in it?") into a standalone question before retrieval.

No model is needed: a follow-up that names no study but refers back ("it", "that study", "the
placebo group", or a short question that does not widen to every study) inherits the studies named
in the most recent turn that named any; a fragment ("and at 12 months?") continues the last question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clbp_chat.index import named_docs
from clbp_chat.text import tokenize

if TYPE_CHECKING:
    from clbp_chat.index import Index

_REFERENCE = re.compile(
    r"\b(?:that|this|the same|the) (?:study|trial|paper|one|research)\b|\b(?:it|its|they|them|their|those|these|there)\b",
    re.I,
)
# A reference that is the study itself ("that trial", "in it"), replaced by its name; any other
# ("did they get better", "did it last", "fight them off") stays and the name is added at the end.
_STUDY_ITSELF = re.compile(
    r"\b(?:that|this|the same|the) (?:study|trial|paper|one|research)\b"
    r"|(?:(?<=\bin )|(?<=\bof )|(?<=\bon )|(?<=\bfor )|(?<=\bfrom )|(?<=\babout )|(?<=\bwith ))it\b",
    re.I,
)
# "the placebo people", "the high dose lot", "the ones who got the cells": a group of the study
# under discussion. Not when the message widens to every study ("in all the trials").
_GROUP = re.compile(
    r"\bthe (?:[\w-]+ ){0,3}?(?:people|group|groups|patients|participants|volunteers|lot|ones|folks|arm)\b",
    re.I,
)
_WIDER = re.compile(
    r"\b(?:studies|trials|papers|all|every|each|any of|across|overall|altogether)\b", re.I
)
# "and the other studies?", "what about the rest?": every study but the ones under discussion.
_OTHERS = re.compile(
    r"\b(?:(?:the|those|any of the|all the)\s+)?(?:others|other (?:ones|studies|trials|papers|three|two)"
    r"|rest of (?:them|the studies|the trials))\b"
    r"(?=\s*(?:[?.!,;]|$|(?:and|did|do|does|were|was|had|have|how|what|any|then)\b))",
    re.I,
)
# A study described rather than named ("the one with the donor cells", "the fat one"): in a
# follow-up, the study the learned study head reads there replaces the one under discussion.
_DESCRIBED = re.compile(
    r"\bthe (?!same\b|other\b)(?:[\w-]+ ){1,6}?(?:one|study|trial|paper)\b"
    r"|\bthe one (?:with|where|that|using|from|in which|who)\b",
    re.I,
)
SHORT_FOLLOW_UP = 4  # content words; "what about safety?" has 1
# A question this short that names no study and does not widen to all of them continues the
# study under discussion ("did the bigger dose do any better", "any dropouts? side effects?").
LONGEST_FOLLOW_UP = 8
# A fragment that continues the last question ("and at 12 months?", "what about the older ones?").
_ELLIPSIS = re.compile(
    r"^\s*(?:and|or|but|what about|how about|and what about|and how about)\b", re.I
)


def _names(doc_ids: set[str], index: Index) -> str:
    short = index.manifest.get("short_names", {})
    names = sorted(short.get(d, d) for d in doc_ids)
    return " and ".join(names)


_DANGLING = re.compile(r"\b(?:on|about|for|with|of|from) (?:that|this|those|it)\s*[?.!]*\s*$", re.I)


def _inherited(history: Sequence[dict], index: Index) -> set[str]:
    """The documents a follow-up refers to: studies named in the last exchange (the patient's turn,
    then the reply: "which had a placebo?" -> "only Amirdelfan"), else in earlier patient turns;
    failing any study, the first other document named (the comparison, the glossary)."""
    users = [m for m in reversed(history) if m.get("role") == "user"]
    replies = [m for m in reversed(history) if m.get("role") == "assistant"][:1]
    named = [named_docs(str(m.get("content", "")), index) for m in users[:1] + replies + users[1:]]
    types = index.manifest.get("doc_types", {})
    for docs in named:
        if studies := {d for d in docs if types.get(d) == "study"}:
            return studies
    return next((docs for docs in named if docs), set())


def _the_others(current: set[str], index: Index) -> set[str]:
    """The studies not under discussion (``current``), when studies are (else none)."""
    types = index.manifest.get("doc_types", {})
    studies = {d for d, kind in types.items() if kind == "study"}
    return studies - current if current & studies else set()


def _switched_to(
    question: str, named: set[str], current: set[str], described: str | None
) -> str | None:
    """The study a follow-up describes (it names none), when it is not the one under discussion."""
    if described is None or named or not _DESCRIBED.search(question):
        return None
    return None if described in current else described


def _renamed(question: str, names: str, index: Index) -> str:
    """``question`` asked of ``names`` instead of the studies it names: the first name replaced,
    any other dropped ("what did the Atluri study find?" -> "what did the Amirdelfan study and
    ... find?")."""
    aliases = sorted(
        (a for d in named_docs(question, index) for a in index.manifest["aliases"].get(d, [])),
        key=len,
        reverse=True,
    )
    said = "|".join(re.escape(a) for a in aliases)
    if not said:
        return f"{question.rstrip(' ?.!')} in {names}?"
    pattern = re.compile(rf"\b(?:the )?(?:{said})(?: (?:study|trial|paper))?\b", re.I)
    question = pattern.sub(names, question, count=1)
    question = pattern.sub("", question)
    return re.sub(r"\s+", " ", question).strip()


def standalone_question(
    question: str, history: Sequence[dict], index: Index, described: str | None = None
) -> str | None:
    """The rewritten question, or None when ``question`` already stands on its own.
    ``described`` is the study the learned study head reads in the message, if any."""
    if not history:
        return None
    last = next((m for m in reversed(history) if m.get("role") == "user"), None)
    named = named_docs(question, index)
    current = _inherited(history, index)
    switched = _switched_to(question, named, current, described)
    if switched:
        # "and the one with the donor cells, how long was that?" after the Atluri study.
        rest = _DESCRIBED.sub("", _ELLIPSIS.sub("", question))
        if last and len(tokenize(rest)) <= 1:
            return _renamed(str(last.get("content", "")), _names({switched}, index), index)
        return f"{question.rstrip(' ?.!')} ({_names({switched}, index)})?"
    others = _OTHERS.search(question)
    if others and not (named - current) and (studies := _the_others(current, index)):
        # "and the other three, how many did they have?" after the Kumar study: the other studies;
        # "and the others?" alone asks the last question of them.
        names = _names(studies, index)
        rest = question[: others.start()] + question[others.end() :]
        if last and not tokenize(_ELLIPSIS.sub("", rest)):
            return _renamed(str(last.get("content", "")), names, index)
        return question[: others.start()] + names + question[others.end() :]
    if named:
        # "and the pettine numbers on that?": the study is named, the topic is in the last turn.
        if last and _DANGLING.search(question):
            return f"{_DANGLING.sub('', question).rstrip(' ?.!')}: {last['content']}"
        return None
    words = len(tokenize(question))
    if last and _ELLIPSIS.search(question) and words <= SHORT_FOLLOW_UP:
        # "and at 12 months?" after "what were the scores before?": the last question, continued.
        asked = f"{str(last.get('content', '')).rstrip()} {question}"
        return asked if named_docs(asked, index) else standalone_question(asked, history, index)
    referring = _REFERENCE.search(question)
    group = _GROUP.search(question) and not _WIDER.search(question)
    narrow = words <= LONGEST_FOLLOW_UP and not _WIDER.search(question)
    if not referring and not group and not narrow and words > SHORT_FOLLOW_UP:
        return None
    if not current:
        return None
    name = _names(current, index)
    itself = _STUDY_ITSELF.search(question)
    if itself:
        return question[: itself.start()] + name + question[itself.end() :]
    return f"{question.rstrip(' ?.!')} in {name}?"
