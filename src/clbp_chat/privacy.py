"""What is kept of patient messages: nothing by default; when the clinic opts in, each question
masked (``masking.py``), for ``CLBP_LOG_RETENTION_DAYS`` at most, and a warning sign or crisis
message only as its category, never its words."""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO

from clbp_chat.config import Settings
from clbp_chat.masking import mask
from clbp_chat.records import Answer

__all__ = ["drop_expired", "log_question", "mask", "question_log", "read_questions"]

# Replies whose words are never kept: what someone in danger wrote is nobody's report material.
SAFETY_TIERS = frozenset({"emergency", "urgent", "crisis"})
# Dropping old entries rewrites the log (about 0.2 s for 50,000 entries, benchmarks/
# bench_question_log.py); entries this close to the limit are dropped with them.
PRUNE_AHEAD = timedelta(hours=1)
# Longest a question waits for another process's hold on the log before its entry is skipped.
LOCK_WAIT = 0.5


def question_log(settings: Settings) -> Path:
    return settings.data_dir / "questions.jsonl"


def log_question(settings: Settings, result: Answer) -> str | None:
    """Append the masked question and its outcome to the question log, only if enabled.

    Best effort: a log that cannot be written (read-only folder, full disk) never costs a patient
    their reply. Returns what went wrong, for /healthz and the server log, or None."""
    if not settings.log_questions:
        return None
    try:
        _append(settings, _record(settings, result))
    except Exception as exc:  # noqa: BLE001 - no log fault (damaged file, held lock) costs a reply
        why = getattr(exc, "strerror", None) or type(exc).__name__
        reason = f"the question log cannot be written ({why})"
        print(f"clbp-chat: {reason}", file=sys.stderr)
        return reason
    return None


def _record(settings: Settings, result: Answer) -> dict:
    tier = result.safety_category in SAFETY_TIERS
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "answer_id": result.answer_id,  # what a rating names, so rated-down answers can be found
        "question": None if tier else mask(result.question, corpus_names(settings.corpus_dir)),
        "outcome": result.outcome,
        "safety_category": result.safety_category,
        "reason": result.reason,
        "topic": None if tier else result.topic,
    }


def _append(settings: Settings, record: dict) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Readable by the service's own user only: it holds what patients typed.
    fd = os.open(question_log(settings), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8", errors="replace") as fh:
        # Several server processes may share one data folder: one writer at a time, and expired
        # entries are dropped in place (the same file), so no other writer's line is lost.
        _lock(fh)
        _drop_expired(fh, cutoff(settings))
        fh.write(json.dumps(record) + "\n")


def _lock(fh: IO[str]) -> None:
    """Take the log's lock, or give up after LOCK_WAIT: a reply never waits on a stuck writer."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError("another process holds the question log") from None
            time.sleep(0.01)


def drop_expired(settings: Settings) -> None:
    """Apply the retention limit to a log that exists, logging on or off (at start-up and before
    a report): turning logging off must not keep old questions past the limit."""
    path = question_log(settings)
    if not path.is_file() or cutoff(settings) is None:
        return
    try:
        with open(path, "r+", encoding="utf-8", errors="replace") as fh:
            _lock(fh)
            _drop_expired(fh, cutoff(settings))
    except Exception as exc:  # noqa: BLE001 - the report still shows what it can read
        print(
            f"clbp-chat: old questions could not be removed ({type(exc).__name__})", file=sys.stderr
        )


def cutoff(settings: Settings) -> datetime | None:
    """The oldest time a kept question may have; None keeps everything."""
    days = settings.log_retention_days
    return datetime.now(UTC) - timedelta(days=days) if days else None


def _drop_expired(fh: IO[str], oldest: datetime | None) -> None:
    """Entries are in time order, so the first line tells whether anything is out of date. What
    would expire within the next hour goes too, so a busy log is rewritten at most once an hour."""
    fh.seek(0)
    first = fh.readline()
    if oldest is None or not first or _kept(first, oldest):
        return
    kept = [line for line in [first, *fh.readlines()] if _kept(line, oldest + PRUNE_AHEAD)]
    fh.seek(0)
    fh.truncate()
    fh.writelines(kept)


def _kept(line: str, oldest: datetime) -> bool:
    """Whether a log line is recent enough; a damaged line is dropped (its age is unknown)."""
    try:
        return datetime.fromisoformat(json.loads(line)["time"]) >= oldest
    except (ValueError, KeyError, TypeError):
        return False


def read_questions(settings: Settings) -> list[dict]:
    """The question log, oldest first, without entries past the retention limit or damaged."""
    path = question_log(settings)
    if not path.is_file():
        return []
    drop_expired(settings)
    oldest = cutoff(settings) or datetime.min.replace(tzinfo=UTC)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [json.loads(line) for line in lines if line and _kept(line, oldest)]


@lru_cache(maxsize=8)
def corpus_names(corpus_dir: Path) -> frozenset[str]:
    """The study authors' names ("Pettine" in "the Pettine study"): corpus words, not patients'."""
    from clbp_chat.corpus import load_corpus

    try:
        docs = load_corpus(corpus_dir)
    except Exception:  # noqa: BLE001 - a broken corpus must not stop a question being logged
        return frozenset()
    return frozenset(w.lower() for d in docs for w in re.findall(r"[A-Z][\w-]+", d.short_name))
