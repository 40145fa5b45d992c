"""Select the corpus sentences that answer a query, best first.

Relevance of a sentence blends dense similarity to the message with IDF-weighted overlap of its
content words (lay words already mapped to corpus words), plus how well the message matches the
patient questions its section lists. Small named nudges then order what already counts as evidence:
the named study first, definitions from the glossary for "what is" questions, the sentence with a
figure for "how many" questions. When the message matches an overview section's questions closely
("does it work?"), or is one of the questions a clinic page lists, that section is the answer, read
in its own order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from clbp_chat.corpus import STRENGTH_SECTION
from clbp_chat.retrieve import question_match
from clbp_chat.text import tokenize

if TYPE_CHECKING:
    from clbp_chat.index import Index
    from clbp_chat.retrieve import ScoredChunk
    from clbp_chat.understand import Query

DENSE_WEIGHT = 0.6
SENTENCE_CANDIDATES = 12
# Question match adds to relevance above this floor; a close match to a section's listed question
# is strong evidence that the section answers the message.
QUESTION_FLOOR = 0.5
QUESTION_WEIGHT = 0.7
# A match this close to an overview section's questions makes that whole section the answer.
OVERVIEW_MATCH = 0.62
OVERVIEW_SENTENCES = 5
# An overview answer also quotes the clinic's own claim on the same point, when there is one this
# close to the message, so the patient sees the claim beside what the studies found.
CLAIM_MATCH = 0.5
# A message this close to a question a clinic page (type faq) lists, and closer to it than to any
# other section's, is put to that page, whatever a not-covered topic or the learned router would
# say: the clinic wrote the page to answer it. Paraphrases of an example page's questions ("can i
# drive after the procedure", "what do i need to bring") scored 0.60-0.77 against them; none of
# the 110 messages of the patient dev set came above 0.53.
CLINIC_PAGE_MATCH = 0.6
FOCUS_BONUS = 0.1
STRENGTH_PENALTY = 0.12
GLOSSARY_PENALTY = 0.12
QUANTITY_BONUS = 0.08
NOT_REPORTED_PENALTY = 0.05
# "How many people…": the unit that gives a figure for that very thing ("26 patients") first.
COUNTED_BONUS = 0.12
_HOW_MANY = re.compile(r"\bhow many (?:\w+ ){0,2}?(\w+)")
_PEOPLE = "patients|people|participants"
_PLACES = "sites|places|centres|centers|hospitals|clinics?"
_SAME_COUNT = {
    **dict.fromkeys(["people", "patients", "participants", "ppl", "persons"], _PEOPLE),
    # "how many were in it": the verb stands where the noun would, and people are meant.
    **dict.fromkeys(["were", "was", "are", "took", "joined", "got", "had", "in", "of"], _PEOPLE),
    **dict.fromkeys(["places", "sites", "centres", "centers", "hospitals", "clinics"], _PLACES),
}
# The sections that answer what the question asks about (aspects.yaml): writers' labels say they
# answer it, so their sentences gain this much relevance (evidence as well as order).
ASPECT_BONUS = 0.05
ASPECTS_FILE = Path(__file__).with_name("aspects.yaml")
NEAR_BEST = 0.15
DUPLICATE_COSINE = 0.9


@dataclass(frozen=True)
class Selection:
    """Chosen sentence rows, best first, and the relevance of the best one."""

    rows: list[int]
    best: float


class SentenceScorer:
    """Relevance of corpus sentences to a query; IDF is computed once per index."""

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

    def score(self, text: str, vector: np.ndarray, rows: list[int]) -> np.ndarray:
        """A 0-1 relevance per sentence row; words the corpus never uses carry no weight."""
        dense = self.index.sentence_vectors[rows] @ vector
        weights = {t: self._idf[t] for t in set(tokenize(text)) if t in self._idf}
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


def _counted(text: str) -> re.Pattern[str] | None:
    """The pattern of a figure of the thing a 'how many' question counts, if it asks one."""
    m = _HOW_MANY.search(text.lower())
    if not m:
        return None
    noun = m.group(1)
    words = _SAME_COUNT.get(noun, re.escape(noun.rstrip("s")) + r"\w*")
    return re.compile(rf"\b\d+(?:[.,]\d+)*\s+(?:\w+\s+)?(?:{words})\b", re.I)


def _nudges(index: Index, query: Query, rows: list[int]) -> np.ndarray:
    out = np.zeros(len(rows))
    definition = "definition" in query.intents
    quantity = "quantity" in query.intents
    counted = _counted(query.text)
    for k, row in enumerate(rows):
        chunk_pos, sentence = index.sentences[row]
        chunk = index.chunks[chunk_pos]
        if query.focus and chunk.doc_id in query.focus:
            out[k] += FOCUS_BONUS
        if chunk.section == STRENGTH_SECTION:
            out[k] -= STRENGTH_PENALTY
        if chunk.doc_type == "glossary":
            out[k] += GLOSSARY_PENALTY if definition else -GLOSSARY_PENALTY
        if quantity and any(ch.isdigit() for ch in sentence):
            out[k] += QUANTITY_BONUS
        if counted and counted.search(sentence):
            out[k] += COUNTED_BONUS
        if "does not report" in sentence or "does not list" in sentence:
            out[k] -= NOT_REPORTED_PENALTY
    return out


def select_sentences(
    index: Index,
    scorer: SentenceScorer,
    query: Query,
    hits: list[ScoredChunk],
    *,
    min_evidence: float,
    max_sentences: int,
    asked: dict[int, float] | None = None,
) -> Selection:
    """The sentences that answer ``query``, best first (empty when nothing counts as evidence)."""
    if asked is None:
        asked = question_match(index, query.vector)
    page = clinic_page_section(index, asked)
    if page is not None:
        # The clinic's answer to its own question, whole and in its order, as an overview is.
        return Selection(index.sentence_rows.get(page, [])[:OVERVIEW_SENTENCES], asked[page])
    overview = _overview(index, query, asked)
    if overview:
        return overview
    rows = [r for h in hits for r in index.sentence_rows.get(index.chunk_pos[h.chunk.id], [])]
    # Sentence-level dense search as a second candidate source: a sentence can fit a question
    # better than its passage as a whole does.
    dense = index.sentence_vectors @ query.vector
    rows = list(dict.fromkeys(rows + [int(r) for r in np.argsort(-dense)[:SENTENCE_CANDIDATES]]))
    aspect_rows = _aspect_rows(index, query)
    rows = list(dict.fromkeys(rows + sorted(aspect_rows)))
    if query.focus:
        rows = [r for r in rows if _about_focus(index, r, query.focus)]
    if not _asks_about_claims(index, query):
        rows = [r for r in rows if index.chunks[index.sentences[r][0]].doc_type != "summary"]
    if not rows:
        return Selection([], 0.0)
    relevance = scorer.score(query.search_text, query.vector, rows)
    relevance += np.array(
        [
            QUESTION_WEIGHT * max(0.0, asked.get(index.sentences[r][0], 0.0) - QUESTION_FLOOR)
            + (ASPECT_BONUS if r in aspect_rows else 0.0)
            for r in rows
        ]
    )
    best = float(relevance.max())
    if best < min_evidence:
        return Selection([], best)
    scores = relevance + _nudges(index, query, rows)
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
    return Selection(chosen, best)


@lru_cache(maxsize=1)
def _aspect_sections() -> dict[str, dict[str, list[str]]]:
    return yaml.safe_load(ASPECTS_FILE.read_text(encoding="utf-8"))


def study_docs() -> dict[str, str]:
    """The learned study head's labels and the doc ids they stand for (aspects.yaml)."""
    return dict(_aspect_sections().get("studies", {}))


def _aspect_rows(index: Index, query: Query) -> set[int]:
    """Sentence rows of the sections that answer the question's aspect, for the named studies
    (or the comparison when it names none)."""
    if not query.aspect:
        return set()
    table = _aspect_sections()
    types = index.manifest.get("doc_types", {})
    studies = {d for d in query.focus if types.get(d) == "study"}
    headings = set(table["study" if studies else "overall"].get(query.aspect, []))
    if not headings or (query.focus and not studies):
        return set()
    out: set[int] = set()
    for pos, chunk in enumerate(index.chunks):
        wanted = chunk.doc_id in studies if studies else chunk.doc_type == "comparison"
        if wanted and chunk.section in headings:
            out.update(index.sentence_rows.get(pos, []))
    return out


def _asks_about_claims(index: Index, query: Query) -> bool:
    """The clinic's own words are quoted when asked about; otherwise the studies' plain sentences
    (which say the same things, with their limits) answer."""
    types = index.manifest.get("doc_types", {})
    return "claim" in query.intents or any(types.get(d) == "summary" for d in query.focus)


def clinic_page_section(index: Index, asked: dict[int, float]) -> int | None:
    """The clinic page passage whose listed question the message is, in other words; None when
    the message is not one of a clinic page's questions."""
    if not asked:
        return None
    sim, pos = max((s, p) for p, s in asked.items())
    return pos if sim >= CLINIC_PAGE_MATCH and index.chunks[pos].doc_type == "faq" else None


def _overview(index: Index, query: Query, asked: dict[int, float]) -> Selection | None:
    """A whole overview section when the message closely matches one of its listed questions."""
    if query.focus or "definition" in query.intents:
        return None
    if not asked:
        return None
    sim, pos = max((s, p) for p, s in asked.items())
    if index.chunks[pos].doc_type != "comparison" or sim < OVERVIEW_MATCH:
        return None
    rows = index.sentence_rows.get(pos, [])[:OVERVIEW_SENTENCES]
    if not rows:
        return None
    claims = [
        r
        for r, (chunk_pos, _) in enumerate(index.sentences)
        if index.chunks[chunk_pos].doc_type == "summary" and _asks_about_claims(index, query)
    ]
    if claims:
        sims = index.sentence_vectors[claims] @ query.vector
        best = int(np.argmax(sims))
        if float(sims[best]) >= CLAIM_MATCH:
            rows = [*rows, claims[best]]
    return Selection(rows, sim)
