"""Requests the assistant declines or hands back: prompt injection, off-topic, personal advice.

Checked in that order, after the warning signs: "should I buy bitcoin?" is off-topic before it is
personal advice, and an instruction hidden in a question is refused whatever it asks for. The
patterns live in ``declines.yaml``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from clbp_chat.text import term_compiler

PROMPT_INJECTION = "prompt_injection"
OUT_OF_SCOPE = "out_of_scope"
PERSONAL_ADVICE = "personal_medical_advice"
REASONS = {
    PROMPT_INJECTION: "instructions in the message",
    OUT_OF_SCOPE: "off-topic request",
    PERSONAL_ADVICE: "asks for a personal decision",
}
RULES_FILE = Path(__file__).with_name("declines.yaml")


@lru_cache(maxsize=1)
def _rules() -> tuple[dict[str, list[re.Pattern[str]]], list[re.Pattern[str]], re.Pattern[str]]:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    compile_ = term_compiler(data.get("terms", {}))
    kinds = {kind: [compile_(p) for p in data[kind]] for kind in REASONS}
    subjects = [re.compile(p) for p in data["out_of_scope_subjects"]]
    return kinds, subjects, re.compile(data["in_scope"])


def classify(normalized: str) -> tuple[str, str] | None:
    """(category, reason) for the first kind of request that matches, or None."""
    kinds, subjects, in_scope = _rules()
    for kind, patterns in kinds.items():
        if any(p.search(normalized) for p in patterns):
            return kind, REASONS[kind]
        if (
            kind == OUT_OF_SCOPE
            and not in_scope.search(normalized)
            and any(p.search(normalized) for p in subjects)
        ):
            return kind, REASONS[kind]
    return None
