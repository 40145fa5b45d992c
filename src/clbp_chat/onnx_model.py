"""The embedding model run by ONNX Runtime: the vectors of sentence-transformers in about a third
of the time per message, and no torch in a serving process.

sentence-transformers' own ONNX backend goes through optimum, whose releases pin transformers 4.x,
so it cannot be installed beside sentence-transformers 6. Instead the model's transformer is
exported once with ``torch.onnx`` into a cache folder, and its pooling and normalising (read from
the model folder's ``modules.json``) are done here in numpy. Tokenising uses the model's own
``tokenizer.json``. ``tests/test_embeddings.py`` checks that vectors and answers match the torch path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clbp_chat.extras import EXTRAS, install_hint

_MODULE = "sentence_transformers.models."
_SUPPORTED = {f"{_MODULE}Transformer", f"{_MODULE}Pooling", f"{_MODULE}Normalize"}
_OPSET = 17


class OnnxUnsupported(Exception):
    """This model cannot run on the ONNX path (its layout, or a missing package); use torch."""


@dataclass(frozen=True)
class ModelLayout:
    """What sentence-transformers does around the transformer, read from the model folder."""

    max_length: int
    pooling: str  # "mean" or "cls"
    normalize: bool


def read_layout(model_path: Path) -> ModelLayout:
    """The model's tokeniser length, pooling and normalising; :class:`OnnxUnsupported` for any
    layout other than transformer -> mean or CLS pooling -> optional normalise."""
    try:
        modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
        types = [m["type"] for m in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"] == f"{_MODULE}Pooling")
        pooling = json.loads((model_path / pooling_dir / "config.json").read_text(encoding="utf-8"))
        config = json.loads((model_path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration, TypeError) as exc:
        raise OnnxUnsupported(f"cannot read the model's layout ({type(exc).__name__})") from None
    if types[0] != f"{_MODULE}Transformer" or not set(types) <= _SUPPORTED:
        raise OnnxUnsupported(f"modules {types} are not transformer -> pooling -> normalise")
    if not (model_path / "tokenizer.json").is_file():
        raise OnnxUnsupported("the model has no tokenizer.json")
    modes = [k for k, on in pooling.items() if k.startswith("pooling_mode_") and on]
    by_mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
    if len(modes) != 1 or modes[0] not in by_mode:
        raise OnnxUnsupported(f"pooling {modes} is neither mean nor CLS alone")
    return ModelLayout(
        int(config.get("max_seq_length") or 512),
        by_mode[modes[0]],
        f"{_MODULE}Normalize" in types,
    )


def cache_file(model_path: Path, cache_dir: Path) -> Path:
    """Where this model's export lives; a changed or reinstalled model gets a new name."""
    files = sorted(p for p in model_path.iterdir() if p.is_file())
    stamp = [str(model_path.resolve()), _OPSET] + [
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files
    ]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]
    return cache_dir / f"{model_path.name}-{key}.onnx"


def export(model_path: Path, target: Path) -> None:
    """Export the transformer to ``target`` (about 2 s, needs torch and onnx), written whole:
    a process that reads the file never sees half of it."""
    try:
        import onnx  # noqa: F401 - torch.onnx needs it; fail here with a clear reason
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        hint = f" ({install_hint(exc.name)})" if exc.name in EXTRAS else ""
        raise OnnxUnsupported(f"exporting needs {exc.name}{hint}") from None

    class _Transformer(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = _Transformer(AutoModel.from_pretrained(str(model_path))).eval()
    sample = torch.ones((1, 4), dtype=torch.int64)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(target.parent)
        handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
        os.close(handle)
    except OSError as exc:
        raise OnnxUnsupported(f"cannot write to {target.parent} ({exc.strerror})") from None
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (sample, sample),
                tmp,
                input_names=["input_ids", "attention_mask"],
                output_names=["tokens"],
                dynamic_axes={
                    n: {0: "batch", 1: "length"} for n in ("input_ids", "attention_mask", "tokens")
                },
                opset_version=_OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except Exception as exc:  # noqa: BLE001 - any export failure means: use torch
        raise OnnxUnsupported(f"export failed ({type(exc).__name__}: {exc})") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


# An export in progress is written in well under this; an older partial file is an orphan of an
# export that was killed (about 90 MB each).
ORPHAN_SECONDS = 600


def _remove_orphans(folder: Path) -> None:
    """Delete partial exports left by a killed process; a fresh one may be another's, in progress."""
    now = time.time()
    for partial in folder.glob("*.onnx.tmp"):
        with contextlib.suppress(OSError):
            if now - partial.stat().st_mtime > ORPHAN_SECONDS:
                partial.unlink()


class OnnxSentenceModel:
    """``encode(texts)`` -> float32 vectors, as ``SentenceTransformer.encode`` gives them."""

    def __init__(self, model_path: str, cache_dir: Path) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxUnsupported(f"the ONNX path needs {exc.name}") from None
        path = Path(model_path)
        self.layout = read_layout(path)
        target = cache_file(path, cache_dir)
        if not target.is_file():
            export(path, target)
        options = ort.SessionOptions()
        options.log_severity_level = 3

        def session():
            return ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])

        try:
            self.session = session()
        except Exception:  # noqa: BLE001 - a damaged cache file: export it again, once
            export(path, target)
            self.session = session()
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.layout.max_length)
        self.tokenizer.no_padding()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Texts of similar length are batched together, so little of each batch is padding."""
        if not texts:
            return np.zeros((0, 0), np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(texts)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            for i, vector in zip(batch, self._run([encodings[i] for i in batch]), strict=True):
                out[i] = vector
        return np.stack(out)

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        mask = np.zeros((len(encodings), width), np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        tokens = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        if self.layout.pooling == "cls":
            vectors = tokens[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.layout.normalize:
            vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors.astype(np.float32)
