"""The common tutorial pipeline, for comparison: 1,000/200 recursive splits, Chroma top-4 similarity.

Same corpus and the same embedding model, so the report's ratios measure only the design.
"""

from __future__ import annotations

from langchain_core.documents import Document

from clbp_chat.config import Settings
from clbp_chat.corpus import load_corpus

BASELINE_K = 4


class TutorialBaseline:
    """Builds once, in memory; ``retrieve`` returns the doc ids of the top-4 chunks."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from clbp_chat.embeddings import embeddings_for

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        docs = [
            Document(d.body, metadata={"doc_id": d.id}) for d in load_corpus(settings.corpus_dir)
        ]
        chunks = splitter.split_documents(docs)
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(
            collection_name="tutorial-baseline",
            embedding_function=embeddings_for(settings),
            client=client,
        )
        self.store.add_documents(chunks)
        self.chunk_count = len(chunks)

    def retrieve(self, question: str) -> list[str]:
        return [d.metadata["doc_id"] for d in self.store.similarity_search(question, k=BASELINE_K)]
