"""What is kept of patient messages: nothing by default; masked questions when the clinic opts in."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime

from clbp_chat.config import Settings
from clbp_chat.types import Answer

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "jane at example dot com", "jane (at) example (dot) co (dot) uk"
_SPOKEN_EMAIL = re.compile(
    r"\b[\w.+-]+\s*[\[(]?\s*at\s*[\])]?\s*[\w-]+(?:\s*[\[(]?\s*dot\s*[\])]?\s*[a-z]{2,})+\b", re.I
)
# Seven or more digits, with spaces, dots, dashes or brackets between them ("555 1234").
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{5,}\d(?![\w.])")
_DATE = re.compile(
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(?:19|20)\d\d\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d\d\b",
    re.I,
)


def mask(text: str) -> str:
    """Replace e-mail addresses (written or spoken), phone numbers and dates with placeholders."""
    text = _SPOKEN_EMAIL.sub("[email]", _EMAIL.sub("[email]", text))
    text = _DATE.sub("[date]", text)
    return _PHONE.sub(lambda m: "[phone]" if _digits(m.group(0)) >= 7 else m.group(0), text)


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def log_question(settings: Settings, result: Answer) -> str | None:
    """Append the masked question and its outcome to the question log, only if enabled.

    Best effort: a log that cannot be written (read-only folder, full disk) never costs a patient
    their reply. Returns what went wrong, for /healthz and the server log, or None."""
    if not settings.log_questions:
        return None
    try:
        _append(settings, result)
    except OSError as exc:
        reason = f"the question log cannot be written ({exc.strerror or type(exc).__name__})"
        print(f"clbp-chat: {reason}", file=sys.stderr)
        return reason
    return None


def _append(settings: Settings, result: Answer) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "question": mask(result.question),
        "outcome": result.outcome,
        "safety_category": result.safety_category,
    }
    # Readable by the service's own user only: it holds what patients typed.
    path = settings.data_dir / "questions.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def unanswered(settings: Settings) -> list[dict]:
    """Logged questions the library could not answer, newest first."""
    path = settings.data_dir / "questions.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in reversed(rows) if r.get("outcome") == "no_evidence"]
