"""Compose the extractive answer: the selected corpus sentences, each cited to its passage.

It cannot state what the corpus does not say. Sentences come best first; the clinic's summary is
quoted and attributed, never restated as fact; and every study the answer draws on brings its own
"How strong is this evidence?" section in full (the comparison and the clinic's summary bring the
overall one), cited like any other sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from clbp_chat.corpus import EVIDENCE_TYPES, STRENGTH_SECTION
from clbp_chat.index import Index
from clbp_chat.records import Chunk, Citation
from clbp_chat.text import split_sentences
from clbp_chat.tuning import tuning

OVERALL_STRENGTH = ("study-comparison", "How strong is the evidence overall?")


@dataclass(frozen=True)
class Composition:
    """An extractive answer (empty text and no citations when there is no evidence)."""

    text: str
    citations: list[Citation]

    @property
    def has_evidence(self) -> bool:
        return bool(self.citations)


class _Citations:
    """Numbers passages in the order the answer first cites them."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.by_chunk: dict[str, Citation] = {}

    def cite(self, chunk: Chunk) -> int:
        if chunk.id not in self.by_chunk:
            self.by_chunk[chunk.id] = Citation(
                n=len(self.by_chunk) + 1,
                doc_id=chunk.doc_id,
                title=chunk.title,
                section=chunk.section,
                quote=chunk.body,
                source=chunk.source,
                chunk_id=chunk.id,
                sources=() if chunk.source else self._primary_sources(chunk),
            )
        return self.by_chunk[chunk.id].n

    def _primary_sources(self, chunk: Chunk) -> tuple[str, ...]:
        """The papers a comparison passage names, so every citation leads to a primary source."""
        manifest = self.index.manifest
        text = chunk.body.lower()
        return tuple(
            url
            for doc_id, url in manifest.get("sources", {}).items()
            if manifest.get("doc_types", {}).get(doc_id) == "study"
            and any(
                re.search(rf"\b{re.escape(name)}\b", text)
                for name in manifest["aliases"].get(doc_id, [])
                if len(name) > 4
            )
        )


def _strength_sections(
    used: list[Chunk], focus: set[str], doc_types: dict[str, str]
) -> list[tuple[str, str]]:
    """The strength sections an answer built from ``used`` must carry: each study's own, or the
    overall one when the answer is about the studies together or the clinic's claims."""
    studies = [c.doc_id for c in used if c.doc_type == "study"]
    studies = list(dict.fromkeys(studies + sorted(d for d in focus if doc_types.get(d) == "study")))
    broad = any(c.doc_type == "summary" for c in used) or not studies
    if broad or len(studies) > tuning().composition.max_study_strengths:
        return [OVERALL_STRENGTH] if any(c.doc_type in EVIDENCE_TYPES for c in used) else []
    return [(doc_id, STRENGTH_SECTION) for doc_id in studies]


def _cited(unit: str, n: int) -> str:
    """Every sentence of a unit carries its marker (a unit may hold two short sentences)."""
    return " ".join(f"{sentence} [{n}]" for sentence in split_sentences(unit))


def compose_answer(
    index: Index, rows: list[int], focus: set[str], *, texts: Mapping[str, object]
) -> Composition:
    """Cite and join the chosen sentence rows, then the evidence-strength sections; ``texts``
    (``messages``) gives the summary's lead and the strength heading."""
    if not rows:
        return Composition("", [])
    citations = _Citations(index)
    lines: list[str] = []
    used: list[Chunk] = []
    for row in rows:
        chunk = index.chunks[index.sentences[row][0]]
        sentence = index.sentences[row][1]
        if chunk.doc_type == "summary":
            sentence = f"{texts['summary_lead']} “{sentence.rstrip(' .')}.”"
        lines.append(_cited(sentence, citations.cite(chunk)))
        used.append(chunk)
    strength = []
    chosen = set(rows)
    for key in _strength_sections(used, focus, index.manifest.get("doc_types", {})):
        section_rows = [r for r in index.section_rows.get(key, []) if r not in chosen]
        for row in section_rows:
            chunk = index.chunks[index.sentences[row][0]]
            strength.append(_cited(index.sentences[row][1], citations.cite(chunk)))
    text = " ".join(lines)
    if strength:
        text += f"\n\n**{texts['strength_heading']}** " + " ".join(strength)
    return Composition(text, list(citations.by_chunk.values()))
