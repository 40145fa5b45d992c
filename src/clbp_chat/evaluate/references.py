"""Answers against reference answers, offline and deterministic: the engine's own embedding model,
no LLM judge.

- relevance: cosine of the question and the answer (markers and markdown removed), as RAGAS's
  answer relevancy asks whether the answer is about the question;
- completeness: the share of the reference's sentences that some answer sentence says in other
  words (cosine at least ``reference_match`` of ``evals/scoring.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from clbp_chat.errors import ConfigError
from clbp_chat.text import split_sentences

Encoder = Callable[[list[str]], np.ndarray]


def load_match(path: Path) -> float:
    """``reference_match`` from the scoring file (0-1); a missing or bad file is one line."""
    try:
        value = float(yaml.safe_load(path.read_text(encoding="utf-8"))["reference_match"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: needs reference_match (0-1): {exc}") from None
    if not 0 < value <= 1:
        raise ConfigError(f"{path}: reference_match must be between 0 and 1, not {value}")
    return value


def plain(answer: str) -> str:
    """The answer's prose: citation markers, bold and quote marks removed."""
    return re.sub(r"\s+", " ", re.sub(r"\[\d+\]|\*\*|[“”\"]", "", answer)).strip()


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def relevance(question: str, answer: str, encode: Encoder) -> float:
    q, a = _unit(np.asarray(encode([question, plain(answer)])))
    return round(float(q @ a), 4)


def completeness(answer: str, reference: str, encode: Encoder, match: float) -> float | None:
    """Share of the reference's sentences some answer sentence says (None: an empty side)."""
    wanted = split_sentences(reference)
    said = split_sentences(plain(answer))
    if not wanted or not said:
        return None if not wanted else 0.0
    vectors = _unit(np.asarray(encode(wanted + said)))
    best = (vectors[: len(wanted)] @ vectors[len(wanted) :].T).max(axis=1)
    return round(float((best >= match).mean()), 4)
