"""Where builds live: a local folder (embedded Chroma) or a Chroma server shared by many processes.

A build is everything an app process keeps in memory: the manifest, the chunks, the answer units
with their vectors and the section questions with theirs; the chunks also go into a Chroma
collection for dense search. A build is written whole, then made live by switching one pointer, so
a reader sees either the old build or the new one, never half of each.

- ``LocalStore``: ``index_dir/builds/<name>/`` (files + ``chroma/``) and ``index_dir/CURRENT``.
- ``ServerStore``: collections on the server named after the build, and the pointer and manifests in
  one ``clbp-meta`` collection, so app processes on other machines need no shared disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clbp_chat.config import Settings
from clbp_chat.records import Chunk

COLLECTION_PREFIX = "clbp-chunks"
META_COLLECTION = "clbp-meta"
POINTER_ID = "CURRENT"
# Chroma items need a vector; the meta collection's items are records, not things to search.
_NO_VECTOR = [1.0]


@dataclass
class BuildData:
    """One build's content, as written and as read back (the chunks' vectors live in Chroma
    alone: dense search is Chroma's, so a process never reads them back)."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    sentences: list[tuple[int, str]]
    sentence_vectors: np.ndarray
    questions: list[tuple[int, str]]
    question_vectors: np.ndarray


def chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def _chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "source": chunk.source or "",
        "doc_type": chunk.doc_type,
    }


def _add_chunks(client, name: str, data: BuildData, chunk_vectors: np.ndarray) -> None:
    collection = client.get_or_create_collection(
        f"{COLLECTION_PREFIX}-{name.lower()}", metadata={"hnsw:space": "cosine"}
    )
    collection.add(
        ids=[c.id for c in data.chunks],
        documents=[c.text for c in data.chunks],
        embeddings=chunk_vectors.tolist(),
        metadatas=[_chunk_metadata(c) for c in data.chunks],
    )


class LocalStore:
    """Builds in folders under ``index_dir``; the chunks in an embedded Chroma per build."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.index_dir

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    def current(self) -> str | None:
        pointer = self.root / "CURRENT"
        if not pointer.is_file():
            return None
        name = pointer.read_text().strip()
        return name if (self.builds / name).is_dir() else None

    def manifest(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.builds / name / "manifest.json").read_text())
        except (OSError, ValueError):
            return None

    def client(self, name: str):
        import chromadb

        return chromadb.PersistentClient(
            path=str(self.builds / name / "chroma"), settings=chroma_settings()
        )

    def write(self, name: str, data: BuildData, chunk_vectors: np.ndarray) -> None:
        """Write into a hidden folder, then rename: a crash leaves no half build behind."""
        tmp = self.builds / f".tmp-{name}"
        tmp.mkdir(parents=True)
        try:
            import chromadb

            client = chromadb.PersistentClient(path=str(tmp / "chroma"), settings=chroma_settings())
            _add_chunks(client, name, data, chunk_vectors)
            del client
            _write_arrays(tmp, data)
            (tmp / "manifest.json").write_text(json.dumps(data.manifest, indent=2))
            tmp.rename(self.builds / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def publish(self, name: str) -> None:
        previous = self.current()
        pointer_tmp = self.root / "CURRENT.tmp"
        pointer_tmp.write_text(name)
        os.replace(pointer_tmp, self.root / "CURRENT")
        for old in self.builds.iterdir():
            if old.name not in {name, previous}:
                shutil.rmtree(old, ignore_errors=True)

    def read(self, name: str) -> BuildData:
        folder = self.builds / name
        manifest = json.loads((folder / "manifest.json").read_text())
        chunks = [Chunk(**c) for c in json.loads((folder / "chunks.json").read_text())]
        sentences = [
            (int(i), str(s)) for i, s in json.loads((folder / "sentences.json").read_text())
        ]
        questions = [
            (int(i), str(q)) for i, q in json.loads((folder / "questions.json").read_text())
        ]
        return BuildData(
            manifest,
            chunks,
            sentences,
            np.load(folder / "sentences.npy"),
            questions,
            np.load(folder / "questions.npy") if questions else np.zeros((0, 0), np.float32),
        )


def _write_arrays(folder: Path, data: BuildData) -> None:
    np.save(folder / "sentences.npy", data.sentence_vectors)
    if data.questions:
        np.save(folder / "questions.npy", data.question_vectors)
    (folder / "questions.json").write_text(json.dumps(data.questions))
    (folder / "sentences.json").write_text(json.dumps(data.sentences))
    (folder / "chunks.json").write_text(json.dumps([asdict(c) for c in data.chunks], indent=1))


class ServerStore:
    """Builds as collections on a Chroma server (``CLBP_CHROMA_HOST``); no local files at all."""

    def __init__(self, settings: Settings) -> None:
        import chromadb

        _heartbeat(settings)  # the client's own first calls have no timeout
        self._client = chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings()
        )
        _set_timeout(self._client, settings.store_timeout)

    def client(self, name: str):
        return self._client

    def _meta(self):
        return self._client.get_or_create_collection(META_COLLECTION)

    def current(self) -> str | None:
        got = self._meta().get(ids=[POINTER_ID], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def manifest(self, name: str) -> dict[str, Any] | None:
        got = self._meta().get(ids=[f"manifest:{name}"], include=["documents"])
        return json.loads(got["documents"][0]) if got["ids"] else None

    def write(self, name: str, data: BuildData, chunk_vectors: np.ndarray) -> None:
        """Collections first, the manifest last: a build without a manifest is never read."""
        try:
            _add_chunks(self._client, name, data, chunk_vectors)
            self._vectors(name, "sentences").add(
                ids=[f"s{i}" for i in range(len(data.sentences))],
                documents=[s for _, s in data.sentences],
                embeddings=data.sentence_vectors.tolist(),
                metadatas=[{"chunk": c} for c, _ in data.sentences],
            )
            if data.questions:
                self._vectors(name, "questions").add(
                    ids=[f"q{i}" for i in range(len(data.questions))],
                    documents=[q for _, q in data.questions],
                    embeddings=data.question_vectors.tolist(),
                    metadatas=[{"chunk": c} for c, _ in data.questions],
                )
            record = {**data.manifest, "chunks": [asdict(c) for c in data.chunks]}
            self._meta().upsert(
                ids=[f"manifest:{name}"], documents=[json.dumps(record)], embeddings=[_NO_VECTOR]
            )
        except BaseException:
            self._drop(name)
            raise

    def _vectors(self, name: str, kind: str):
        return self._client.get_or_create_collection(
            f"clbp-{kind}-{name.lower()}", metadata={"hnsw:space": "cosine"}
        )

    def publish(self, name: str) -> None:
        previous = self.current()
        self._meta().upsert(ids=[POINTER_ID], documents=[name], embeddings=[_NO_VECTOR])
        keep = {name, previous}
        for record in self._meta().get(include=[])["ids"]:
            old = record.removeprefix("manifest:")
            if record.startswith("manifest:") and old not in keep:
                self._drop(old)

    def _drop(self, name: str) -> None:
        for kind in ("chunks", "sentences", "questions"):
            # A collection that was never made is already gone.
            with contextlib.suppress(Exception):
                self._client.delete_collection(f"clbp-{kind}-{name.lower()}")
        self._meta().delete(ids=[f"manifest:{name}"])

    def read(self, name: str) -> BuildData:
        record = self.manifest(name)
        if record is None:
            raise ValueError(f"build {name} has no manifest on the server")
        chunks = [Chunk(**c) for c in record.pop("chunks")]
        sentences, sentence_vectors = self._read_vectors(name, "sentences")
        questions, question_vectors = (
            self._read_vectors(name, "questions") if record.get("question_count") else ([], None)
        )
        return BuildData(
            record,
            chunks,
            sentences,
            sentence_vectors,
            questions,
            question_vectors if question_vectors is not None else np.zeros((0, 0), np.float32),
        )

    def _read_vectors(self, name: str, kind: str) -> tuple[list[tuple[int, str]], np.ndarray]:
        got = self._vectors(name, kind).get(include=["documents", "embeddings", "metadatas"])
        order = sorted(range(len(got["ids"])), key=lambda k: int(got["ids"][k][1:]))
        rows = [(int(got["metadatas"][k]["chunk"]), got["documents"][k]) for k in order]
        vectors = np.asarray([got["embeddings"][k] for k in order], dtype=np.float32)
        return rows, vectors


def _heartbeat(settings: Settings) -> None:
    """Fail within ``store_timeout`` when the server does not answer its heartbeat."""
    import urllib.request

    url = f"http://{settings.chroma_host}:{settings.chroma_port}/api/v2/heartbeat"
    with urllib.request.urlopen(url, timeout=settings.store_timeout) as response:
        response.read()


def _set_timeout(client, seconds: float) -> None:
    """Chroma's HTTP client waits forever (httpx ``timeout=None``), so a stalled server would hang
    every request. Chroma has no setting for it; SEE: chromadb/api/fastapi.py ``httpx.Client(
    timeout=None)``. The session is found by its type, so a renamed attribute fails loudly in the
    tests rather than silently."""
    import httpx

    server = getattr(client, "_server", None)
    for value in vars(server).values() if server is not None else ():
        if isinstance(value, httpx.Client):
            value.timeout = httpx.Timeout(seconds)
            return
    raise RuntimeError("the Chroma client has no httpx session to give a timeout")


def open_store(settings: Settings) -> LocalStore | ServerStore:
    """The store the settings name: a Chroma server when ``CLBP_CHROMA_HOST`` is set."""
    return ServerStore(settings) if settings.chroma_host else LocalStore(settings)
