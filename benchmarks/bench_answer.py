"""Latency figures: cold `clbp-chat ask` (new process) and warm per-question `answer()` time.

Prints medians (these machines are noisy). Run with `make bench`; needs a built index.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from clbp_chat import safety
from clbp_chat.answer import get_engine
from clbp_chat.evaluate.dataset import load_sets

COLD_RUNS = 3
WARM_QUESTIONS = 20
GATE_REPEATS = 200


def cold_ask_seconds() -> list[float]:
    cli = str(Path(sys.executable).with_name("clbp-chat"))
    times = []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        subprocess.run(
            [cli, "ask", "--json", "Was there a placebo group?"], check=True, capture_output=True
        )
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    cold = cold_ask_seconds()
    engine = get_engine()
    engine.warm_up()
    questions = [i.question for i in load_sets() if i.outcome == "answered" and not i.history]
    warm = []
    for question in questions[:WARM_QUESTIONS]:
        start = time.perf_counter()
        engine.answer(question)
        warm.append((time.perf_counter() - start) * 1000)
    gate = []
    for question in questions[:WARM_QUESTIONS]:
        start = time.perf_counter()
        for _ in range(GATE_REPEATS):
            safety.check(question)
        gate.append((time.perf_counter() - start) * 1e6 / GATE_REPEATS)
    print(
        f"cold `clbp-chat ask` (process start to answer): median {statistics.median(cold):.2f} s over {COLD_RUNS} runs"
    )
    print(
        f"warm answer(): median {statistics.median(warm):.1f} ms, max {max(warm):.1f} ms over {len(warm)} questions"
    )
    print(
        f"safety gate, patterns only: median {statistics.median(gate):.0f} µs per message "
        f"({statistics.median(gate) / 1000 / statistics.median(warm):.2%} of a warm answer); "
        "benchmarks/bench_safety.py times the full gate"
    )


if __name__ == "__main__":
    main()
