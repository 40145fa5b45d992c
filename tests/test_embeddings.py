"""The ONNX path gives the vectors, and so the answers, of sentence-transformers on torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from clbp_chat.config import BUNDLED_MODEL
from clbp_chat.embeddings import TorchSentenceModel, load_model, resolve_model_path
from clbp_chat.evaluate.dataset import load_sets
from clbp_chat.onnx_model import OnnxSentenceModel, cache_file

from .conftest import ROOT, engine_with

MODEL = Path(resolve_model_path(BUNDLED_MODEL))


@pytest.fixture(scope="module")
def torch_model() -> TorchSentenceModel:
    return TorchSentenceModel(str(MODEL))


def _comparable(answer) -> dict:
    out = answer.to_json()
    for key in ("answer_id", "latency_ms"):
        out.pop(key)
    return out


@pytest.mark.slow
def test_onnx_vectors_match_torch_on_the_corpus_and_the_questions(engine, torch_model):
    assert engine.embeddings.backend == "onnx"
    index = engine.index
    questions = [i.question for i in load_sets()]
    texts = [
        *(c.text for c in index.chunks),
        *(s for _, s in index.sentences),
        *questions,
        " ".join(questions),  # far past the model's 256 tokens: truncated alike
        "  spaces   around  ",
        "Ünïcödé café — naïve 😀",
        "a",
    ]
    ours, reference = engine.embeddings.encode(texts), torch_model.encode(texts)
    assert ours.shape == reference.shape
    assert float(np.abs(ours - reference).max()) < 1e-5


@pytest.mark.slow
def test_answers_are_identical_on_both_backends(engine):
    """Eval sets (with follow-ups), the held-out answers and a slice of the safety phrasings."""
    on_torch = engine_with(engine, embedding_backend="torch")
    assert on_torch.embeddings.backend == "torch"
    items = [(i.question, list(i.history)) for i in load_sets()]
    heldout = yaml.safe_load((ROOT / "tests/data/answer_heldout.yaml").read_text())
    items += [(r["q"], r.get("history") or []) for r in heldout]
    safety = yaml.safe_load((ROOT / "tests/data/safety_tune.yaml").read_text())
    items += [(q, []) for kinds in safety.values() for qs in kinds.values() for q in qs[:2]]
    differ = [
        q
        for q, history in items
        if _comparable(engine.answer(q, history)) != _comparable(on_torch.answer(q, history))
    ]
    assert len(items) > 150
    assert differ == []


def _model_copy(tmp_path: Path) -> Path:
    """The bundled model's files, linked into a folder whose configuration a test may change."""
    copy = tmp_path / "model"
    copy.mkdir()
    for path in MODEL.iterdir():
        (copy / path.name).symlink_to(path, target_is_directory=path.is_dir())
    return copy


@pytest.mark.slow
def test_a_model_onnx_cannot_run_falls_back_to_torch_and_says_why(tmp_path, capsys):
    copy = _model_copy(tmp_path)
    (copy / "1_Pooling").unlink()
    (copy / "1_Pooling").mkdir()
    pooling = json.loads((MODEL / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    model = load_model(str(copy), "onnx", tmp_path / "cache")
    assert isinstance(model, TorchSentenceModel)
    assert "embedding on torch, not ONNX: pooling" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_a_damaged_export_is_made_again(tmp_path, torch_model):
    target = cache_file(MODEL, tmp_path)
    target.write_bytes(b"not an onnx file")
    model = OnnxSentenceModel(str(MODEL), tmp_path)
    vector = model.encode(["is it safe?"])
    assert target.stat().st_size > 1_000_000
    assert float(np.abs(vector - torch_model.encode(["is it safe?"])).max()) < 1e-5


@pytest.mark.slow
def test_a_serving_engine_never_imports_torch(settings):
    """Start-up time and memory: torch is only needed once, to export the model."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from clbp_chat.answer import Engine\n"
        "from clbp_chat.config import Settings\n"
        f"engine = Engine(Settings(index_dir=Path({str(settings.index_dir)!r})))\n"
        "engine.warm_up()\n"
        "engine.answer('is it safe?')\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_a_cache_folder_that_cannot_be_written_falls_back_to_torch(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    model = load_model(BUNDLED_MODEL, "onnx", blocker / "cache")
    assert isinstance(model, TorchSentenceModel)
    assert f"cannot write to {blocker / 'cache'}" in capsys.readouterr().err
