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

from langchain_text_splitters import RecursiveCharacterTextSplitter

from clbp_chat.errors import CorpusError
from clbp_chat.front_matter import FrontMatter, parse_front_matter
from clbp_chat.records import Chunk

REQUIRED_FIELDS = ("id", "type", "title", "short_name")
# Bounds that no real document reaches; they stop a pasted list from stalling the build.
MAX_ALIASES = 100
MAX_QUESTIONS = 400
STUDY_FIELDS = ("citation", "source", "design", "participants", "follow_up", "evidence_level")
DOC_TYPES = ("summary", "study", "glossary", "comparison", "faq")
# Types whose sentences are evidence about the treatment, so an answer using them carries a
# strength section; a glossary defines words and a clinic page (faq) describes the clinic's own
# practice, neither of which any study measured.
EVIDENCE_TYPES = ("summary", "study", "comparison")
STRENGTH_SECTION = "How strong is this evidence?"
# Clinic pages (type faq) have ids starting with this, so they never take a fixed id of
# DESIGN.md and anyone reading a citation's doc_id can tell the clinic's page from the evidence.
CLINIC_PREFIX = "clinic-"
# The clinic's changes to the topics the library does not cover (see not_covered.py).
NOT_COVERED_FILE = "not_covered.yaml"
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
    id_line: int = 1


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_document(path: Path) -> Document:
    """Parse one file; :class:`CorpusError` names the file, the line and the fix."""
    name = path.name
    front = parse_front_matter(path)
    meta = front.meta
    doc_type = _check_fields(name, front)
    aliases = _aliases(name, meta.get("aliases") or [], front.line("aliases"))
    questions = _questions(name, meta.get("questions"), front.line("questions"))
    _check_body(name, front, doc_type, questions)
    return Document(
        id=str(meta["id"]),
        type=doc_type,
        title=str(meta["title"]).strip(),
        short_name=str(meta["short_name"]).strip(),
        body=front.body,
        path=path,
        source=(str(meta["source"]).strip() if meta.get("source") else None),
        aliases=tuple(str(a).lower() for a in aliases),
        meta=meta,
        questions=questions,
        answer_until=(str(meta["answer_until"]) if meta.get("answer_until") else None),
        id_line=front.line("id"),
    )


def _check_fields(name: str, front: FrontMatter) -> str:
    """The required fields are there, the id well formed and the one-line fields text; returns
    the document's type."""
    meta = front.meta
    doc_type = meta.get("type")
    required = REQUIRED_FIELDS + (STUDY_FIELDS if doc_type == "study" else ())
    for key in required:
        value = meta.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CorpusError(
                f"{name}: missing required field '{key}'; add a line '{key}: …' to the front "
                f"matter (lines {front.first_line}-{front.last_line})"
            )
    if doc_type not in DOC_TYPES:
        raise CorpusError(
            f"{name}: field 'type' (line {front.line('type')}) must be one of "
            f"{', '.join(DOC_TYPES)}"
        )
    _check_id(name, str(meta["id"]), doc_type, front.line("id"))
    for key in ("title", "short_name", "source", "answer_until"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str | int | float):
            raise CorpusError(
                f"{name}: field '{key}' must be text (line {front.line(key)}), on one line "
                f"after '{key}:'"
            )
    return doc_type


def _aliases(name: str, aliases: object, line: int) -> list:
    """The names a question may use for the document: a list, and not a pasted one."""
    if not isinstance(aliases, list) or not all(isinstance(a, str | int) for a in aliases):
        raise CorpusError(
            f"{name}: field 'aliases' (line {line}) must be a list of names, "
            "like [pettine, pettine 2015]"
        )
    if len(aliases) > MAX_ALIASES:
        raise CorpusError(
            f"{name}: field 'aliases' (line {line}) has {len(aliases)} names; at most {MAX_ALIASES}"
        )
    return aliases


def _check_body(
    name: str, front: FrontMatter, doc_type: str, questions: dict[str, tuple[str, ...]]
) -> None:
    """The document has text, a study its strength section, and listed questions real sections."""
    if not front.body:
        raise CorpusError(
            f"{name}: the document has no text after the front matter (which ends on line "
            f"{front.last_line}); write its sections below that line"
        )
    headings = {h for h, _ in _split_sections(front.body)}
    if doc_type == "study" and STRENGTH_SECTION not in headings:
        raise CorpusError(f"{name}: a study needs a '## {STRENGTH_SECTION}' section")
    unknown = sorted(set(questions) - headings)
    if unknown:
        line = front.nested.get("questions", {}).get(unknown[0], front.line("questions"))
        raise CorpusError(
            f"{name}: 'questions' names sections the document lacks: {unknown[0]!r} (line "
            f"{line}); use a '## ' heading of the document, spelt the same"
        )


def _check_id(name: str, doc_id: str, doc_type: str, line: int) -> None:
    """Ids are lower-case words joined by '-'; a clinic page's id, and only its, starts 'clinic-'."""
    if not _ID.match(doc_id):
        raise CorpusError(
            f"{name}: field 'id' (line {line}) must be lower-case words joined by '-', "
            "like clinic-on-the-day"
        )
    if (doc_type == "faq") != doc_id.startswith(CLINIC_PREFIX):
        fix = (
            f"start it with '{CLINIC_PREFIX}', like {CLINIC_PREFIX}{doc_id}"
            if doc_type == "faq"
            else f"ids starting '{CLINIC_PREFIX}' are kept for clinic pages (type: faq)"
        )
        raise CorpusError(f"{name}: id '{doc_id}' (line {line}) does not fit its type; {fix}")


def _questions(name: str, value: object, line: int) -> dict[str, tuple[str, ...]]:
    """Front matter ``questions``: section heading -> the patient questions that section answers."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(q, str) and q.strip() for q in v)
        for v in value.values()
    ):
        raise CorpusError(
            f"{name}: field 'questions' (line {line}) must map section headings to lists of "
            "questions, each heading followed by lines '  - question'"
        )
    total = sum(len(v) for v in value.values())
    if total > MAX_QUESTIONS:
        raise CorpusError(
            f"{name}: field 'questions' (line {line}) has {total} questions; at most "
            f"{MAX_QUESTIONS}"
        )
    return {str(k): tuple(q.strip() for q in v) for k, v in value.items()}


def documents_in(corpus_dir: Path) -> list[Path]:
    """The corpus documents: files ending in ``.md`` (lower case), sorted by name."""
    return sorted(p for p in corpus_dir.glob("*.md") if p.is_file())


def skipped_files(corpus_dir: Path) -> list[str]:
    """One line per file of the corpus folder that ingest does not read, saying what to do."""
    read = {*documents_in(corpus_dir), corpus_dir / NOT_COVERED_FILE}
    out = []
    for path in sorted(corpus_dir.iterdir()):
        if path in read or path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in (".md", ".markdown"):
            fix = f"rename it to {path.stem}.md to include it"
        else:
            fix = f"only .md documents and {NOT_COVERED_FILE} are read"
        out.append(f"skipped {path.name}: {fix}")
    return out


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Every document in ``corpus_dir``, validated, sorted by file name; ids must be unique."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    docs = [parse_document(p) for p in documents_in(corpus_dir)]
    if not docs:
        raise CorpusError(f"{corpus_dir}: no .md documents found")
    seen: dict[str, Document] = {}
    for doc in docs:
        if doc.id in seen:
            owner, new = _owner_and_newcomer(seen[doc.id], doc)
            raise CorpusError(
                f"{new.path.name}: id '{doc.id}' (line {new.id_line}) is already used by "
                f"{owner.path.name}; give this document its own id and name the file after it"
            )
        seen[doc.id] = doc
    return docs


def _owner_and_newcomer(first: Document, second: Document) -> tuple[Document, Document]:
    """Of two files with one id, the one named after the id keeps it; else the older one does."""
    if first.path.stem == first.id and second.path.stem != second.id:
        return first, second
    if second.path.stem == second.id and first.path.stem != first.id:
        return second, first
    older = sorted((first, second), key=lambda d: d.path.stat().st_mtime_ns)
    return older[0], older[1]


def corpus_hash(corpus_dir: Path) -> str:
    """A hash of every file ingest reads (name and bytes): the index is rebuilt when it changes."""
    digest = hashlib.sha256()
    clinic_topics = corpus_dir / NOT_COVERED_FILE
    for path in [*documents_in(corpus_dir), *([clinic_topics] if clinic_topics.is_file() else [])]:
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
                    doc_type=doc.type,
                )
            )
    return chunks


def split_corpus(docs: list[Document], chunk_size: int) -> list[Chunk]:
    """All chunks of all documents, in corpus order."""
    return [chunk for doc in docs for chunk in split_document(doc, chunk_size)]
