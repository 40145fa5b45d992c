"""Question sets: YAML files of items with their expected outcome, documents and facts."""

from __future__ import annotations

import re
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


ITEM_KEYS = {
    "id",
    "category",
    "question",
    "outcome",
    "safety_category",
    "docs",
    "any_doc",
    "facts",
    "forbidden",
    "history",
}
PATIENT_KEYS = {"q", "expect", "category", "docs", "must", "must_not", "history"}
SAFETY_CATEGORIES = (
    "emergency",
    "urgent",
    "crisis",
    "personal_medical_advice",
    "out_of_scope",
    "prompt_injection",
)


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def item_problems(raw: object, keys: set[str], doc_ids: frozenset[str] | None) -> list[str]:
    """What is wrong with one raw item: unknown keys, outcomes, safety categories or doc ids, and
    patterns that are not regular expressions (each a short phrase)."""
    if not isinstance(raw, dict):
        return ["is not a mapping"]
    out = [f"unknown key '{k}'" for k in sorted(set(raw) - keys)]
    outcomes = _as_list(raw.get("expect", raw.get("outcome")))
    out += [f"unknown outcome '{o}'" for o in outcomes if o not in OUTCOMES]
    categories = _as_list(raw.get("safety_category")) + (
        _as_list(raw.get("category")) if "q" in raw else []
    )
    out += [f"unknown safety category '{c}'" for c in categories if c not in SAFETY_CATEGORIES]
    if doc_ids is not None:
        out += [f"unknown doc id '{d}'" for d in _as_list(raw.get("docs")) if d not in doc_ids]
    for key in ("facts", "forbidden", "must", "must_not"):
        for pattern in _as_list(raw.get(key)):
            try:
                re.compile(str(pattern))
            except re.error as exc:
                out.append(f"bad regex in {key} {pattern!r}: {exc}")
    return out


def _item(raw: dict, category: str, outcome: str, where: str) -> EvalItem:
    try:
        return EvalItem(
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


def _patient_item(raw: dict, n: int, where: str) -> EvalItem:
    """One item of the patient-message format (``q``, ``expect``, ``category``, ``must``...)."""
    if "q" not in raw or "expect" not in raw:
        raise ClbpError(f"{where}: item {n} needs 'q' and 'expect'")
    expect = _as_list(raw["expect"])
    if not expect:
        raise ClbpError(f"{where}: item {n} has no outcome")
    return EvalItem(
        id=f"{Path(where).stem}-{n}",
        category=f"patients-{expect[0]}",
        question=str(raw["q"]),
        outcome=expect[0],
        also_accepted=tuple(expect[1:]),
        safety_categories=tuple(_as_list(raw.get("category"))),
        docs=tuple(raw.get("docs", ())),
        any_doc=True,
        facts=tuple(raw.get("must", ())),
        forbidden=tuple(raw.get("must_not", ())),
        history=tuple(raw.get("history", ())),
    )


def load_set(path: Path, doc_ids: frozenset[str] | None = None) -> list[EvalItem]:
    """Items of one YAML file: an ``items`` mapping (defaults at the top), or a plain list of
    patient messages in the format of ``shared/dev/patient-questions.yaml``. Every problem in the
    file is raised at once, one line each, naming the file and the item."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ClbpError(f"cannot read question set {path}: {exc}") from None
    if isinstance(data, list):
        raws, keys = data, PATIENT_KEYS
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        raws, keys = data["items"], ITEM_KEYS
        unknown = sorted(set(data) - {"category", "outcome", "items"})
        if unknown:
            raise ClbpError(f"{path.name}: unknown top-level key '{unknown[0]}'")
    else:
        raise ClbpError(f"{path}: expected a mapping with an 'items' list")
    problems = [
        f"{path.name}: item {raw.get('id', n) if isinstance(raw, dict) else n}: {problem}"
        for n, raw in enumerate(raws, 1)
        for problem in item_problems(raw, keys, doc_ids)
    ]
    if problems:
        raise ClbpError("\n".join(problems))
    if keys is PATIENT_KEYS:
        return [_patient_item(raw, n, path.name) for n, raw in enumerate(raws, 1)]
    category = str(data.get("category", path.stem))
    outcome = str(data.get("outcome", "answered"))
    return [_item(raw, category, outcome, path.name) for raw in raws]


def load_sets(path: Path | None = None, doc_ids: frozenset[str] | None = None) -> list[EvalItem]:
    """One file, or every ``*.yaml`` under a folder (default ``evals/sets``); ids must be unique.
    With ``doc_ids``, an item naming any other document is an error."""
    path = path or DEFAULT_SETS
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise ClbpError(f"no question sets found at {path}")
    items = [item for f in files for item in load_set(f, doc_ids)]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ClbpError(f"duplicate eval item id '{item.id}'")
        seen.add(item.id)
    return items
