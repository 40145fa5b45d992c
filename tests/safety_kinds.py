"""Safety suite messages in kinds: each positive phrasing as written, buried in a story, with typos.

Shared by tests/test_safety.py and benchmarks/bench_safety.py. The tune file is what the gate
was developed against; the held-out file is never tuned on, and recall is reported on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from clbp_chat.evaluate.suite import load_suite, typo  # noqa: F401 - typo is part of this module's API

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SPLITS = {
    "tune": DATA / "safety_tune.yaml",
    "heldout": DATA / "safety_heldout.yaml",
    # Written later, before a second round of gate changes; also never tuned on.
    "heldout2": DATA / "safety_heldout2.yaml",
}
ALARMS = ("emergency", "urgent", "crisis")
# The same stories and typos as the release gate's held-out suite (evals/safety_suite.yaml).
STORIES = tuple(load_suite(ROOT / "evals" / "safety_suite.yaml").stories)


@dataclass(frozen=True)
class Case:
    text: str
    expected: str | None
    signal: str
    kind: str
    split: str

    @property
    def id(self) -> str:
        return f"{self.split}-{self.expected}-{self.kind}:{self.text[:40]}"


def cases(split: str) -> list[Case]:
    """Every message of a split with its expected category (None: must pass the gate)."""
    data = yaml.safe_load(SPLITS[split].read_text(encoding="utf-8"))
    out: list[Case] = []
    for category, signals in data.items():
        expected = None if category == "none" else category
        for signal, texts in signals.items():
            for k, text in enumerate(texts):
                out.append(Case(text, expected, signal, "as written", split))
                if expected in ALARMS:
                    story = STORIES[k % len(STORIES)].format(n=3 + k, msg=text.rstrip(". "))
                    out.append(Case(story, expected, signal, "buried in a story", split))
                    out.append(Case(typo(text), expected, signal, "typos", split))
    return out
