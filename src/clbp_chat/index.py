"""Build and open the index: a Chroma collection, a BM25 index and sentence vectors over one chunk set.

Layout of ``index_dir``::

    CURRENT               name of the live build (replaced atomically with os.replace)
    builds/<name>/        manifest.json, chunks.json, sentences.json, sentences.npy, bm25/, chroma/

A build is written into a fresh folder and made live only when complete, so a crash mid-build leaves
the previous index serving. The build before the live one is kept (a running server may still hold
it open); older ones are removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from clbp_chat.config import Settings
from clbp_chat.corpus import corpus_hash, load_corpus, split_corpus
from clbp_chat.errors import IndexMissing
from clbp_chat.spelling import Speller
from clbp_chat.text import split_statements, tokenize, words
from clbp_chat.types import Chunk

FORMAT_VERSION = 4
COLLECTION_PREFIX = "clbp-chunks"


@dataclass(frozen=True)
class BuildReport:
    """What ``ingest`` did, for the CLI to print."""

    built: bool
    chunk_count: int
    sentence_count: int
    path: Path
    seconds: float
    manifest: dict[str, Any]


@dataclass
class Index:
    """A loaded index: everything retrieval and composition need, read once per process."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    sentences: list[tuple[int, str]]
    sentence_vectors: np.ndarray
    bm25: Any
    vectorstore: Any
    path: Path
    questions: list[tuple[int, str]] = field(default_factory=list)
    question_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __post_init__(self) -> None:
        self.chunk_by_id: dict[str, Chunk] = {c.id: c for c in self.chunks}
        self.chunk_pos: dict[str, int] = {c.id: i for i, c in enumerate(self.chunks)}
        self.sentence_rows: dict[int, list[int]] = {}
        for row, (chunk_pos, _) in enumerate(self.sentences):
            self.sentence_rows.setdefault(chunk_pos, []).append(row)
        self.speller = Speller(self.manifest.get("vocabulary", []))
        self.section_rows: dict[tuple[str, str], list[int]] = {}
        for pos, chunk in enumerate(self.chunks):
            key = (chunk.doc_id, chunk.section)
            self.section_rows.setdefault(key, []).extend(self.sentence_rows.get(pos, []))

    def use_english(self, english: frozenset[str]) -> None:
        """Spare these real words from spelling correction (see spelling.english_words)."""
        self.speller = Speller(self.manifest.get("vocabulary", []), english)


def chroma_client(settings: Settings, path: Path):
    """An embedded PersistentClient, or an HttpClient when ``CLBP_CHROMA_HOST`` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    return chromadb.PersistentClient(path=str(path / "chroma"), settings=chroma_settings)


def _vectorstore(settings: Settings, path: Path, collection: str, embeddings):
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=collection,
        embedding_function=embeddings,
        client=chroma_client(settings, path),
        collection_metadata={"hnsw:space": "cosine"},
    )


def _expected(settings: Settings) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "corpus_hash": corpus_hash(settings.corpus_dir),
        "model": settings.embedding_model,
        "chunk_size": settings.chunk_size,
        "chroma_host": settings.chroma_host,
    }


def current_build(index_dir: Path) -> Path | None:
    """The live build folder, or None when there is none."""
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    build = index_dir / "builds" / pointer.read_text().strip()
    return build if build.is_dir() else None


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live build's manifest, or None when missing or unreadable."""
    build = current_build(index_dir)
    if build is None:
        return None
    try:
        return json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def is_up_to_date(settings: Settings) -> bool:
    """True when the live build matches the corpus and the settings that shape it."""
    manifest = read_manifest(settings.index_dir)
    if manifest is None:
        return False
    return all(manifest.get(k) == v for k, v in _expected(settings).items())


def _progress(total: int, desc: str, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="text", disable=not show, file=sys.stderr)


def build_index(settings: Settings, *, force: bool = False, progress: bool = True) -> BuildReport:
    """(Re)build the index from the corpus; a no-op when it is already up to date and not forced.

    The corpus is validated before anything is written, so a bad file leaves the live index as it was.
    """
    start = time.perf_counter()
    docs = load_corpus(settings.corpus_dir)
    if not force and is_up_to_date(settings):
        manifest = read_manifest(settings.index_dir) or {}
        return BuildReport(
            False,
            manifest.get("chunk_count", 0),
            manifest.get("sentence_count", 0),
            current_build(settings.index_dir) or settings.index_dir,
            time.perf_counter() - start,
            manifest,
        )
    from clbp_chat.embeddings import get_embeddings

    chunks = split_corpus(docs, settings.chunk_size)
    sentences = [(i, s) for i, c in enumerate(chunks) for s in split_statements(c.body)]
    questions = _section_questions(docs, chunks)
    embeddings = get_embeddings(settings.embedding_model)

    expected = _expected(settings)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{expected['corpus_hash'][:8]}"
    builds = settings.index_dir / "builds"
    tmp = builds / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        bar = _progress(len(chunks) + len(sentences), "Embedding", progress)
        chunk_vectors = []
        for i in range(0, len(chunks), 32):
            batch = [c.text for c in chunks[i : i + 32]]
            chunk_vectors.extend(embeddings.encode(batch).tolist())
            bar.update(len(batch))
        parts = []
        for i in range(0, len(sentences), 64):
            batch = [f"{chunks[c].section}: {s}" for c, s in sentences[i : i + 64]]
            parts.append(embeddings.encode(batch))
            bar.update(len(batch))
        sentence_vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        question_vectors = embeddings.encode([q for _, q in questions]) if questions else None
        bar.close()

        collection = f"{COLLECTION_PREFIX}-{name.lower()}"
        store = _vectorstore(settings, tmp, collection, embeddings)
        store._collection.add(
            ids=[c.id for c in chunks],
            documents=[c.text for c in chunks],
            embeddings=chunk_vectors,
            metadatas=[_chunk_metadata(c) for c in chunks],
        )
        _write_bm25(tmp, chunks)
        np.save(tmp / "sentences.npy", sentence_vectors)
        if question_vectors is not None:
            np.save(tmp / "questions.npy", question_vectors)
        (tmp / "questions.json").write_text(json.dumps(questions))
        (tmp / "sentences.json").write_text(json.dumps(sentences))
        (tmp / "chunks.json").write_text(json.dumps([asdict(c) for c in chunks], indent=1))
        manifest = {
            **expected,
            "collection": collection,
            "chunk_count": len(chunks),
            "sentence_count": len(sentences),
            "documents": {d.id: d.title for d in docs},
            "aliases": {d.id: _aliases(d) for d in docs},
            "short_names": {d.id: d.short_name for d in docs},
            "vocabulary": sorted({w for c in chunks for w in words(c.text)}),
            "doc_types": {d.id: d.type for d in docs},
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        del store
        final = builds / name
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    previous = current_build(settings.index_dir)
    pointer_tmp = settings.index_dir / "CURRENT.tmp"
    pointer_tmp.write_text(name)
    os.replace(pointer_tmp, settings.index_dir / "CURRENT")
    _prune(builds, keep={name, previous.name if previous else ""})
    return BuildReport(
        True, len(chunks), len(sentences), final, time.perf_counter() - start, manifest
    )


def _section_questions(docs, chunks: list[Chunk]) -> list[tuple[int, str]]:
    """(chunk position, question) for every patient question a section lists, on each of its chunks."""
    out = []
    for doc in docs:
        for heading, questions in doc.questions.items():
            for pos, chunk in enumerate(chunks):
                if chunk.doc_id == doc.id and chunk.section == heading:
                    out += [(pos, q) for q in questions]
    return out


def _aliases(doc) -> list[str]:
    """Lower-case names a question may use for a document, normalised as questions are."""
    names = {*doc.aliases, doc.short_name.lower().removeprefix("the ")}
    return sorted({" ".join(re.sub(r"[^a-z0-9&' ]+", " ", n).split()) for n in names} - {""})


def _chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "source": chunk.source or "",
        "order": chunk.order,
        "doc_type": chunk.doc_type,
    }


def _write_bm25(path: Path, chunks: list[Chunk]) -> None:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([tokenize(c.text) or ["_"] for c in chunks], show_progress=False)
    bm25.save(str(path / "bm25"), show_progress=False)


def _prune(builds: Path, keep: set[str]) -> None:
    for old in builds.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def open_index(settings: Settings) -> Index:
    """Load the live build; :class:`IndexMissing` with the command to run when there is none."""
    build = current_build(settings.index_dir)
    if build is None:
        raise IndexMissing(
            f"no index at {settings.index_dir}: run `clbp-chat ingest` (or `make ingest`) first"
        )
    try:
        import bm25s

        manifest = json.loads((build / "manifest.json").read_text())
        chunks = [Chunk(**c) for c in json.loads((build / "chunks.json").read_text())]
        sentences = [
            (int(i), str(s)) for i, s in json.loads((build / "sentences.json").read_text())
        ]
        vectors = np.load(build / "sentences.npy")
        questions = [
            (int(i), str(q)) for i, q in json.loads((build / "questions.json").read_text())
        ]
        question_vectors = (
            np.load(build / "questions.npy") if questions else np.zeros((0, 0), np.float32)
        )
        bm25 = bm25s.BM25.load(str(build / "bm25"), show_progress=False)
        if len(chunks) != manifest["chunk_count"] or len(vectors) != len(sentences):
            raise ValueError("file sizes do not match the manifest")
        if len(question_vectors) != len(questions):
            raise ValueError("question vectors do not match the question list")
    except Exception as exc:  # noqa: BLE001 - any damage means the same fix
        raise IndexMissing(
            f"the index at {build} is damaged ({type(exc).__name__}: {exc}); "
            "run `clbp-chat ingest --rebuild`"
        ) from None
    if manifest.get("model") != settings.embedding_model:
        raise IndexMissing(
            f"the index was built with model '{manifest.get('model')}' but CLBP_EMBEDDING_MODEL "
            f"is '{settings.embedding_model}': run `clbp-chat ingest --rebuild`"
        )
    from clbp_chat.embeddings import get_embeddings

    try:
        store = _vectorstore(
            settings, build, manifest["collection"], get_embeddings(settings.embedding_model)
        )
        count = store._collection.count()
    except Exception as exc:  # noqa: BLE001
        raise IndexMissing(
            f"cannot open the Chroma collection ({exc}): run `clbp-chat ingest --rebuild`"
        ) from None
    if count != len(chunks):
        raise IndexMissing(
            f"the Chroma collection has {count} chunks, the manifest {len(chunks)}: "
            "run `clbp-chat ingest --rebuild`"
        )
    from clbp_chat.embeddings import resolve_model_path
    from clbp_chat.spelling import english_words

    index = Index(
        manifest, chunks, sentences, vectors, bm25, store, build, questions, question_vectors
    )
    index.use_english(english_words(resolve_model_path(settings.embedding_model)))
    return index
