"""What a clinic's fixed replies must say (``evals/deployment.yaml``), written by the evaluator.

The expectations are the evaluator's, never read back from the settings under test: a deployment
whose emergency number is wrong, or whose crisis reply lost its line, fails the release gate.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from clbp_chat.errors import ConfigError


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    must: list[str] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)

    @field_validator("must", "must_not")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return patterns


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emergency: Rules = Rules()
    urgent: Rules = Rules()
    crisis: Rules = Rules()
    personal_medical_advice: Rules = Rules()
    prompt_injection: Rules = Rules()
    out_of_scope: Rules = Rules()
    no_evidence: Rules = Rules()
    all: Rules = Rules()

    def problems(self, category: str | None, reply: str) -> list[str]:
        """What the reply of this safety category (or ``no_evidence``) lacks or says that it must
        not."""
        own = getattr(self, category) if category in type(self).model_fields else None
        rules = [self.all, *([own] if own else [])]
        out = []
        for rule in rules:
            out += [f"lacks /{p}/" for p in rule.must if not re.search(p, reply, re.I)]
            out += [f"says /{p}/" for p in rule.must_not if re.search(p, reply, re.I)]
        return out


def load_deployment(path: Path) -> Deployment:
    """The expectations file, validated; a missing file, an unknown key or a bad pattern is one
    line (a gate that cannot read its expectations must not pass)."""
    if not path.is_file():
        raise ConfigError(f"no safety-reply expectations at {path}: write evals/deployment.yaml")
    try:
        return Deployment.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except Exception as exc:  # noqa: BLE001 - yaml and pydantic errors alike
        first = str(exc).splitlines()
        raise ConfigError(f"{path}: {' '.join(first[:3])}") from None
