"""The tuned numbers of retrieval, selection and spelling (``tuning.yaml``), checked on load.

They live in a data file, each with a note of how it was set and what re-tunes it, so a reviewer
sees every knob in one place; a deployment's own choices are settings (``config.py``) instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clbp_chat.errors import ConfigError

TUNING_FILE = Path(__file__).with_name("tuning.yaml")
Share = Field(ge=0, le=1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retrieval(_Strict):
    candidates: int = Field(ge=1)


class Selection(_Strict):
    dense_weight: float = Share
    sentence_candidates: int = Field(ge=0)
    question_floor: float = Share
    question_weight: float = Share
    aspect_bonus: float = Share
    near_best: float = Share
    duplicate_cosine: float = Share


class Overview(_Strict):
    overview_match: float = Share
    overview_sentences: int = Field(ge=1)
    overview_sure: float = Share
    claim_match: float = Share
    clinic_page_match: float = Share


class Nudges(_Strict):
    focus_bonus: float = Share
    strength_penalty: float = Share
    glossary_penalty: float = Share
    quantity_bonus: float = Share
    counted_bonus: float = Share
    not_reported_penalty: float = Share


class Counting(_Strict):
    asked: list[str] = Field(min_length=1)
    counted: list[str] = Field(min_length=1)


class Composition(_Strict):
    max_study_strengths: int = Field(ge=0)


class Understanding(_Strict):
    spelt_like: float = Share
    max_parts: int = Field(ge=1)


class Language(_Strict):
    english_share: float = Share


class Spelling(_Strict):
    cutoff: float = Share
    min_length: int = Field(ge=1)
    max_length_change: int = Field(ge=0)
    same_sound_initials: list[str]


class Tuning(_Strict):
    retrieval: Retrieval
    selection: Selection
    overview: Overview
    nudges: Nudges
    not_reported: list[str]
    counting: list[Counting]
    composition: Composition
    understanding: Understanding
    language: Language
    spelling: Spelling


@lru_cache(maxsize=1)
def tuning() -> Tuning:
    """The tuned numbers, read and checked once per process; a broken file is one line."""
    try:
        data = yaml.safe_load(TUNING_FILE.read_text(encoding="utf-8"))
        return Tuning.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else None
        where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"] if first else exc
        raise ConfigError(f"{TUNING_FILE.name} is invalid: {where}") from None
