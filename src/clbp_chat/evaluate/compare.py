"""`clbp-chat eval --compare`: what changed since a previous run, item by item and per category.

A comparison is only meaningful over the same questions: runs over different question sets are
refused, since a metric that moved might only mean the questions changed.
"""

from __future__ import annotations

from typing import Any

from clbp_chat.errors import ClbpError
from clbp_chat.evaluate.report import reasons

# metric -> True when higher is better (used to call a change a regression)
HIGHER_IS_BETTER = {
    "outcome_accuracy": True,
    "hit_at_1": True,
    "hit_at_3": True,
    "mrr": True,
    "citation_precision": True,
    "citation_recall": True,
    "fact_recall": True,
    "answer_relevance": True,
    "completeness": True,
    "forbidden_rate": False,
    "grounded_number_rate": True,
    "faithfulness": True,
    "readability_grade": False,
    "safety_recall": True,
    "safety_reply_ok": True,
    "no_evidence_reply_ok": True,
    "safety_false_positive_rate": False,
    "latency_p50_ms": False,
    "latency_p95_ms": False,
}
# Latency is noisy on a shared machine: a change within this share of the old value is not worth a
# mark, and a slower run is marked SLOWER, never REGRESSION: latency has its own gate
# (thresholds.yaml `latency`), so it never fails or hides the quality gate. Per category,
# latency is not compared at all (too few items to mean anything).
REGRESSION_TOLERANCE = {"latency_p50_ms": 0.25, "latency_p95_ms": 0.25}
QUALITY = [name for name in HIGHER_IS_BETTER if not name.startswith("latency_")]


def _delta_line(label: str, name: str, old: float, new: float) -> str | None:
    delta = new - old
    tolerance = REGRESSION_TOLERANCE.get(name, 0.0) * abs(old)
    worse = (delta < -tolerance - 1e-9) if HIGHER_IS_BETTER[name] else (delta > tolerance + 1e-9)
    mark = ("  SLOWER" if name in REGRESSION_TOLERANCE else "  REGRESSION") if worse else ""
    return f"{label}{name}: {old} -> {new} ({delta:+.4g}){mark}"


def _questions(results: dict[str, Any]) -> set[tuple[str, str]] | None:
    rows = results.get("rows")
    return {(r["id"], r["question"]) for r in rows} if rows else None


def check_same_questions(current: dict[str, Any], previous: dict[str, Any]) -> None:
    """Raise a one-line error when the two runs did not ask the same questions."""
    new, old = _questions(current), _questions(previous)
    if new is None or old is None or new == old:
        return
    raise ClbpError(
        f"cannot compare: the previous run asked a different question set ({len(new - old)} "
        f"item(s) only in this run, {len(old - new)} only in the previous one); compare runs "
        "of the same --set"
    )


def flips(current: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """Items whose verdict changed: pass -> fail (a regression, with its reasons) or fail -> pass."""
    before = {r["id"]: not reasons(r) for r in previous.get("rows", [])}
    lines = []
    for row in current.get("rows", []):
        passed_before, why = before.get(row["id"]), reasons(row)
        if passed_before and why:
            lines.append(f"FLIP pass -> fail: {row['id']} ({'; '.join(why)})  REGRESSION")
        elif passed_before is False and not why:
            lines.append(f"FLIP fail -> pass: {row['id']}")
    return lines


def compare(current: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """Overall deltas, per-category deltas of quality metrics that moved, and per-item flips;
    each line that got worse ends in REGRESSION."""
    check_same_questions(current, previous)
    lines = []
    for name in HIGHER_IS_BETTER:
        new, old = current["overall"].get(name), previous.get("overall", {}).get(name)
        if new is not None and old is not None:
            lines.append(_delta_line("", name, old, new))
    old_categories = previous.get("by_category", {})
    for category, values in current.get("by_category", {}).items():
        for name in QUALITY:
            new, old = values.get(name), old_categories.get(category, {}).get(name)
            if new is not None and old is not None and abs(new - old) > 1e-9:
                lines.append(_delta_line(f"[{category}] ", name, old, new))
    return lines + flips(current, previous)
