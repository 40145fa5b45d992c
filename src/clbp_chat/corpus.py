"""Load and validate the corpus documents and split them into chunks with stable ids.

A document is markdown with YAML front matter. Chunks follow the document's ``##`` sections (the
section is a passage a patient can read on its own) and are split further only when a section is
longer than ``chunk_size``. Chunk ids are ``<doc_id>#<section-slug>`` (plus ``-<n>`` for parts),
so they survive edits to other sections.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from langchain_text_splitters import RecursiveCharacterTextSplitter

from clbp_chat.errors import CorpusError
from clbp_chat.types import Chunk

REQUIRED_FIELDS = ("id", "type", "title", "short_name")
# Bounds that no real document reaches; they stop a pasted list from stalling the build.
MAX_ALIASES = 100
MAX_QUESTIONS = 400
STUDY_FIELDS = ("citation", "source", "design", "participants", "follow_up", "evidence_level")
DOC_TYPES = ("summary", "study", "glossary", "comparison")
STRENGTH_SECTION = "How strong is this evidence?"
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Document:
    """One validated corpus file."""

    id: str
    type: str
    title: str
    short_name: str
    body: str
    path: Path
    source: str | None = None
    aliases: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)
    questions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    answer_until: str | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_document(path: Path) -> Document:
    """Parse one file; raise :class:`CorpusError` naming the file and the problem."""
    name = path.name
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{name}: cannot read file ({exc})") from None
    match = _FRONT_MATTER.match(raw.replace("\r\n", "\n"))
    if not match:
        raise CorpusError(f"{name}: missing YAML front matter (a '---' block at the top)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where else ""
        raise CorpusError(f"{name}: front matter is not valid YAML{line}") from None
    if not isinstance(meta, dict):
        raise CorpusError(f"{name}: front matter must be a mapping of field: value")
    doc_type = meta.get("type")
    required = REQUIRED_FIELDS + (STUDY_FIELDS if doc_type == "study" else ())
    for key in required:
        value = meta.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CorpusError(f"{name}: missing required field '{key}'")
    if doc_type not in DOC_TYPES:
        raise CorpusError(f"{name}: field 'type' must be one of {', '.join(DOC_TYPES)}")
    doc_id = str(meta["id"])
    if not _ID.match(doc_id):
        raise CorpusError(f"{name}: field 'id' must be lower-case words joined by '-'")
    for key in ("title", "short_name", "source", "answer_until"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str | int | float):
            raise CorpusError(f"{name}: field '{key}' must be text")
    aliases = meta.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str | int) for a in aliases):
        raise CorpusError(f"{name}: field 'aliases' must be a list of names")
    if len(aliases) > MAX_ALIASES:
        raise CorpusError(
            f"{name}: field 'aliases' has {len(aliases)} names; at most {MAX_ALIASES}"
        )
    questions = _questions(name, meta.get("questions"))
    body = match.group(2).strip()
    if not body:
        raise CorpusError(f"{name}: the document has no text after the front matter")
    headings = {h for h, _ in _split_sections(body)}
    if doc_type == "study" and STRENGTH_SECTION not in headings:
        raise CorpusError(f"{name}: a study needs a '## {STRENGTH_SECTION}' section")
    unknown = sorted(set(questions) - headings)
    if unknown:
        raise CorpusError(f"{name}: 'questions' names sections the document lacks: {unknown[0]!r}")
    return Document(
        id=doc_id,
        type=doc_type,
        title=str(meta["title"]).strip(),
        short_name=str(meta["short_name"]).strip(),
        body=body,
        path=path,
        source=(str(meta["source"]).strip() if meta.get("source") else None),
        aliases=tuple(str(a).lower() for a in aliases),
        meta=meta,
        questions=questions,
        answer_until=(str(meta["answer_until"]) if meta.get("answer_until") else None),
    )


def _questions(name: str, value: object) -> dict[str, tuple[str, ...]]:
    """Front matter ``questions``: section heading -> the patient questions that section answers."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(q, str) and q.strip() for q in v)
        for v in value.values()
    ):
        raise CorpusError(
            f"{name}: field 'questions' must map section headings to lists of questions"
        )
    total = sum(len(v) for v in value.values())
    if total > MAX_QUESTIONS:
        raise CorpusError(
            f"{name}: field 'questions' has {total} questions; at most {MAX_QUESTIONS}"
        )
    return {str(k): tuple(q.strip() for q in v) for k, v in value.items()}


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Every ``*.md`` in ``corpus_dir``, validated, sorted by file name; ids must be unique."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    docs = [parse_document(p) for p in sorted(corpus_dir.glob("*.md"))]
    if not docs:
        raise CorpusError(f"{corpus_dir}: no .md documents found")
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.id in seen:
            raise CorpusError(f"{doc.path.name}: id '{doc.id}' is already used by {seen[doc.id]}")
        seen[doc.id] = doc.path.name
    return docs


def corpus_hash(corpus_dir: Path) -> str:
    """A hash of every corpus file's name and bytes: the index is rebuilt when it changes."""
    digest = hashlib.sha256()
    for path in sorted(corpus_dir.glob("*.md")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _sections(doc: Document) -> list[tuple[str, str]]:
    """The answerable sections: everything before the ``answer_until`` line, if the document has one."""
    body = doc.body
    if doc.answer_until:
        cut = re.search(rf"^\s*{re.escape(doc.answer_until)}\s*$", body, flags=re.M)
        body = body[: cut.start()] if cut else body
    return _split_sections(body)


def _split_sections(body: str) -> list[tuple[str, str]]:
    """(heading, text) pairs; text before the first ``##`` (or a document without any) is 'Summary'."""
    parts = re.split(r"^##\s+(.+?)\s*$", body, flags=re.M)
    sections = [("Summary", parts[0].strip())] if parts[0].strip() else []
    sections += [(h.strip(), t.strip()) for h, t in zip(parts[1::2], parts[2::2], strict=True)]
    return [(h, t) for h, t in sections if t]


def split_document(doc: Document, chunk_size: int) -> list[Chunk]:
    """Split by section, then by size (on paragraph and line breaks, never mid-sentence if avoidable)."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=0, separators=["\n\n", "\n", ". ", " "]
    )
    chunks: list[Chunk] = []
    for heading, text in _sections(doc):
        pieces = splitter.split_text(text) if len(text) > chunk_size else [text]
        for i, piece in enumerate(pieces):
            suffix = f"-{i + 1}" if len(pieces) > 1 else ""
            chunks.append(
                Chunk(
                    id=f"{doc.id}#{_slug(heading)}{suffix}",
                    doc_id=doc.id,
                    title=doc.title,
                    section=heading,
                    body=piece.strip(),
                    source=doc.source,
                    order=len(chunks),
                    doc_type=doc.type,
                )
            )
    return chunks


def split_corpus(docs: list[Document], chunk_size: int) -> list[Chunk]:
    """All chunks of all documents, in corpus order."""
    return [chunk for doc in docs for chunk in split_document(doc, chunk_size)]
