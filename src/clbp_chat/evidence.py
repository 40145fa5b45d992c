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
from clbp_chat.text import tokenize
from clbp_chat.tuning import tuning

if TYPE_CHECKING:
    from clbp_chat.index import Index
    from clbp_chat.retrieve import ScoredChunk
    from clbp_chat.understand import Query

_HOW_MANY = re.compile(r"\bhow many (?:\w+ ){0,2}?(\w+)")
ASPECTS_FILE = Path(__file__).with_name("aspects.yaml")


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
        weight = tuning().selection.dense_weight
        return weight * np.clip(dense, 0, 1) + (1 - weight) * lexical


def _about_focus(index: Index, row: int, focus: set[str]) -> bool:
    """With a study named, a shared-document sentence must be about that study too."""
    chunk = index.chunks[index.sentences[row][0]]
    if chunk.doc_id in focus or chunk.doc_type == "glossary":
        return True
    sentence = index.sentences[row][1].lower()
    return any(name in sentence for d in focus for name in index.manifest["aliases"].get(d, []))


def _counted(text: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """For a 'how many' question: the pattern of a figure of the thing it counts ("26 patients"),
    and of a sentence saying that count is not known ("does not report how many patients")."""
    m = _HOW_MANY.search(text.lower())
    if not m:
        return None
    noun = m.group(1)
    same = [c.counted for c in tuning().counting if noun in c.asked]
    words = "|".join(map(re.escape, same[0])) if same else re.escape(noun.rstrip("s")) + r"\w*"
    figure = re.compile(rf"\b\d+(?:[.,]\d+)*\s+(?:\w+\s+)?(?:{words})\b", re.I)
    unknown = re.compile(rf"\bhow many (?:\w+\s+)?(?:{words})\b", re.I)
    return figure, unknown


def _nudges(index: Index, query: Query, rows: list[int]) -> np.ndarray:
    """Small named shifts that order what already counts as evidence (``tuning.yaml`` nudges)."""
    nudge = tuning().nudges
    not_reported = tuning().not_reported
    out = np.zeros(len(rows))
    definition = query.asks_term
    quantity = "quantity" in query.intents
    counted = _counted(query.text)
    for k, row in enumerate(rows):
        chunk_pos, sentence = index.sentences[row]
        chunk = index.chunks[chunk_pos]
        if query.focus and chunk.doc_id in query.focus:
            out[k] += nudge.focus_bonus
        if chunk.section == STRENGTH_SECTION:
            out[k] -= nudge.strength_penalty
        if chunk.doc_type == "glossary":
            out[k] += nudge.glossary_penalty if definition else -nudge.glossary_penalty
        if quantity and any(ch.isdigit() for ch in sentence):
            out[k] += nudge.quantity_bonus
        if counted and counted[0].search(sentence):
            out[k] += nudge.counted_bonus
        if any(phrase in sentence for phrase in not_reported):
            # "how many were in Atluri's groups?" where the named study gives no count: saying so
            # is the answer. Not for a question naming no study, which other studies' counts answer.
            unknown = counted and query.focus and counted[1].search(sentence)
            out[k] += (
                nudge.counted_bonus + nudge.quantity_bonus
                if unknown
                else -nudge.not_reported_penalty
            )
    return out


def select_sentences(
    index: Index,
    scorer: SentenceScorer,
    query: Query,
    hits: list[ScoredChunk],
    *,
    min_evidence: float,
    max_sentences: int,
    asked: dict[int, float],
) -> Selection:
    """The sentences that answer ``query``, best first (empty when nothing counts as evidence).
    ``asked`` is :func:`question_match` on the message as written (``Query.question_vector``)."""
    page = clinic_page_section(index, asked)
    if page is not None:
        # The clinic's answer to its own question, whole and in its order, as an overview is.
        return Selection(
            index.sentence_rows.get(page, [])[: tuning().overview.overview_sentences], asked[page]
        )
    overview = _overview(index, query, asked) or _findings(index, query)
    ranked = _ranked(index, scorer, query, hits, asked, min_evidence, max_sentences)
    if overview and not (ranked.rows and _trusted(index, overview, ranked)):
        return overview
    return ranked


def _trusted(index: Index, overview: Selection, ranked: Selection) -> bool:
    """Ranked sentences over an overview section: the question only looked like one of its
    listed questions ("out of all 4 trials, which had the most patients?" ~ "Were any of the
    trials randomized?"), and the best sentence is from another section."""
    section = index.sentences[overview.rows[0]][0]
    sure = tuning().overview.overview_sure
    return overview.best < sure and index.sentences[ranked.rows[0]][0] != section


def _ranked(
    index: Index,
    scorer: SentenceScorer,
    query: Query,
    hits: list[ScoredChunk],
    asked: dict[int, float],
    min_evidence: float,
    max_sentences: int,
) -> Selection:
    """The sentences ranked by relevance to the query (and each asked part), best first."""
    tuned = tuning().selection
    aspect_rows = _aspect_rows(index, query)
    rows = _candidate_rows(index, query, hits, aspect_rows)
    if not rows:
        return Selection([], 0.0)
    relevance = scorer.score(query.search_text, query.vector, rows)
    relevance += np.array(
        [
            tuned.question_weight
            * max(0.0, asked.get(index.sentences[r][0], 0.0) - tuned.question_floor)
            + (tuned.aspect_bonus if r in aspect_rows else 0.0)
            for r in rows
        ]
    )
    firsts = _part_answers(index, scorer, query, rows, min_evidence)
    best = max([float(relevance.max()), *(score for _, score in firsts)])
    if best < min_evidence:
        return Selection([], best)
    scores = relevance + _nudges(index, query, rows)
    chosen = _best_first(index, rows, scores, min_evidence, max_sentences)
    return Selection(_led_by(index, [row for row, _ in firsts], chosen), best)


def _part_answers(
    index: Index, scorer: SentenceScorer, query: Query, rows: list[int], min_evidence: float
) -> list[tuple[int, float]]:
    """Each asked part's own best sentence and its relevance, when it counts as evidence: the
    message ranked as a whole tends to answer its first question only ("what does allogeneic
    mean and which trial used it?"), and a second question can pull the whole below the bar."""
    out: list[tuple[int, float]] = []
    for part in query.parts:
        relevance = scorer.score(part.search_text, part.vector, rows)
        ordered = relevance + _nudges(index, part, rows)
        best = int(np.argmax(ordered))
        if ordered[best] >= min_evidence:
            out.append((rows[best], float(relevance[best])))
    return out


def _led_by(index: Index, firsts: list[int], chosen: list[int]) -> list[int]:
    """The parts' answers in the order asked, then the message's own choice, less repeats."""
    out: list[int] = []
    for row in [*firsts, *chosen]:
        if not _repeats(index, row, out):
            out.append(row)
    return out


def _candidate_rows(
    index: Index, query: Query, hits: list[ScoredChunk], aspect_rows: set[int]
) -> list[int]:
    """The sentences of the retrieved passages, the nearest sentences by meaning and those of the
    asked aspect's sections, less those a named study or the claims rule leaves out."""
    rows = [r for h in hits for r in index.sentence_rows.get(index.chunk_pos[h.chunk.id], [])]
    # Sentence-level dense search as a second candidate source: a sentence can fit a question
    # better than its passage as a whole does; each asked part brings its own nearest.
    n = tuning().selection.sentence_candidates
    for vector in [query.vector, *(part.vector for part in query.parts)]:
        nearest = np.argsort(-(index.sentence_vectors @ vector))[:n]
        rows = list(dict.fromkeys(rows + [int(r) for r in nearest]))
    rows = list(dict.fromkeys(rows + sorted(aspect_rows)))
    if query.focus:
        rows = [r for r in rows if _about_focus(index, r, query.focus)]
    if not _asks_about_claims(index, query):
        rows = [r for r in rows if index.chunks[index.sentences[r][0]].doc_type != "summary"]
    return rows


def _best_first(
    index: Index, rows: list[int], scores: np.ndarray, min_evidence: float, max_sentences: int
) -> list[int]:
    """The best-scored rows within ``near_best`` of the top, skipping near-duplicates."""
    tuned = tuning().selection
    ranked = sorted(zip(rows, scores, strict=True), key=lambda rs: rs[1], reverse=True)
    top = float(ranked[0][1])
    chosen: list[int] = []
    for row, score in ranked:
        if len(chosen) == max_sentences or score < max(min_evidence, top - tuned.near_best):
            break
        if not _repeats(index, row, chosen):
            chosen.append(row)
    return chosen


def _repeats(index: Index, row: int, chosen: list[int]) -> bool:
    """The sentence says again what one already chosen says (closer than ``duplicate_cosine``)."""
    vec = index.sentence_vectors[row]
    limit = tuning().selection.duplicate_cosine
    return any(float(vec @ index.sentence_vectors[c]) > limit for c in chosen)


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
    return (
        pos
        if sim >= tuning().overview.clinic_page_match and index.chunks[pos].doc_type == "faq"
        else None
    )


# A findings answer is the named study's own results section: certain evidence, not a ranking.
FINDINGS_RELEVANCE = 1.0


def _findings(index: Index, query: Query) -> Selection | None:
    """What named studies found, when that is all a question asks ("what did the Atluri study
    find?"): each study's results in their order, then its authors' conclusion when it has one;
    several studies share the answer's length. Ranked one by one, such a question's nearest
    sentences were the study's journal and clinic, which say its name as often."""
    types = index.manifest.get("doc_types", {})
    studies = [d for d, kind in types.items() if kind == "study" and d in query.focus]
    if "findings" not in query.intents or not studies or query.parts:
        return None
    shown = tuning().overview.overview_sentences
    each = max(1, shown // len(studies))
    rows: list[int] = []
    for study in studies:
        results, conclusion = (index.section_rows.get((study, h), []) for h in _results_sections())
        rows += results[: each - 1] + conclusion[:1] if conclusion and each > 1 else results[:each]
    return Selection(rows, FINDINGS_RELEVANCE) if rows else None


def _results_sections() -> tuple[str, str]:
    """The headings of a study's results and of its authors' conclusion (aspects.yaml)."""
    results, conclusion = _aspect_sections()["study"]["results"][:2]
    return results, conclusion


def _overview(index: Index, query: Query, asked: dict[int, float]) -> Selection | None:
    """A whole overview section when the message closely matches one of its listed questions."""
    if query.focus or query.asks_term:
        return None
    if not asked:
        return None
    tuned = tuning().overview
    sim, pos = max((s, p) for p, s in asked.items())
    if index.chunks[pos].doc_type != "comparison" or sim < tuned.overview_match:
        return None
    rows = index.sentence_rows.get(pos, [])[: tuned.overview_sentences]
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
        if float(sims[best]) >= tuned.claim_match:
            rows = [*rows, claims[best]]
    return Selection(rows, sim)
