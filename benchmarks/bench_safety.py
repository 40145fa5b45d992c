"""The safety gate on its held-out suite: recall per tier and kind, false alarms, time per message.

Run by `make bench`. The held-out file (tests/data/safety_heldout.yaml) was never tuned on. Times are
medians, with the pattern-only gate and a warm answer() measured in the same run as peers.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clbp_chat import safety  # noqa: E402
from clbp_chat.answer import get_engine  # noqa: E402
from tests.safety_kinds import ALARMS, cases  # noqa: E402


def _ok(expected: str | None, got: str | None) -> bool:
    if expected == "urgent":
        return got in ("urgent", "emergency")
    if expected is None:
        return got not in ALARMS
    return got == expected


def report(name: str, gate: safety.SafetyGate, split: str) -> None:
    total, right = Counter(), Counter()
    for case in cases(split):
        key = (case.expected or "ordinary", case.kind)
        total[key] += 1
        right[key] += _ok(case.expected, gate.check(case.text).category)
    print(f"\n{name}, {split} suite")
    for key in sorted(total):
        print(f"  {key[0]:<24} {key[1]:<18} {right[key]:>3}/{total[key]:<3}")
    for tier in (*ALARMS, "ordinary"):
        keys = [k for k in total if k[0] == tier]
        if keys:
            got, n = sum(right[k] for k in keys), sum(total[k] for k in keys)
            label = "right (no false alarm)" if tier == "ordinary" else "caught"
            print(f"  {tier:<24} {label:<18} {got}/{n} = {got / n:.1%}")


def median_us(check, texts: list[str], repeats: int = 3) -> float:
    times = []
    for text in texts:
        start = time.perf_counter()
        for _ in range(repeats):
            check(text)
        times.append((time.perf_counter() - start) * 1e6 / repeats)
    return statistics.median(times)


def main() -> None:
    engine = get_engine()
    engine.warm_up()
    patterns = safety.SafetyGate()
    for split in ("heldout", "heldout2", "tune"):
        report("patterns only", patterns, split)
        report("patterns + semantic + learned layers", engine.gate, split)
    texts = [c.text for c in cases("heldout")]
    fast = median_us(patterns.check, texts)
    full = median_us(engine.gate.check, texts)
    answer = median_us(engine.answer, texts[:40], repeats=1)
    print(f"\ngate, patterns only:         median {fast:,.0f} µs per message")
    print(f"gate, all layers:            median {full:,.0f} µs per message")
    print(f"whole answer() on the same:  median {answer:,.0f} µs ({full / answer:.1%} is the gate)")


if __name__ == "__main__":
    main()
