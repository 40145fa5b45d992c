"""Details one study's summary does not give: "how old were the people in the Kumar study?"

Quoting the Kumar study's other facts to that is not an answer; saying the library does not give
its ages is. The details, the words that ask for them and the words that would answer them are in
``unreported.yaml`` for a clinician to review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from clbp_chat.not_covered import Topic

if TYPE_CHECKING:
    from clbp_chat.index import Index

DETAILS_FILE = Path(__file__).with_name("unreported.yaml")


@dataclass(frozen=True)
class Detail:
    name: str
    asks: re.Pattern[str]
    found: re.Pattern[str]
    what: str


@lru_cache(maxsize=1)
def details() -> tuple[Detail, ...]:
    data = yaml.safe_load(DETAILS_FILE.read_text(encoding="utf-8"))
    return tuple(
        Detail(name, re.compile(spec["asks"]), re.compile(spec["found"]), spec["what"])
        for name, spec in data.items()
    )


def unreported_details(low: str, focus: set[str], index: Index) -> list[Topic]:
    """The details ``low`` (the lower-cased question) asks of its one named study that none of
    that study's sentences give, each as a topic whose sentence says so."""
    types = index.manifest.get("doc_types", {})
    studies = [d for d in focus if types.get(d) == "study"]
    if len(studies) != 1:
        return []
    asked = [d for d in details() if d.asks.search(low)]
    if not asked:
        return []
    said = _study_text(index, studies[0])
    name = index.manifest.get("short_names", {}).get(studies[0], studies[0])
    return [
        Topic(
            f"unreported_{d.name}",
            d.asks,
            None,
            f"Our library's summary of {name} does not say {d.what}.",
        )
        for d in asked
        if not d.found.search(said)
    ]


def _study_text(index: Index, doc_id: str) -> str:
    """The study's own sentences and the shared documents' sentences that name it, lower-cased."""
    names = index.manifest.get("aliases", {}).get(doc_id, [])
    out = []
    for chunk_pos, sentence in index.sentences:
        chunk = index.chunks[chunk_pos]
        low = sentence.lower()
        if chunk.doc_id == doc_id or (
            chunk.doc_type in ("comparison", "summary") and any(n in low for n in names)
        ):
            out.append(low)
    return " ".join(out)
