"""What is kept of patient messages: nothing by default; masked questions when the clinic opts in."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from clbp_chat.config import Settings
from clbp_chat.types import Answer

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d\s().-]{7,}\d(?!\w)")


def mask(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders."""
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


def log_question(settings: Settings, result: Answer) -> None:
    """Append the masked question and its outcome to the question log, only if enabled."""
    if not settings.log_questions:
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "question": mask(result.question),
        "outcome": result.outcome,
        "safety_category": result.safety_category,
    }
    with (settings.data_dir / "questions.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def unanswered(settings: Settings) -> list[dict]:
    """Logged questions the library could not answer, newest first."""
    path = settings.data_dir / "questions.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in reversed(rows) if r.get("outcome") == "no_evidence"]
