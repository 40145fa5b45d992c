"""Question sets: YAML files of items with their expected outcome, documents and facts.

One item format (``EvalItem``) whatever the file: an ``items`` mapping (the sets in ``evals/sets``)
or a plain list of patient messages (``shared/dev/patient-questions.yaml``). Either may accept
alternative outcomes and safety categories: the first is the one expected, the others are also right
(an urgent sign answered as an emergency errs the safe way).
"""

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
    also_accepted: tuple[str, ...] = ()
    # Held to only when the reply's outcome is `safety`; the first is the tier it counts under.
    safety_categories: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    any_doc: bool = False
    facts: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    history: tuple[dict, ...] = field(default_factory=tuple)
    reference: str | None = None

    @property
    def outcomes(self) -> tuple[str, ...]:
        return (self.outcome, *self.also_accepted)


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
    "reference",
}
ITEM_REQUIRED = ("id", "question")
TOP_KEYS = {"category", "outcome", "items"}
PATIENT_KEYS = {"q", "expect", "category", "docs", "must", "must_not", "history"}
PATIENT_REQUIRED = ("q", "expect")
SAFETY_CATEGORIES = (
    "emergency",
    "urgent",
    "crisis",
    "personal_medical_advice",
    "out_of_scope",
    "prompt_injection",
)
ROLES = ("user", "assistant")


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _history_problems(history: object) -> list[str]:
    if history is None:
        return []
    turns = history if isinstance(history, list) else [history]
    bad = [
        n
        for n, turn in enumerate(turns, 1)
        if not isinstance(turn, dict)
        or set(turn) != {"role", "content"}
        or turn["role"] not in ROLES
        or not isinstance(turn["content"], str)
    ]
    if not isinstance(history, list) or bad:
        return [
            f"history turn {bad[0] if bad else 1} is not {{role: user|assistant, content: text}}"
        ]
    return []


def _pattern_problems(raw: dict) -> list[str]:
    out = []
    for key in ("facts", "forbidden", "must", "must_not"):
        for pattern in _as_list(raw.get(key)):
            try:
                re.compile(str(pattern))
            except re.error as exc:
                out.append(f"bad regex in {key} {pattern!r}: {exc}")
    return out


def item_problems(
    raw: object, keys: set[str], doc_ids: frozenset[str] | None, defaults: dict | None = None
) -> list[str]:
    """What is wrong with one raw item: missing or unknown keys, unknown outcomes, safety
    categories or doc ids, a malformed history, and patterns that are not regular expressions
    (each a short phrase)."""
    if not isinstance(raw, dict):
        return ["is not a mapping"]
    required = PATIENT_REQUIRED if keys is PATIENT_KEYS else ITEM_REQUIRED
    out = [f"missing '{k}'" for k in required if k not in raw]
    out += [f"unknown key '{k}'" for k in sorted(set(raw) - keys)]
    outcomes = _as_list(raw.get("expect", raw.get("outcome", (defaults or {}).get("outcome"))))
    out += [f"unknown outcome '{o}'" for o in outcomes if o not in OUTCOMES]
    if "expect" in raw and not outcomes:
        out.append("has no outcome")
    categories = _as_list(raw.get("safety_category")) + (
        _as_list(raw.get("category")) if keys is PATIENT_KEYS else []
    )
    out += [f"unknown safety category '{c}'" for c in categories if c not in SAFETY_CATEGORIES]
    if doc_ids is not None:
        out += [f"unknown doc id '{d}'" for d in _as_list(raw.get("docs")) if d not in doc_ids]
    return out + _history_problems(raw.get("history")) + _pattern_problems(raw)


def _strings(raw: dict, key: str) -> tuple[str, ...]:
    return tuple(str(v) for v in _as_list(raw.get(key)))


def _item(raw: dict, category: str, outcome: object) -> EvalItem:
    outcomes = _strings({"o": raw.get("outcome", outcome)}, "o")
    return EvalItem(
        id=str(raw["id"]),
        category=str(raw.get("category", category)),
        question=str(raw["question"]),
        outcome=outcomes[0],
        also_accepted=outcomes[1:],
        safety_categories=_strings(raw, "safety_category"),
        docs=_strings(raw, "docs"),
        any_doc=bool(raw.get("any_doc", False)),
        facts=_strings(raw, "facts"),
        forbidden=_strings(raw, "forbidden"),
        history=tuple(raw.get("history") or ()),
        reference=str(raw["reference"]).strip() if raw.get("reference") else None,
    )


def _patient_item(raw: dict, n: int, where: str) -> EvalItem:
    """One item of the patient-message format (``q``, ``expect``, ``category``, ``must``...)."""
    expect = _strings(raw, "expect")
    return EvalItem(
        id=f"{Path(where).stem}-{n}",
        category=f"patients-{expect[0]}",
        question=str(raw["q"]),
        outcome=expect[0],
        also_accepted=expect[1:],
        safety_categories=_strings(raw, "category"),
        docs=_strings(raw, "docs"),
        any_doc=True,
        facts=_strings(raw, "must"),
        forbidden=_strings(raw, "must_not"),
        history=tuple(raw.get("history") or ()),
    )


def _raw_items(path: Path) -> tuple[list, set[str], dict]:
    """The file's raw items, the keys an item may have, and the file's defaults."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClbpError(f"cannot read question set {path}: {first}") from None
    if isinstance(data, list):
        return data, PATIENT_KEYS, {}
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        unknown = sorted(set(data) - TOP_KEYS)
        if unknown:
            raise ClbpError("\n".join(f"{path.name}: unknown top-level key '{k}'" for k in unknown))
        return data["items"], ITEM_KEYS, data
    raise ClbpError(f"{path}: expected a mapping with an 'items' list, or a list of messages")


def load_set(path: Path, doc_ids: frozenset[str] | None = None) -> list[EvalItem]:
    """Items of one YAML file: an ``items`` mapping (defaults at the top), or a plain list of
    patient messages in the format of ``shared/dev/patient-questions.yaml``. Every problem in the
    file is raised at once, one line each, naming the file and the item."""
    raws, keys, defaults = _raw_items(path)
    problems = [
        f"{path.name}: item {raw.get('id', n) if isinstance(raw, dict) else n}: {problem}"
        for n, raw in enumerate(raws, 1)
        for problem in item_problems(raw, keys, doc_ids, defaults)
    ]
    if problems:
        raise ClbpError("\n".join(problems))
    if keys is PATIENT_KEYS:
        return [_patient_item(raw, n, path.name) for n, raw in enumerate(raws, 1)]
    category = str(defaults.get("category", path.stem))
    outcome = defaults.get("outcome", "answered")
    return [_item(raw, category, outcome) for raw in raws]


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
