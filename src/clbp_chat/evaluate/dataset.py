"""Question sets: YAML files of items with their expected outcome, documents and facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clbp_chat.errors import ClbpError

DEFAULT_SETS = Path("evals/sets")
OUTCOMES = ("answered", "no_evidence", "safety")


@dataclass(frozen=True)
class EvalItem:
    """One question with what a correct reply must (and must not) contain."""

    id: str
    category: str
    question: str
    outcome: str
    safety_category: str | None = None
    also_accepted: tuple[str, ...] = ()
    safety_categories: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    any_doc: bool = False
    facts: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    history: tuple[dict, ...] = field(default_factory=tuple)


def _item(raw: dict, category: str, outcome: str, where: str) -> EvalItem:
    try:
        item = EvalItem(
            id=str(raw["id"]),
            category=str(raw.get("category", category)),
            question=str(raw["question"]),
            outcome=str(raw.get("outcome", outcome)),
            safety_category=raw.get("safety_category"),
            docs=tuple(raw.get("docs", ())),
            any_doc=bool(raw.get("any_doc", False)),
            facts=tuple(raw.get("facts", ())),
            forbidden=tuple(raw.get("forbidden", ())),
            history=tuple(raw.get("history", ())),
        )
    except KeyError as exc:
        raise ClbpError(f"{where}: an item is missing '{exc.args[0]}'") from None
    if item.outcome not in OUTCOMES:
        raise ClbpError(f"{where}: item {item.id} has unknown outcome '{item.outcome}'")
    return item


def _patient_item(raw: object, n: int, where: str) -> EvalItem:
    """One item of the patient-message format (``q``, ``expect``, ``category``, ``must``...)."""
    if not isinstance(raw, dict) or "q" not in raw or "expect" not in raw:
        raise ClbpError(f"{where}: item {n} needs 'q' and 'expect'")
    expect = raw["expect"] if isinstance(raw["expect"], list) else [raw["expect"]]
    cats = raw.get("category") or []
    cats = cats if isinstance(cats, list) else [cats]
    if not expect or any(e not in OUTCOMES for e in expect):
        raise ClbpError(f"{where}: item {n} has an unknown outcome in {expect}")
    return EvalItem(
        id=f"{Path(where).stem}-{n}",
        category=f"patients-{expect[0]}",
        question=str(raw["q"]),
        outcome=expect[0],
        also_accepted=tuple(expect[1:]),
        safety_categories=tuple(cats),
        docs=tuple(raw.get("docs", ())),
        any_doc=True,
        facts=tuple(raw.get("must", ())),
        forbidden=tuple(raw.get("must_not", ())),
        history=tuple(raw.get("history", ())),
    )


def load_set(path: Path) -> list[EvalItem]:
    """Items of one YAML file: an ``items`` mapping (defaults at the top), or a plain list of
    patient messages in the format of ``shared/dev/patient-questions.yaml``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ClbpError(f"cannot read question set {path}: {exc}") from None
    if isinstance(data, list):
        return [_patient_item(raw, n, path.name) for n, raw in enumerate(data, 1)]
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ClbpError(f"{path}: expected a mapping with an 'items' list")
    category = str(data.get("category", path.stem))
    outcome = str(data.get("outcome", "answered"))
    return [_item(raw, category, outcome, path.name) for raw in data["items"]]


def load_sets(path: Path | None = None) -> list[EvalItem]:
    """One file, or every ``*.yaml`` under a folder (default ``evals/sets``); ids must be unique."""
    path = path or DEFAULT_SETS
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise ClbpError(f"no question sets found at {path}")
    items = [item for f in files for item in load_set(f)]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ClbpError(f"duplicate eval item id '{item.id}'")
        seen.add(item.id)
    return items
