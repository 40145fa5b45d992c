"""The staff report: what patients asked that the library could not answer, or answered and had
rated down, grouped by reason and topic with counts, so staff see what the library should cover
next. Read from the (masked) question log and the ratings; `clbp-chat report` and the staff page
print the same report."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from clbp_chat.config import Settings
from clbp_chat.privacy import read_questions

FORMATS = ("text", "csv", "json")
# Why a question is in the report, in the order the report lists them.
REASONS = {
    "not_covered": "not covered by the library",
    "no_evidence": "no confident answer (no passage close enough)",
    "unreadable": "not read (no words, or not in English)",
    "rated_down": "answered, then rated down by the patient",
}
NO_TOPIC = "(no topic)"
_DAYS = re.compile(r"^(\d{1,4})d$")
# "How much does it cost?" and "how much does it cost" are one question asked twice.
_PUNCTUATION = re.compile(r"[^\w\s\[\]]")


@dataclass
class Asked:
    question: str
    count: int
    last_asked: str


@dataclass
class Group:
    reason: str
    topic: str
    count: int = 0
    questions: list[Asked] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The reason as a heading: "Not covered by the library"."""
        text = REASONS[self.reason]
        return text[0].upper() + text[1:]


@dataclass
class Report:
    since: str | None
    logging: bool
    retention_days: int
    logged: int
    # Warning-sign and crisis replies, counted by category (their words are never kept).
    safety: dict[str, int]
    groups: list[Group]


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``YYYY-MM-DD`` (from that day, UTC) or ``Nd`` (the last N days); ValueError says which."""
    if not text:
        return None
    days = _DAYS.match(text.strip())
    if days:
        return (now or datetime.now(UTC)) - timedelta(days=int(days.group(1)))
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date like 2026-11-30 or a number of days like 7d"
        ) from None


def build_report(settings: Settings, since: datetime | None = None) -> Report:
    """Questions to look at since ``since``, grouped by (reason, topic), biggest groups first."""
    rows = [r for r in read_questions(settings) if since is None or _time(r) >= since]
    rated_down = _rated_down(settings)
    groups: dict[tuple[str, str], Group] = {}
    asked: dict[tuple[str, str], dict[str, Asked]] = {}
    for row in rows:
        reason = _reason(row, rated_down)
        if reason is None or not row.get("question"):
            continue
        key = (reason, row.get("topic") or NO_TOPIC)
        group = groups.setdefault(key, Group(*key))
        group.count += 1
        same = " ".join(_PUNCTUATION.sub(" ", row["question"]).casefold().split())
        seen = asked.setdefault(key, {}).setdefault(same, Asked(row["question"], 0, ""))
        seen.count += 1
        seen.last_asked = max(seen.last_asked, row["time"])
    for key, group in groups.items():
        group.questions = sorted(
            asked[key].values(), key=lambda a: (a.count, a.last_asked), reverse=True
        )
    order = list(REASONS)
    return Report(
        since=since.isoformat(timespec="seconds") if since else None,
        logging=settings.log_questions,
        retention_days=settings.log_retention_days,
        logged=len(rows),
        safety=dict(Counter(r["safety_category"] for r in rows if _is_tier(r))),
        groups=sorted(groups.values(), key=lambda g: (order.index(g.reason), -g.count, g.topic)),
    )


def _reason(row: dict, rated_down: set[str]) -> str | None:
    if row.get("outcome") == "no_evidence":
        # Entries logged before reasons were recorded count as no evidence.
        reason = row.get("reason") or "no_evidence"
        return reason if reason in REASONS else None  # small talk is no gap in the library
    if row.get("answer_id") in rated_down:
        return "rated_down"
    return None


def _is_tier(row: dict) -> bool:
    return row.get("outcome") == "safety" and row.get("question") is None


def _time(row: dict) -> datetime:
    return datetime.fromisoformat(row["time"])


def _rated_down(settings: Settings) -> set[str]:
    """Answer ids whose latest rating is a thumbs down."""
    path = settings.data_dir / "feedback.jsonl"
    if not path.is_file():
        return set()
    latest: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("answer_id"):
            latest[row["answer_id"]] = row.get("rating")
    return {answer_id for answer_id, rating in latest.items() if rating == "down"}


def render(report: Report, fmt: str, limit: int = 10) -> str:
    """The report as ``text`` (at most ``limit`` questions a topic), ``csv`` or ``json``."""
    if fmt == "json":
        body = asdict(report)
        for group, data in zip(report.groups, body["groups"], strict=True):
            data["reason_label"] = group.label
        return json.dumps(body, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["reason", "topic", "topic_count", "question", "times_asked", "last_asked"])
        for g in report.groups:
            for a in g.questions:
                writer.writerow(
                    [g.reason, g.topic, g.count, _cell(a.question), a.count, a.last_asked]
                )
        return out.getvalue()
    return _text(report, limit)


def _cell(text: str) -> str:
    """A patient's words as a spreadsheet shows them, never as a formula it runs ("=HYPERLINK(")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def headline(report: Report) -> str:
    """The report's first line: how many questions to look at, of how many, over what period."""
    total = sum(g.count for g in report.groups)
    period = f"since {report.since[:10]}" if report.since else "in the log"
    kept = f"kept {report.retention_days} days" if report.retention_days else "kept until deleted"
    return f"{total} questions to look at, of {report.logged} logged {period} ({kept})."


def safety_line(report: Report) -> str | None:
    """Warning-sign and crisis replies by category, or None when there were none."""
    if not report.safety:
        return None
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.safety.items()))
    return f"Warning-sign and crisis replies (words not kept): {counts}."


def _text(report: Report, limit: int) -> str:
    lines = [headline(report), *filter(None, [safety_line(report)])]
    for g in report.groups:
        lines += ["", f"{g.label}: {g.topic} ({g.count})"]
        lines += [f"  {a.count:>3}x  {a.question}" for a in g.questions[:limit]]
        if len(g.questions) > limit:
            lines.append(f"        … and {len(g.questions) - limit} more")
    return "\n".join(lines)
