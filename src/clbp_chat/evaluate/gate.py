"""The release gate: a named section of ``evals/thresholds.yaml`` read against one run.

Three gates, each with its own lines and exit code, so one can never hide another:

- quality: the overall figures, each category's own bar (``by_category``), the held-out safety
  suite per tier (``safety_suite``) and the corpus's integrity;
- latency (``latency``): missed only when *every* latency bound is missed. The median alone may be
  the machine (a loaded CI box), and the ratio to the tutorial peer timed on the same questions in
  the same run alone may be noise on a fast one; a slower answer path raises both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clbp_chat.errors import ClbpError

SUITE_TIERS = ("emergency", "urgent", "crisis", "any_alarm")
QUALITY_FAILED = 1
LATENCY_FAILED = 3


@dataclass(frozen=True)
class Bounds:
    """One section of the thresholds file, split by what each part gates."""

    name: str
    overall: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    safety_suite: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)


def sections(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ClbpError(f"cannot read thresholds {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ClbpError(f"{path}: expected one mapping of bounds per name")
    return data


def load_bounds(path: Path, name: str) -> Bounds:
    """The section ``name`` of the thresholds file; an unknown name is one line naming the others."""
    data = sections(path)
    if not isinstance(data.get(name), dict):
        raise ClbpError(f"{path} has no bounds named '{name}' (it has: {', '.join(data)})")
    limits = dict(data[name])
    parts = {k: limits.pop(k, None) or {} for k in ("by_category", "safety_suite", "latency")}
    for key, bound in limits.items():
        if not isinstance(bound, dict) or not set(bound) <= {"min", "max"}:
            raise ClbpError(f"{path}: {name}.{key} must be {{min: x}} or {{max: x}}")
    unknown = sorted(set(parts["safety_suite"]) - set(SUITE_TIERS))
    if unknown:
        raise ClbpError(
            f"{path}: {name}.safety_suite.{unknown[0]} is not a tier ({', '.join(SUITE_TIERS)})"
        )
    return Bounds(name, limits, **parts)


def unknown_categories(bounds: Bounds, categories: set[str]) -> list[str]:
    """``by_category`` names that are no category of the run: on the default sets, a misspelt
    category would otherwise hold nothing to its bar, silently."""
    known = ", ".join(sorted(categories))
    return [
        f"{bounds.name}.by_category.{c} is no category of the question sets ({known})"
        for c in sorted(set(bounds.by_category) - categories)
    ]


def missed(label: str, values: dict, limits: dict) -> list[str]:
    """Each bound of ``limits`` that ``values`` misses, as a readable line."""
    out = []
    for name, bound in limits.items():
        value = values.get(name)
        if value is None:
            out.append(f"{label}{name}: no value in this run")
        elif "min" in bound and value < bound["min"]:
            out.append(f"{label}{name} = {value} is below the minimum {bound['min']}")
        elif "max" in bound and value > bound["max"]:
            out.append(f"{label}{name} = {value} is above the maximum {bound['max']}")
    return out


def quality_misses(results: dict, bounds: Bounds) -> list[str]:
    """Every quality bound the run missed: overall, per category (a category the run lacks is
    skipped), per tier of the held-out safety suite (when it ran), and the corpus problems."""
    out = missed("", results["overall"], bounds.overall)
    for category, limits in bounds.by_category.items():
        if category in results["by_category"]:
            out += missed(f"[{category}] ", results["by_category"][category], limits)
    suite = results.get("safety_suite")
    if suite:
        for tier, limits in bounds.safety_suite.items():
            values = suite["any_alarm"] if tier == "any_alarm" else suite["tiers"].get(tier, {})
            out += missed(f"[held-out safety: {tier}] ", values, limits)
    problems = results.get("corpus_problems") or []
    return out + ([f"corpus integrity: {len(problems)} problem(s)"] if problems else [])


def latency_misses(results: dict, bounds: Bounds) -> list[str]:
    """The latency bounds missed, or nothing when any one of them holds (see the module)."""
    lines = missed("", results["latency"], bounds.latency)
    return lines if bounds.latency and len(lines) == len(bounds.latency) else []
