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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clbp_chat.errors import ConfigError
from clbp_chat.safety_rules import first_problem
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
Compiled = tuple[
    dict[str, list[re.Pattern[str]]], list[re.Pattern[str]], re.Pattern[str], re.Pattern[str]
]


class DeclineFile(BaseModel):
    """The shape of ``declines.yaml``: a misspelt kind would otherwise switch its patterns off."""

    model_config = ConfigDict(extra="forbid")
    terms: dict[str, str] = Field(default_factory=dict)
    prompt_injection: list[str] = Field(min_length=1)
    out_of_scope: list[str] = Field(min_length=1)
    out_of_scope_subjects: list[str] = Field(min_length=1)
    in_scope: str = Field(min_length=1)
    personal_medical_advice: list[str] = Field(min_length=1)
    personal_medical_advice_unless: str = Field(min_length=1)


def load_rules(path: Path = RULES_FILE) -> Compiled:
    """Read, validate and compile the file; a broken one is one line (``ConfigError``) naming the
    key or pattern, raised when the safety gate is built, so at start-up and in ``make test``."""
    try:
        rules = DeclineFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path.name} is invalid: {first_problem(exc)}") from None
    compile_ = term_compiler(rules.terms)
    try:
        kinds = {kind: [compile_(p) for p in getattr(rules, kind)] for kind in REASONS}
        subjects = [re.compile(p) for p in rules.out_of_scope_subjects]
        unless = compile_(rules.personal_medical_advice_unless)
        return kinds, subjects, re.compile(rules.in_scope), unless
    except re.error as exc:
        raise ConfigError(f"{path.name} is invalid: bad pattern {exc.pattern!r}: {exc}") from None


@lru_cache(maxsize=1)
def rules() -> Compiled:
    """The bundled file's rules, compiled once per process."""
    return load_rules()


def classify(normalized: str) -> tuple[str, str] | None:
    """(category, reason) for the first kind of request that matches, or None."""
    kinds, subjects, in_scope, logistics = rules()
    for kind, patterns in kinds.items():
        spans = (
            [m.span() for m in logistics.finditer(normalized)] if kind == PERSONAL_ADVICE else []
        )
        if any(
            not any(a <= m.start() < b for a, b in spans)
            for p in patterns
            for m in p.finditer(normalized)
        ):
            return kind, REASONS[kind]
        if (
            kind == OUT_OF_SCOPE
            and not in_scope.search(normalized)
            and any(p.search(normalized) for p in subjects)
        ):
            return kind, REASONS[kind]
    return None
