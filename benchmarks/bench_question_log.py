"""What the opt-in question log costs a patient's reply: masking one message, and writing one
entry to a large log, with nothing expired (the usual case: only the first line is read) and with
the retention limit dropping half of it (once a day at most in practice).

Prints medians (these machines are noisy). Needs no index.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clbp_chat.config import Settings
from clbp_chat.privacy import corpus_names, log_question, mask
from clbp_chat.records import Answer

ROOT = Path(__file__).resolve().parent.parent
LOG_ENTRIES = 50_000
REPEATS = 20


def mask_microseconds() -> float:
    cases = _cases()
    keep = corpus_names(ROOT / "corpus")
    times = []
    for _ in range(REPEATS):
        for text in cases:
            start = time.perf_counter()
            mask(text, keep)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _cases() -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "tests" / "data" / "masking_cases.yaml").read_text())
    return [case["text"] for kind in data.values() for case in kind]


def write_milliseconds(folder: Path, expired_share: float) -> float:
    """One entry written to a log of LOG_ENTRIES, ``expired_share`` of them past retention."""
    settings = Settings(data_dir=folder, log_questions=True, corpus_dir=ROOT / "corpus")
    times = []
    for _ in range(REPEATS if expired_share == 0 else 3):
        _fill(folder, expired_share)
        start = time.perf_counter()
        log_question(settings, Answer("What is a placebo?", "answered", "…"))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _fill(folder: Path, expired_share: float) -> None:
    now = datetime.now(UTC)
    old = int(LOG_ENTRIES * expired_share)
    lines = []
    for i in range(LOG_ENTRIES):
        age = timedelta(days=200) if i < old else timedelta(days=1)
        row = {"time": (now - age).isoformat(timespec="seconds"), "question": f"question {i}"}
        lines.append(json.dumps(row) + "\n")
    (folder / "questions.jsonl").write_text("".join(lines))


def main() -> None:
    print(f"mask one message: {mask_microseconds():.0f} µs (median, {len(_cases())} messages)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        none = write_milliseconds(folder, 0.0)
        half = write_milliseconds(folder, 0.5)
    print(f"write one entry to a log of {LOG_ENTRIES:,}: {none:.2f} ms with nothing expired,")
    print(f"  {half:.0f} ms when half of it is past CLBP_LOG_RETENTION_DAYS and is dropped")


if __name__ == "__main__":
    main()
