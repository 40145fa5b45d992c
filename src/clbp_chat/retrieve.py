"""Hybrid retrieval: dense (Chroma) and keyword (BM25) results fused by reciprocal rank.

Dense search finds paraphrases ("did it hurt anyone" ~ "adverse events"); BM25 finds exact terms a
small embedding model blurs (study names, "CFU-F", "ODI"). Reciprocal rank fusion needs no score
calibration between them; a third ranking matches the message to the patient questions each
section lists. When a question names a study, only that study's passages (plus the
comparison and the glossary) stay in the running, so "the Pettine study" is never answered from Kumar.

The engine calls :func:`hybrid_search` with the message's one embedding and the studies it names
(both from the ``Query``); Chroma is queried through its own client, by vector. No LangChain
retriever sits in between: ``BaseRetriever.invoke`` takes a string alone, so it would embed the
message a second time and lose what understanding found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from clbp_chat.text import tokenize
from clbp_chat.tuning import tuning

if TYPE_CHECKING:
    import numpy as np

    from clbp_chat.index import Index
    from clbp_chat.records import Chunk

SHARED_DOC_TYPES = ("comparison", "glossary")


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved passage with the scores behind its rank."""

    chunk: Chunk
    score: float
    dense: float
    keyword: float


def question_match(index: Index, vector: np.ndarray) -> dict[int, float]:
    """Per chunk position, how close the message is to the patient questions its section lists.

    The embedding model was trained on paraphrase pairs, so a question matches a question far better
    than it matches a statement.
    """
    if not len(index.questions):
        return {}
    sims = index.question_vectors @ vector
    best: dict[int, float] = {}
    for (pos, _), sim in zip(index.questions, sims, strict=True):
        best[pos] = max(best.get(pos, -1.0), float(sim))
    return best


def nearest_chunks(index: Index, vector: np.ndarray, n: int) -> dict[str, float]:
    """Chunk id -> cosine similarity for the ``n`` nearest chunks by Chroma's search. Only ids and
    distances are fetched: the chunk texts are already in memory (a third of the query's time)."""
    found = index.collection.query(
        query_embeddings=vector[None, :], n_results=min(n, len(index.chunks)), include=["distances"]
    )
    return {cid: 1.0 - d for cid, d in zip(found["ids"][0], found["distances"][0], strict=True)}


def hybrid_search(
    index: Index,
    text: str,
    vector: np.ndarray,
    focus: set[str],
    k: int,
    rrf_k: int,
    asked: dict[int, float],
) -> list[ScoredChunk]:
    """The ``k`` best passages by reciprocal rank fusion of dense, BM25 and question-match ranks.

    ``vector`` is the message's one embedding: Chroma is queried by vector, never re-embedding.
    ``asked`` is :func:`question_match` on the message as written (``Query.question_vector``),
    the one the engine's routing and selection read too.
    """
    by_id = index.chunk_by_id
    candidates = tuning().retrieval.candidates
    dense = nearest_chunks(index, vector, candidates)
    by_question = {index.chunks[p].id: s for p, s in asked.items()}
    keyword: dict[str, float] = {}
    tokens = tokenize(text)
    if tokens:
        ids, scores = index.bm25.retrieve(
            [tokens], k=min(candidates, len(index.chunks)), show_progress=False
        )
        keyword = {
            index.chunks[int(i)].id: float(s)
            for i, s in zip(ids[0], scores[0], strict=True)
            if s > 0
        }
    fused: dict[str, float] = {}
    for ranking in (dense, keyword, by_question):
        ordered = sorted(ranking, key=ranking.get, reverse=True)[:candidates]
        for rank, chunk_id in enumerate(ordered):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (rrf_k + rank + 1)
    if focus:
        fused = {
            cid: s
            for cid, s in fused.items()
            if by_id[cid].doc_id in focus or by_id[cid].doc_type in SHARED_DOC_TYPES
        }
    best = sorted(fused, key=fused.get, reverse=True)[:k]
    return [ScoredChunk(by_id[c], fused[c], dense.get(c, 0.0), keyword.get(c, 0.0)) for c in best]
