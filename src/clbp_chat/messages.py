"""Patient-facing fixed texts, loaded from ``messages.yaml`` and an optional clinic override file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from clbp_chat.config import Settings
from clbp_chat.errors import ConfigError

DEFAULTS = Path(__file__).with_name("messages.yaml")


@lru_cache(maxsize=4)
def _load(
    override: Path | None, emergency_number: str, crisis_line: str, urgent_line: str
) -> dict[str, object]:
    texts = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
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
    fill = {
        "emergency_number": emergency_number,
        "crisis_line": crisis_line,
        "urgent_line": urgent_line,
        "why": "{why}",
    }
    return {k: v.format(**fill).strip() if isinstance(v, str) else v for k, v in texts.items()}


def messages(settings: Settings) -> dict[str, object]:
    """All texts with the clinic's numbers filled in."""
    return _load(
        settings.messages_file,
        settings.emergency_number,
        settings.crisis_line,
        settings.urgent_line,
    )


def with_examples(settings: Settings, key: str) -> str:
    """A fixed reply followed by the example questions, as markdown."""
    texts = messages(settings)
    examples = "\n".join(f"- {q}" for q in texts["examples"])
    return f"{texts[key]}\n\n{texts['examples_lead']}\n{examples}"
