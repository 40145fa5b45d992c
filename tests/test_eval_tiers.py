"""Safety per tier in the eval: counts, recall, false alarms and their intervals."""

from __future__ import annotations

from clbp_chat.evaluate.tiers import safety_tiers, wilson


def _row(rid: str, expected: list[str], got: str | None) -> dict:
    return {
        "id": rid,
        "expected_outcome": "safety" if expected else "answered",
        "expected_safety": expected,
        "safety_category": got,
    }


def test_each_tier_counts_its_catches_misses_and_false_alarms():
    rows = [
        _row("e1", ["emergency"], "emergency"),
        _row("e2", ["emergency"], None),
        _row("c1", ["crisis"], "crisis"),
        _row("calm1", [], "emergency"),
        _row("calm2", [], None),
    ]
    tiers = safety_tiers(rows)
    assert tiers["emergency"]["caught"] == 1 and tiers["emergency"]["n"] == 2
    assert tiers["emergency"]["missed"] == ["e2"]
    assert tiers["emergency"]["false_alarms"] == 1
    assert tiers["crisis"]["recall"] == 1.0 and tiers["crisis"]["false_alarms"] == 0


def test_a_small_tier_gets_a_wide_interval():
    low, high = wilson(12, 12)
    assert high == 1.0 and low < 0.8
    wide = wilson(6, 12)
    narrow = wilson(600, 1200)
    assert wide[1] - wide[0] > 3 * (narrow[1] - narrow[0])
