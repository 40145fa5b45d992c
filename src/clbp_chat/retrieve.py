"""Hybrid retrieval: dense (Chroma) and keyword (BM25) results fused by reciprocal rank.

Dense search finds paraphrases ("did it hurt anyone" ~ "adverse events"); BM25 finds exact terms a
small embedding model blurs (study names, "CFU-F", "ODI"). Reciprocal rank fusion needs no score
calibration between the two. When a question names a study, only that study's passages (plus the
comparison and the glossary) stay in the running, so "the Pettine study" is never answered from Kumar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from clbp_chat.index import Index
from clbp_chat.text import tokenize
from clbp_chat.types import Chunk

SHARED_DOC_TYPES = ("comparison", "glossary")
CANDIDATES = 24


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved passage with the scores behind its rank."""

    chunk: Chunk
    score: float
    dense: float
    keyword: float


def named_docs(question: str, index: Index) -> set[str]:
    """Ids of the documents a question names by an alias ('pettine', 'the kumar study', ...)."""
    text = " " + re.sub(r"[^a-z0-9&' ]+", " ", question.lower()) + " "
    aliases = index.manifest.get("aliases", {})
    return {doc_id for doc_id, names in aliases.items() if any(f" {a} " in text for a in names)}


def hybrid_search(index: Index, question: str, k: int, rrf_k: int = 60) -> list[ScoredChunk]:
    """The ``k`` best passages for ``question`` by reciprocal rank fusion of dense and BM25 ranks."""
    by_id = index.chunk_by_id
    dense_hits = index.vectorstore.similarity_search_with_score(question, k=CANDIDATES)
    dense = {doc.id: 1.0 - distance for doc, distance in dense_hits}
    keyword: dict[str, float] = {}
    tokens = tokenize(question)
    if tokens:
        ids, scores = index.bm25.retrieve(
            [tokens], k=min(CANDIDATES, len(index.chunks)), show_progress=False
        )
        keyword = {
            index.chunks[int(i)].id: float(s)
            for i, s in zip(ids[0], scores[0], strict=True)
            if s > 0
        }
    fused: dict[str, float] = {}
    for ranking in (dense, keyword):
        ordered = sorted(ranking, key=ranking.get, reverse=True)
        for rank, chunk_id in enumerate(ordered):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (rrf_k + rank + 1)
    focus = named_docs(question, index)
    if focus:
        fused = {
            cid: s
            for cid, s in fused.items()
            if by_id[cid].doc_id in focus or by_id[cid].doc_type in SHARED_DOC_TYPES
        }
    best = sorted(fused, key=fused.get, reverse=True)[:k]
    return [ScoredChunk(by_id[c], fused[c], dense.get(c, 0.0), keyword.get(c, 0.0)) for c in best]


class HybridRetriever(BaseRetriever):
    """A LangChain retriever over a clbp-chat :class:`Index`.

    Example::

        from clbp_chat.config import get_settings
        from clbp_chat.index import open_index
        retriever = HybridRetriever(index=open_index(get_settings()), k=4)
        docs = retriever.invoke("Was there a placebo group?")
        docs[0].metadata["doc_id"], docs[0].metadata["score"]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: Index
    k: int = 6
    rrf_k: int = 60

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                id=hit.chunk.id,
                page_content=hit.chunk.body,
                metadata={
                    "doc_id": hit.chunk.doc_id,
                    "title": hit.chunk.title,
                    "section": hit.chunk.section,
                    "source": hit.chunk.source,
                    "score": hit.score,
                    "dense": hit.dense,
                    "keyword": hit.keyword,
                },
            )
            for hit in hybrid_search(self.index, query, self.k, self.rrf_k)
        ]
