"""The data that flows through clbp-chat: chunks, citations and answers."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["answered", "no_evidence", "safety"]


@dataclass(frozen=True)
class Chunk:
    """One passage of a corpus document, the unit that is indexed and cited."""

    id: str
    doc_id: str
    title: str
    section: str
    body: str
    source: str | None
    doc_type: str = "study"

    @property
    def text(self) -> str:
        """What is embedded and keyword-indexed: the body with the document and section named."""
        return f"{self.title} — {self.section}\n{self.body}"


@dataclass(frozen=True)
class Citation:
    """A numbered source for one or more answer sentences; ``quote`` is the exact chunk text."""

    n: int
    doc_id: str
    title: str
    section: str
    quote: str
    source: str | None
    chunk_id: str
    # For a passage that is not itself a primary source (the comparison), the studies it names.
    sources: tuple[str, ...] = ()


@dataclass
class Answer:
    """What every front end receives from :func:`clbp_chat.answer`."""

    question: str
    outcome: Outcome
    answer: str
    citations: list[Citation] = field(default_factory=list)
    safety_category: str | None = None
    safety_signal: str | None = None
    standalone_question: str | None = None
    latency_ms: float = 0.0
    retrieved: list[str] = field(default_factory=list)
    # Lets feedback name the answer it rates without storing anything the patient wrote.
    answer_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # For the staff report, never shown to the patient: why the library gave no answer
    # (not_covered, no_evidence, small_talk, unreadable) and what the message was about (the
    # not-covered topic, or the studies it names and the aspect it asks about).
    reason: str | None = None
    topic: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``ask --json`` / ``POST /api/ask`` object from DESIGN.md (plus retrieval ids)."""
        citations = [asdict(c) for c in self.citations]
        for c in citations:
            c.pop("chunk_id")
            c["sources"] = list(c["sources"])
        return {
            "question": self.question,
            "outcome": self.outcome,
            "safety_category": self.safety_category,
            "safety_signal": self.safety_signal,
            "answer": self.answer,
            "citations": citations,
            "standalone_question": self.standalone_question,
            "retrieved_doc_ids": self.retrieved,
            "answer_id": self.answer_id,
            "latency_ms": round(self.latency_ms, 1),
        }
