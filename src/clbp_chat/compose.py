"""The extractive composer: answers are the corpus's own sentences, each cited to its passage.

It cannot state what the corpus does not say. For each candidate sentence (from the retrieved
passages) it scores relevance as a blend of dense similarity to the question and IDF-weighted overlap
of the question's content words; it keeps the best few, orders them as they stand in their documents,
and adds, for every study it draws on, that study's own "How strong is this evidence?" sentence,
cited like any other. The clinic's summary is quoted and attributed, never restated as fact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from clbp_chat.corpus import STRENGTH_SECTION
from clbp_chat.index import Index
from clbp_chat.retrieve import ScoredChunk, named_docs
from clbp_chat.text import tokenize
from clbp_chat.types import Chunk, Citation

DENSE_WEIGHT = 0.6
FOCUS_BONUS = 0.1
SENTENCE_CANDIDATES = 12
# The strength line is appended for every study used, so it need not win a place in the answer;
# glossary definitions answer "what is X?" questions, not questions that merely use the word.
STRENGTH_PENALTY = 0.12
GLOSSARY_PENALTY = 0.12
QUANTITY_BONUS = 0.06
_DEFINITION = re.compile(
    r"\b(?:what (?:is|are|does|do)|mean\w*|defin\w*|stand for|what's|whats)\b", re.I
)
_QUANTITY = re.compile(
    r"\b(?:how (?:many|much|long|old|big|often)|what (?:percentage|number|dose))\b", re.I
)
_FIGURE = re.compile(r"\d|does not report")
NEAR_BEST = 0.15
DUPLICATE_COSINE = 0.9
OVERALL_STRENGTH_DOC = "study-comparison"
OVERALL_STRENGTH_SECTION = "How strong is the evidence overall?"
SUMMARY_LEAD = "The clinic's summary says:"
STRENGTH_LEAD = "How strong is this evidence?"


@dataclass(frozen=True)
class Composition:
    """An extractive answer (empty text and no citations when there is no evidence)."""

    text: str
    citations: list[Citation]
    best_score: float

    @property
    def has_evidence(self) -> bool:
        return bool(self.citations)


class SentenceScorer:
    """Relevance of corpus sentences to a question; IDF is computed once per index."""

    def __init__(self, index: Index) -> None:
        self.index = index

    @cached_property
    def _sentence_tokens(self) -> list[set[str]]:
        return [set(tokenize(s)) for _, s in self.index.sentences]

    @cached_property
    def _idf(self) -> dict[str, float]:
        n = len(self._sentence_tokens)
        df: dict[str, int] = {}
        for tokens in self._sentence_tokens:
            for t in tokens:
                df[t] = df.get(t, 0) + 1
        return {t: math.log(1 + n / d) for t, d in df.items()}

    @cached_property
    def _unknown_idf(self) -> float:
        return max(self._idf.values(), default=1.0)

    def score(self, question: str, question_vector: np.ndarray, rows: list[int]) -> np.ndarray:
        """A 0-1 relevance per sentence row."""
        dense = self.index.sentence_vectors[rows] @ question_vector
        q_tokens = set(tokenize(question))
        weights = {t: self._idf.get(t, self._unknown_idf) for t in q_tokens}
        total = sum(weights.values())
        lexical = np.array(
            [
                sum(w for t, w in weights.items() if t in self._sentence_tokens[r]) / total
                if total
                else 0.0
                for r in rows
            ]
        )
        return DENSE_WEIGHT * np.clip(dense, 0, 1) + (1 - DENSE_WEIGHT) * lexical


def _about_focus(index: Index, row: int, focus: set[str]) -> bool:
    """With a study named, a shared-document sentence must be about that study too."""
    chunk = index.chunks[index.sentences[row][0]]
    if chunk.doc_id in focus or chunk.doc_type == "glossary":
        return True
    sentence = index.sentences[row][1].lower()
    return any(name in sentence for d in focus for name in index.manifest["aliases"].get(d, []))


def _adjustments(index: Index, question: str, rows: list[int], focus: set[str]) -> np.ndarray:
    """Small, named nudges on top of relevance; each one is explained where it is defined."""
    definition = bool(_DEFINITION.search(question))
    quantity = bool(_QUANTITY.search(question))
    out = np.zeros(len(rows))
    for k, row in enumerate(rows):
        chunk_pos, sentence = index.sentences[row]
        chunk = index.chunks[chunk_pos]
        if focus and chunk.doc_id in focus:
            out[k] += FOCUS_BONUS
        if chunk.section == STRENGTH_SECTION:
            out[k] -= STRENGTH_PENALTY
        if chunk.doc_type == "glossary":
            out[k] += GLOSSARY_PENALTY if definition else -GLOSSARY_PENALTY
        if quantity and _FIGURE.search(sentence):
            out[k] += QUANTITY_BONUS
    return out


def _strength_sentence(index: Index, doc_id: str, section: str) -> tuple[Chunk, str] | None:
    for pos, chunk in enumerate(index.chunks):
        if chunk.doc_id == doc_id and chunk.section == section:
            rows = index.sentence_rows.get(pos, [])
            return (chunk, index.sentences[rows[0]][1]) if rows else None
    return None


def compose_answer(
    index: Index,
    scorer: SentenceScorer,
    question: str,
    question_vector: np.ndarray,
    hits: list[ScoredChunk],
    *,
    min_evidence: float,
    max_sentences: int,
) -> Composition:
    """Pick, order and cite the corpus sentences that answer ``question``."""
    rows = [r for h in hits for r in index.sentence_rows.get(index.chunk_pos[h.chunk.id], [])]
    # Sentence-level dense search as a second candidate source: a sentence can fit a question
    # better than its passage as a whole does.
    dense = index.sentence_vectors @ question_vector
    rows = list(dict.fromkeys(rows + [int(r) for r in np.argsort(-dense)[:SENTENCE_CANDIDATES]]))
    if not rows:
        return Composition("", [], 0.0)
    focus = named_docs(question, index)
    if focus:
        rows = [r for r in rows if _about_focus(index, r, focus)]
        if not rows:
            return Composition("", [], 0.0)
    relevance = scorer.score(question, question_vector, rows)
    # Evidence is judged on relevance alone; the nudges only order what already counts as evidence.
    best = float(relevance.max())
    if best < min_evidence:
        return Composition("", [], best)
    scores = relevance + _adjustments(index, question, rows, focus)
    ranked = sorted(zip(rows, scores, strict=True), key=lambda rs: rs[1], reverse=True)
    top = float(ranked[0][1])

    chosen: list[int] = []
    for row, score in ranked:
        if len(chosen) == max_sentences or score < max(min_evidence, top - NEAR_BEST):
            break
        vec = index.sentence_vectors[row]
        if any(float(vec @ index.sentence_vectors[c]) > DUPLICATE_COSINE for c in chosen):
            continue
        chosen.append(row)

    doc_rank = {}
    for row in chosen:
        doc_rank.setdefault(index.chunks[index.sentences[row][0]].doc_id, len(doc_rank))
    chosen.sort(key=lambda r: (doc_rank[index.chunks[index.sentences[r][0]].doc_id], r))

    citations: dict[str, Citation] = {}

    def cite(chunk: Chunk) -> int:
        if chunk.id not in citations:
            citations[chunk.id] = Citation(
                n=len(citations) + 1,
                doc_id=chunk.doc_id,
                title=chunk.title,
                section=chunk.section,
                quote=chunk.body,
                source=chunk.source,
                chunk_id=chunk.id,
            )
        return citations[chunk.id].n

    lines = []
    for row in chosen:
        chunk = index.chunks[index.sentences[row][0]]
        sentence = index.sentences[row][1]
        if chunk.doc_type == "summary":
            sentence = f"{SUMMARY_LEAD} “{sentence.rstrip(' .')}.”"
        lines.append(f"{sentence} [{cite(chunk)}]")

    strength_lines = []
    used = {index.chunks[index.sentences[r][0]] for r in chosen}
    for doc_id in doc_rank:
        doc_type = next(c.doc_type for c in used if c.doc_id == doc_id)
        if doc_type == "study":
            found = _strength_sentence(index, doc_id, STRENGTH_SECTION)
        elif doc_type == "summary":
            found = _strength_sentence(index, OVERALL_STRENGTH_DOC, OVERALL_STRENGTH_SECTION)
        else:
            continue
        if found and found[0] not in used and f"{found[1]}" not in "".join(strength_lines):
            strength_lines.append(f"{found[1]} [{cite(found[0])}]")
    text = " ".join(lines)
    if strength_lines:
        text += f"\n\n**{STRENGTH_LEAD}** " + " ".join(strength_lines)
    return Composition(text, list(citations.values()), best)
