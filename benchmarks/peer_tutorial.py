"""The peer for `make bench`: the common tutorial RAG service, on the same corpus and model.

Embed the question (sentence-transformers on torch, as tutorials do), Chroma similarity search k=4,
return the passages; one uvicorn worker.
Run: python benchmarks/peer_tutorial.py PORT
"""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from clbp_chat.config import get_settings
from clbp_chat.corpus import load_corpus, split_corpus
from clbp_chat.embeddings import TorchSentenceModel, resolve_model_path

state: dict = {}


class Ask(BaseModel):
    question: str


@asynccontextmanager
async def lifespan(_: FastAPI):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = get_settings()
    chunks = split_corpus(load_corpus(settings.corpus_dir), settings.chunk_size)
    model = TorchSentenceModel(resolve_model_path(settings.embedding_model))
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.create_collection("tutorial", metadata={"hnsw:space": "cosine"})
    collection.add(
        ids=[c.id for c in chunks],
        documents=[c.text for c in chunks],
        embeddings=model.encode([c.text for c in chunks]).tolist(),
    )
    state.update(model=model, collection=collection)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.post("/api/ask")
def ask(body: Ask) -> dict:
    vector = state["model"].encode([body.question])[0].tolist()
    found = state["collection"].query(query_embeddings=[vector], n_results=4)
    return {"question": body.question, "passages": found["documents"][0]}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
