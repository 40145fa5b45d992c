"""Classifiers learned from the example banks: which warning tier a message shows, what kind of
message it is (a question for the library, not covered, personal advice, small talk), what a
question asks about (its aspect) and which study it describes without naming it.

The banks (``banks/*.yaml``) are patient messages written by many independent writers, each file
with its writer's persona; none was written by the people who write the rules. A multinomial
logistic regression on the message's sentence embedding (the model the library already loads) is
trained from them in a few seconds, deterministically, and kept beside the model's export, keyed by
the banks' and the model's fingerprint. Prediction is one matrix product in numpy.

Thresholds live in ``learned.yaml`` with how they were chosen; ``benchmarks/bench_learned.py``
trains on some writers and measures on writers it did not train on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from clbp_chat.config import Settings
from clbp_chat.text import normalize, split_message

BANKS = Path(__file__).with_name("banks")
SETTINGS_FILE = Path(__file__).with_name("learned.yaml")
FORMAT = "4"  # bump when the saved arrays change shape or meaning
TIERS = ("none", "emergency", "urgent", "crisis")
ROUTES = ("answer", "not_covered", "personal_advice", "small_talk")
# The study a question is about, as its writer meant it; "several" and "unnamed" name none.
STUDIES = ("atluri", "kumar", "pettine", "amirdelfan", "several", "unnamed")
ASPECTS = (
    "results",
    "who",
    "design",
    "safety",
    "duration",
    "cells",
    "strength",
    "term",
    "opioids",
)

Encoder = Callable[[list[str]], np.ndarray]


class BankMessage(BaseModel):
    """One labelled message; a typo in a key or a label fails loudly when the banks load."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    alarm: str = Field(pattern="^(none|emergency|urgent|crisis)$")
    route: str | None = Field(None, pattern="^(answer|not_covered|personal_advice|small_talk)$")
    study: str | None = Field(None, pattern="^(atluri|kumar|pettine|amirdelfan|several|unnamed)$")
    aspect: str | None = Field(
        None, pattern="^(results|who|design|safety|duration|cells|strength|term|opioids)$"
    )


class Bank(BaseModel):
    """One writer's file: who wrote it, which split it belongs to, and the messages."""

    model_config = ConfigDict(extra="forbid")
    writer: str
    persona: str
    split: str = Field(pattern="^(train|validation)$")
    # A round written for one purpose teaches only that: w27-w28 wrote warning signs and their
    # look-alikes, and their few routes leaned on one topic ("the plaster mark after the jab" read
    # as not covered pulled "is it a cure or a sticking plaster" with it).
    teaches: list[Literal["tier", "route"]] = Field(default=["tier", "route"], min_length=1)
    messages: list[BankMessage]

    @property
    def routed(self) -> bool:
        return "route" in self.teaches


def load_banks(folder: Path = BANKS) -> list[Bank]:
    """Every writer's bank, validated; a broken file names itself in one line."""
    from clbp_chat.errors import ConfigError

    banks = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            banks.append(Bank.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))))
        except Exception as exc:  # noqa: BLE001 - yaml and pydantic errors alike
            first = str(exc).splitlines()[0]
            raise ConfigError(f"example bank {path.name} is invalid: {first}") from None
    return banks


class Thresholds(BaseModel):
    """``learned.yaml``: how sure each head must be before its label counts."""

    model_config = ConfigDict(extra="forbid")
    emergency: float | None = Field(ge=0, le=1)
    urgent: float | None = Field(ge=0, le=1)
    crisis: float | None = Field(ge=0, le=1)
    crisis_sentence: float = Field(ge=0, le=1)
    crisis_sentence_floor: float = Field(ge=0, le=1)
    not_covered: float = Field(ge=0, le=1)
    personal_advice: float = Field(ge=0, le=1)
    small_talk: float = Field(ge=0, le=1)
    aspect: float = Field(ge=0, le=1)
    study: float = Field(ge=0, le=1)
    regularization: float = Field(gt=0)
    neighbours: int = Field(ge=1)
    agree: int = Field(ge=0)
    min_words: int = Field(ge=1)


@lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    return Thresholds.model_validate(yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Head:
    """A fitted multinomial logistic regression: class probabilities from unit vectors."""

    classes: tuple[str, ...]
    weights: np.ndarray  # (classes, dimensions)
    bias: np.ndarray  # (classes,)

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def fit_head(vectors: np.ndarray, labels: list[str], classes: tuple[str, ...], c: float) -> Head:
    """Multinomial logistic regression, balanced classes (few crisis rows must still count)."""
    from sklearn.linear_model import LogisticRegression

    y = np.array([classes.index(label) for label in labels])
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(vectors, y)
    order = [list(model.classes_).index(i) for i in range(len(classes))]
    return Head(classes, model.coef_[order].astype(np.float32), model.intercept_[order])


def segments(message: str) -> list[str]:
    """The whole message and, when it has several, each sentence: a warning sign buried in a
    long story is read on its own as well as in its story."""
    text = normalize(message).strip()
    parts = [s for s in split_message(text) if len(s.split()) >= 3]
    return list(dict.fromkeys([text, *parts])) if len(parts) > 1 else [text]


@dataclass
class Classifiers:
    """The learned heads (warning tier, route, aspect, study) on the library's own encoder."""

    safety: Head
    route_head: Head
    aspect_head: Head
    study_head: Head
    encoder: Encoder
    limits: Thresholds
    # The banks' own vectors and tiers: a tier counts only when most of the message's nearest
    # bank messages carry it too, so a message unlike anything in the banks ("write me a poem")
    # cannot land on a warning tier by the regression's extrapolation alone.
    bank_vectors: np.ndarray
    bank_tiers: np.ndarray
    bank_routes: np.ndarray  # -1 for warning messages, which carry no route

    def tier(self, message: str) -> tuple[str, float] | None:
        """The highest warning tier the whole message reaches past its threshold; for crisis,
        also any one sentence of a long story past a stricter threshold."""
        if len(message.split()) < self.limits.min_words:
            return None
        parts = segments(message)
        vectors = self.encoder(parts)
        probs = self.safety.proba(vectors)
        for tier in ("emergency", "crisis", "urgent"):
            k, limit = self.safety.classes.index(tier), getattr(self.limits, tier)
            if limit is None:
                continue
            if probs[0, k] >= limit and self._neighbours_agree(vectors[0], self.bank_tiers, k):
                return tier, float(probs[0, k])
        crisis = self.safety.classes.index("crisis")
        if probs[0, crisis] < self.limits.crisis_sentence_floor:
            return None
        for row in range(1, len(parts)):
            if probs[row, crisis] >= self.limits.crisis_sentence and self._neighbours_agree(
                vectors[row], self.bank_tiers, crisis
            ):
                return "crisis", float(probs[row, crisis])
        return None

    def aspect(self, message: str) -> str | None:
        """What a question for the library asks about (results, who took part, safety...), when
        the head is sure; selection then reads that section of the study first."""
        label, sure = _best(self.aspect_head, self._vector(message))
        return label if sure >= self.limits.aspect else None

    def study(self, message: str) -> str | None:
        """The one study a question describes without naming it ("the bone marrow one with 26
        people", "the petty knee study"), when the head is sure; None for several or none."""
        label, sure = _best(self.study_head, self._vector(message))
        return None if label in ("several", "unnamed") or sure < self.limits.study else label

    def _vector(self, message: str) -> np.ndarray:
        return self.encoder([normalize(message).strip()])[0]

    def _neighbours_agree(self, vector: np.ndarray, labels: np.ndarray, label: int) -> bool:
        """At least ``agree`` of the ``neighbours`` nearest bank messages that carry a label of
        this kind (-1: none, e.g. no route for a warning sign) carry ``label``."""
        sims = np.where(labels >= 0, self.bank_vectors @ vector, -np.inf)
        nearest = np.argsort(-sims)[: self.limits.neighbours]
        return int((labels[nearest] == label).sum()) >= self.limits.agree

    def route(self, message: str) -> str | None:
        """'not_covered', 'personal_advice' or 'small_talk' when confident; None: let the
        library answer (the rules and the evidence threshold still decide)."""
        vector = self._vector(message)
        label, sure = _best(self.route_head, vector)
        if label == "answer" or sure < getattr(self.limits, label):
            return None
        agree = self._neighbours_agree(vector, self.bank_routes, ROUTES.index(label))
        return label if agree else None


def _best(head: Head, vector: np.ndarray) -> tuple[str, float]:
    """The head's most probable class for one vector, and its probability."""
    probs = head.proba(vector[None, :])[0]
    best = int(np.argmax(probs))
    return head.classes[best], float(probs[best])


def train(banks: Iterable[Bank], encoder: Encoder, limits: Thresholds) -> Classifiers:
    """Fit the four heads on the given writers' messages."""
    pairs = [(m, bank.routed) for bank in banks for m in bank.messages]
    rows = [m for m, _ in pairs]
    vectors = encoder([normalize(m.text).strip() for m in rows])
    safety = fit_head(vectors, [m.alarm for m in rows], TIERS, limits.regularization)
    routed = [i for i, (m, r) in enumerate(pairs) if r and m.alarm == "none" and m.route]
    route = fit_head(
        vectors[routed], [rows[i].route for i in routed], ROUTES, limits.regularization
    )
    asked = [i for i in routed if rows[i].route == "answer" and rows[i].aspect]
    aspect = fit_head(
        vectors[asked], [rows[i].aspect for i in asked], ASPECTS, limits.regularization
    )
    named = [i for i in routed if rows[i].route == "answer" and rows[i].study]
    study = fit_head(vectors[named], [rows[i].study for i in named], STUDIES, limits.regularization)
    tiers = np.array([TIERS.index(m.alarm) for m in rows], dtype=np.int8)
    routes = np.full(len(rows), -1, np.int8)
    routes[routed] = [ROUTES.index(rows[i].route) for i in routed]
    return Classifiers(
        safety, route, aspect, study, encoder, limits, vectors.astype(np.float32), tiers, routes
    )


def fingerprint(settings: Settings) -> str:
    """Changes when a bank, the thresholds' regularization or the model changes."""
    digest = hashlib.sha256(FORMAT.encode())
    digest.update(f"{settings.embedding_model}|{settings.embedding_backend}".encode())
    digest.update(str(thresholds().regularization).encode())
    for path in sorted(BANKS.glob("*.yaml")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_stem(settings: Settings) -> str:
    """Per backend: a torch engine and an ONNX engine sharing a cache folder keep their own heads
    (the vectors differ in the last digits), instead of each evicting the other's."""
    return f"classifiers-{settings.embedding_backend}-"


def load_classifiers(settings: Settings, encoder: Encoder) -> Classifiers:
    """The trained heads from the cache, or trained now from every bank and cached (atomic)."""
    limits = thresholds()
    path = Path(settings.model_cache_dir) / f"{_cache_stem(settings)}{fingerprint(settings)}.npz"
    if path.is_file():
        try:
            return _read(path, encoder, limits)
        except Exception:  # noqa: BLE001 - a damaged cache file (any error) is trained again
            path.unlink(missing_ok=True)
    fitted = train(load_banks(), encoder, limits)
    _write(path, fitted)
    return fitted


def _write(path: Path, fitted: Classifiers) -> None:
    """Save atomically, then remove the heads of older banks or models."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                safety_w=fitted.safety.weights,
                safety_b=fitted.safety.bias,
                route_w=fitted.route_head.weights,
                route_b=fitted.route_head.bias,
                aspect_w=fitted.aspect_head.weights,
                aspect_b=fitted.aspect_head.bias,
                study_w=fitted.study_head.weights,
                study_b=fitted.study_head.bias,
                bank_vectors=fitted.bank_vectors,
                bank_tiers=fitted.bank_tiers,
                bank_routes=fitted.bank_routes,
            )
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return  # a cache that cannot be written only costs a retrain next start
    for old in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def _read(path: Path, encoder: Encoder, limits: Thresholds) -> Classifiers:
    with np.load(path) as data:
        safety = Head(TIERS, data["safety_w"], data["safety_b"])
        route = Head(ROUTES, data["route_w"], data["route_b"])
        aspect = Head(ASPECTS, data["aspect_w"], data["aspect_b"])
        study = Head(STUDIES, data["study_w"], data["study_b"])
        vectors, tiers, routes = data["bank_vectors"], data["bank_tiers"], data["bank_routes"]
    return Classifiers(safety, route, aspect, study, encoder, limits, vectors, tiers, routes)
