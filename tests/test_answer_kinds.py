"""Patient questions in kinds (lay words, typos, buried in a story, whole topic, follow-up, not
covered), held out from tuning: the pass rate is reported and must not fall below its floor."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from clbp_chat.text import numbers

HELD_OUT = Path(__file__).parent / "data" / "answer_heldout.yaml"
# Measured at 21/25 when the file was written (2026-11-25), then 26/31 with six items added
# before the changes they cover (4/6 of them passed before); a drop below this floor fails.
FLOOR = 0.8


def passes(engine, item: dict) -> bool:
    result = engine.answer(item["q"], item.get("history", []))
    expect = item["expect"] if isinstance(item["expect"], list) else [item["expect"]]
    ok = result.outcome in expect
    if item.get("docs") and result.outcome == "answered":
        ok &= bool({c.doc_id for c in result.citations} & set(item["docs"]))
    ok &= all(re.search(p, result.answer, re.I) for p in item.get("must", []))
    ok &= not any(re.search(p, result.answer, re.I) for p in item.get("must_not", []))
    quoted = set().union(*(numbers(c.quote) for c in result.citations))
    cited = {str(c.n) for c in result.citations}
    return ok and numbers(result.answer) <= quoted | cited


def test_held_out_patient_questions_meet_the_floor(engine):
    items = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))
    right = [passes(engine, item) for item in items]
    rate = sum(right) / len(items)
    misses = [i["q"] for i, r in zip(items, right, strict=True) if not r]
    assert rate >= FLOOR, f"held-out pass rate {rate:.0%}; missed: {misses}"
