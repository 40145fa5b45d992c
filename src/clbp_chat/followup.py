"""Turn a follow-up ("How many people were in it?") into a standalone question before retrieval.

No model is needed: a follow-up that names no study but refers back ("it", "that study", or a short
question with no subject) inherits the studies named in the most recent turn that named any.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clbp_chat.index import Index
from clbp_chat.retrieve import named_docs
from clbp_chat.text import tokenize

_REFERENCE = re.compile(
    r"\b(?:that|this|the same|the) (?:study|trial|paper|one|research)\b|\b(?:it|its|they|them|their|those|these|there)\b",
    re.I,
)
SHORT_FOLLOW_UP = 4  # content words; "what about safety?" has 1


def _names(doc_ids: set[str], index: Index) -> str:
    short = index.manifest.get("short_names", {})
    names = sorted(short.get(d, d) for d in doc_ids)
    return " and ".join(names)


_DANGLING = re.compile(r"\b(?:on|about|for|with|of|from) (?:that|this|those|it)\s*[?.!]*\s*$", re.I)


def standalone_question(question: str, history: Sequence[dict], index: Index) -> str | None:
    """The rewritten question, or None when ``question`` already stands on its own."""
    if not history:
        return None
    if named_docs(question, index):
        # "and the pettine numbers on that?": the study is named, the topic is in the last turn.
        last = next((m for m in reversed(history) if m.get("role") == "user"), None)
        if last and _DANGLING.search(question):
            return f"{_DANGLING.sub('', question).rstrip(' ?.!')}: {last['content']}"
        return None
    referring = _REFERENCE.search(question)
    if not referring and len(tokenize(question)) > SHORT_FOLLOW_UP:
        return None
    turns = [m for m in reversed(history) if m.get("role") == "user"]
    turns += [m for m in reversed(history) if m.get("role") == "assistant"][:1]
    for turn in turns:
        docs = named_docs(str(turn.get("content", "")), index)
        studies = {d for d in docs if index.manifest.get("doc_types", {}).get(d) == "study"}
        if studies or docs:
            name = _names(studies or docs, index)
            break
    else:
        return None
    if referring:
        return question[: referring.start()] + name + question[referring.end() :]
    return f"{question.rstrip(' ?.!')} in {name}?"
