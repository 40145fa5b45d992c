"""The shape of ``safety_signals.yaml``, checked when it loads.

A misspelt key or tier (``tier: emergancy``) would otherwise load silently and switch a warning
sign off; here it is a one-line error at start-up and in ``make test``, as medspacy validates its
ConText rules. Only the shape is checked here; ``safety.load_rules`` compiles the patterns.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["emergency", "urgent", "crisis"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignalSpec(_Strict):
    tier: Tier
    label: str = Field(min_length=1)
    why: str = ""
    past_counts: bool = False
    plan: bool = False
    patterns: list[str] = Field(min_length=1)
    together: list[list[str]] = Field(default_factory=list)
    needs: str | None = None
    unless: str | None = None
    examples: list[str] = Field(default_factory=list)


class ContextSpec(_Strict):
    negators: str
    negation_window: int = Field(ge=1)
    pseudo_negations: str
    backward_negation: str
    resolved: str
    together_breaks: str
    double_negative: str | None = None
    clause_breaks: str
    first_person: str
    first_person_subject: str
    other_person: str
    other_person_after: str
    past: str
    general_question: str
    general_subject: str
    hypothetical: str
    figures_of_speech: list[str]
    disclaims_crisis: str
    mild_after_effects: str


class SemanticSpec(_Strict):
    threshold: float = Field(ge=0, le=1)
    margin: float = Field(ge=0, le=1)
    min_words: int = Field(ge=1)
    near_misses: list[str]


class LearnedSignalSpec(_Strict):
    label: str = Field(min_length=1)
    why: str = ""


class RuleFile(_Strict):
    terms: dict[str, str] = Field(default_factory=dict)
    signals: dict[str, SignalSpec] = Field(min_length=1)
    context: ContextSpec
    semantic: SemanticSpec
    spelling_words: str = ""
    learned: dict[Tier, LearnedSignalSpec] = Field(default_factory=dict)


def first_problem(exc: Exception) -> str:
    """Pydantic's first error as 'where: what', one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc).splitlines()[0]
