"""Patient-facing fixed texts, loaded from ``messages.yaml`` and an optional clinic override file.

Every text may name the clinic's settings as placeholders (``{emergency_number}``, ``{urgent_line}``,
``{crisis_line}``, ``{clinic_name}``); a placeholder nobody fills is a start-up error, so a typo in a
clinic's file never reaches a patient as literal braces.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import yaml

from clbp_chat.config import Settings
from clbp_chat.errors import ConfigError

DEFAULTS = Path(__file__).with_name("messages.yaml")
# Filled when the text is sent, not from settings: the warning sign's own sentence, the origin of a
# page the widget may not run on.
LATE_PLACEHOLDERS = {
    "emergency": ("why",),
    "urgent": ("why",),
    "widget_refused": ("origin",),
    "other_study": ("study", "studies"),
    "other_study_name": ("name",),
    "other_study_year": ("year",),
}


@lru_cache(maxsize=1)
def package_texts() -> dict[str, object]:
    """The package's own texts, placeholders unfilled: for readers that have no settings (the
    evals' support rule strips the composer's ``summary_lead``)."""
    return yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def _load(override: Path | None, fill: tuple[tuple[str, str], ...]) -> dict[str, object]:
    texts = dict(package_texts())
    source = DEFAULTS.name
    if override is not None:
        try:
            extra = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read CLBP_MESSAGES_FILE {override}: {exc}") from None
        unknown = (
            sorted(set(extra) - set(texts)) if isinstance(extra, dict) else ["(not a mapping)"]
        )
        if unknown:
            raise ConfigError(f"{override}: unknown message keys: {', '.join(unknown)}")
        texts.update(extra)
        source = str(override)
    return {key: _filled(key, value, _values(key, fill), source) for key, value in texts.items()}


def _values(key: str, fill: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """What each placeholder of ``key`` becomes now (a late one stays as it is)."""
    return dict(fill) | {name: "{" + name + "}" for name in LATE_PLACEHOLDERS.get(key, ())}


def _filled(key: str, value: object, values: dict[str, str], source: str) -> object:
    """``value`` with the placeholders filled (each text of a list too)."""
    if isinstance(value, list):
        return [_filled(key, item, values, source) for item in value]
    if not isinstance(value, str):
        return value
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{source}: message {key!r}: {exc} (write {{{{ for a brace)") from None
    unknown = sorted(names - set(values))
    if unknown:
        known = ", ".join("{" + n + "}" for n in values)
        raise ConfigError(
            f"{source}: message {key!r} names an unknown placeholder {{{unknown[0]}}} "
            f"(known: {known})"
        )
    return value.format(**values).strip()


def messages(settings: Settings) -> dict[str, object]:
    """All texts with the clinic's name and numbers filled in."""
    fill = (
        ("emergency_number", settings.emergency_number),
        ("crisis_line", settings.crisis_line),
        ("urgent_line", settings.urgent_line),
        ("clinic_name", settings.clinic_name),
    )
    return _load(settings.messages_file, fill)


def with_examples(settings: Settings, key: str) -> str:
    """A fixed reply followed by the example questions, as markdown."""
    texts = messages(settings)
    examples = "\n".join(f"- {q}" for q in texts["examples"])
    return f"{texts[key]}\n\n{texts['examples_lead']}\n{examples}"
