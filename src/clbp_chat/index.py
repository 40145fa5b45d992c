"""Build and open the index: chunks in Chroma, plus what each process keeps in memory.

A build holds the chunks (in a Chroma collection, for dense search), the answer units with their
vectors, the patient questions each section lists with theirs, and a manifest. Keyword search
(BM25) is rebuilt in memory from the chunks when a build is opened: it takes milliseconds and means
a build needs no files beside what its store holds (see ``store.py`` for the local folder and the
Chroma-server layouts).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from clbp_chat.config import Settings
from clbp_chat.corpus import corpus_hash, load_corpus, split_corpus
from clbp_chat.errors import IndexMissing
from clbp_chat.not_covered import MANIFEST_KEY as NOT_COVERED_KEY
from clbp_chat.not_covered import read_clinic_topics
from clbp_chat.records import Chunk
from clbp_chat.spelling import Speller, english_for
from clbp_chat.store import COLLECTION_PREFIX, BuildData, LocalStore, ServerStore, open_store
from clbp_chat.text import name_form, split_statements, tokenize, words

# 7: chunks no longer carry their position in the document (it was never read).
FORMAT_VERSION = 7


@dataclass(frozen=True)
class BuildReport:
    """What ``ingest`` did, for the CLI to print."""

    built: bool
    chunk_count: int
    sentence_count: int
    path: str
    seconds: float
    manifest: dict[str, Any]


@dataclass
class Index:
    """A loaded build: everything retrieval and selection need, read once per process."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    sentences: list[tuple[int, str]]
    sentence_vectors: np.ndarray
    bm25: Any
    collection: Any  # the build's chromadb Collection: dense search by the message's vector
    name: str
    questions: list[tuple[int, str]] = field(default_factory=list)
    question_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    # Real English words (the model's vocabulary), never "corrected" (spelling.english_for).
    english: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.chunk_by_id: dict[str, Chunk] = {c.id: c for c in self.chunks}
        self.chunk_pos: dict[str, int] = {c.id: i for i, c in enumerate(self.chunks)}
        self.sentence_rows: dict[int, list[int]] = {}
        for row, (chunk_pos, _) in enumerate(self.sentences):
            self.sentence_rows.setdefault(chunk_pos, []).append(row)
        self.speller = Speller(self.manifest.get("vocabulary", []), self.english)
        self.section_rows: dict[tuple[str, str], list[int]] = {}
        for pos, chunk in enumerate(self.chunks):
            key = (chunk.doc_id, chunk.section)
            self.section_rows.setdefault(key, []).extend(self.sentence_rows.get(pos, []))


def named_docs(question: str, index: Index) -> set[str]:
    """Ids of the documents a question names by an alias ('pettine', 'the kumar study', ...)."""
    text = f" {name_form(question)} "
    aliases = index.manifest.get("aliases", {})
    return {doc_id for doc_id, names in aliases.items() if any(f" {a} " in text for a in names)}


def _expected(settings: Settings) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "corpus_hash": corpus_hash(settings.corpus_dir),
        "model": settings.embedding_model,
        "chunk_size": settings.chunk_size,
    }


def live_manifest(settings: Settings) -> dict[str, Any] | None:
    """The live build's manifest in whichever store the settings name (None when unreachable)."""
    try:
        store = open_store(settings)
        name = store.current()
        return store.manifest(name) if name else None
    except Exception:  # noqa: BLE001 - an unreachable server is reported by open_index
        return None


def live_build_name(settings: Settings) -> str | None:
    """The live build's name: a cheap check, made between requests to pick up a new build."""
    return open_store(settings).current()


def is_up_to_date(settings: Settings) -> bool:
    """True when the live build matches the corpus and the settings that shape it."""
    manifest = live_manifest(settings)
    if manifest is None:
        return False
    return all(manifest.get(k) == v for k, v in _expected(settings).items())


def _readable(settings: Settings) -> bool:
    """The live build loads whole: a damaged one is rebuilt by a plain ingest, not called
    'up to date'."""
    try:
        index = open_index(settings)
        return index.collection.count() == len(index.chunks)
    except Exception:  # noqa: BLE001 - any fault means: build again
        return False


def _progress(total: int, desc: str, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="text", disable=not show, file=sys.stderr)


def _encode(embeddings, texts: list[str], batch: int, bar) -> np.ndarray:
    parts = []
    for i in range(0, len(texts), batch):
        parts.append(embeddings.encode(texts[i : i + batch]))
        bar.update(len(texts[i : i + batch]))
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def build_index(settings: Settings, *, force: bool = False, progress: bool = True) -> BuildReport:
    """(Re)build the index from the corpus; a no-op when it is already up to date and not forced.

    The corpus is validated before anything is written, so a bad file leaves the live index as it
    was; a build is made live only once it is complete.
    """
    start = time.perf_counter()
    docs = load_corpus(settings.corpus_dir)
    clinic_topics = read_clinic_topics(settings.corpus_dir)
    store = open_store(settings)
    if not force and is_up_to_date(settings) and _readable(settings):
        manifest = live_manifest(settings) or {}
        return BuildReport(
            False,
            manifest.get("chunk_count", 0),
            manifest.get("sentence_count", 0),
            str(store.current()),
            time.perf_counter() - start,
            manifest,
        )
    from clbp_chat.embeddings import embeddings_for

    chunks = split_corpus(docs, settings.chunk_size)
    sentences = [(i, s) for i, c in enumerate(chunks) for s in split_statements(c.body)]
    questions = _section_questions(docs, chunks)
    embeddings = embeddings_for(settings)
    expected = _expected(settings)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{expected['corpus_hash'][:8]}"

    bar = _progress(len(chunks) + len(sentences) + len(questions), "Embedding", progress)
    chunk_vectors = _encode(embeddings, [c.text for c in chunks], 32, bar)
    units = [f"{chunks[c].section}: {s}" for c, s in sentences]
    sentence_vectors = _encode(embeddings, units, 64, bar)
    question_vectors = _encode(embeddings, [q for _, q in questions], 64, bar)
    bar.close()
    manifest = {
        **expected,
        "collection": f"{COLLECTION_PREFIX}-{name.lower()}",
        "chunk_count": len(chunks),
        "sentence_count": len(sentences),
        "question_count": len(questions),
        "documents": {d.id: d.title for d in docs},
        "aliases": {d.id: _aliases(d) for d in docs},
        "short_names": {d.id: d.short_name for d in docs},
        "sources": {d.id: d.source for d in docs if d.source},
        "vocabulary": sorted({w for c in chunks for w in words(c.text)}),
        "doc_types": {d.id: d.type for d in docs},
        NOT_COVERED_KEY: clinic_topics,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    data = BuildData(manifest, chunks, sentences, sentence_vectors, questions, question_vectors)
    store.write(name, data, chunk_vectors)
    store.publish(name)
    return BuildReport(
        True, len(chunks), len(sentences), name, time.perf_counter() - start, manifest
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
    return sorted({name_form(n) for n in names} - {""})


def _bm25(chunks: list[Chunk]):
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([tokenize(c.text) or ["_"] for c in chunks], show_progress=False)
    return bm25


def open_index(settings: Settings) -> Index:
    """Load the live build; :class:`IndexMissing` with the command to run when there is none."""
    store, name = _live_build(settings)
    data = _read_build(store, name, settings)
    collection = _open_collection(store, name, data)
    return Index(
        data.manifest,
        data.chunks,
        data.sentences,
        data.sentence_vectors,
        _bm25(data.chunks),
        collection,
        name,
        data.questions,
        data.question_vectors,
        english_for(settings.embedding_model),
    )


def _live_build(settings: Settings) -> tuple[LocalStore | ServerStore, str]:
    """The store and the name of its live build."""
    try:
        store = open_store(settings)
        name = store.current()
    except Exception as exc:  # noqa: BLE001 - an unreachable server is a setup problem
        raise IndexMissing(
            f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
            f"({type(exc).__name__}): start it or unset CLBP_CHROMA_HOST"
        ) from None
    if name is None:
        where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else None
        raise IndexMissing(
            f"no index at {where or settings.index_dir}: run `clbp-chat ingest` "
            "(or `make ingest`) first"
        )
    return store, name


def _read_build(store: LocalStore | ServerStore, name: str, settings: Settings) -> BuildData:
    """The build's content, checked whole and against the model the settings name."""
    try:
        data = store.read(name)
        if len(data.chunks) != data.manifest["chunk_count"] or len(data.sentence_vectors) != len(
            data.sentences
        ):
            raise ValueError("sizes do not match the manifest")
        if len(data.question_vectors) != len(data.questions):
            raise ValueError("question vectors do not match the question list")
    except Exception as exc:  # noqa: BLE001 - any damage means the same fix
        raise IndexMissing(
            f"the index build {name} is damaged ({type(exc).__name__}: {exc}); "
            "run `clbp-chat ingest --rebuild`"
        ) from None
    if data.manifest.get("model") != settings.embedding_model:
        raise IndexMissing(
            f"the index was built with model '{data.manifest.get('model')}' but "
            f"CLBP_EMBEDDING_MODEL is '{settings.embedding_model}': run `clbp-chat ingest --rebuild`"
        )
    return data


def _open_collection(store: LocalStore | ServerStore, name: str, data: BuildData):
    """The build's Chroma collection, holding every chunk of the manifest."""
    try:
        collection = store.client(name).get_collection(data.manifest["collection"])
        count = collection.count()
    except Exception as exc:  # noqa: BLE001
        raise IndexMissing(
            f"cannot open the Chroma collection ({exc}): run `clbp-chat ingest --rebuild`"
        ) from None
    if count != len(data.chunks):
        raise IndexMissing(
            f"the Chroma collection has {count} chunks, the manifest {len(data.chunks)}: "
            "run `clbp-chat ingest --rebuild`"
        )
    return collection
