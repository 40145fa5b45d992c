"""The package's shape: imports point one way, the pipeline runs gate first, the command line
starts light, and an optional part that is missing is one line naming its extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from clbp_chat.answer import Engine
from clbp_chat.cli import REPORT_FORMATS, main
from clbp_chat.errors import IndexMissing
from clbp_chat.report import FORMATS

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from function_length import long_functions  # noqa: E402
from import_cycles import cycles, import_graph  # noqa: E402

PACKAGE = ROOT / "src" / "clbp_chat"


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    package.mkdir()
    for name, text in {"__init__.py": "", **files}.items():
        (package / name).write_text(textwrap.dedent(text))
    return package


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph(PACKAGE)) == []


def test_no_function_in_the_source_is_over_sixty_lines():
    assert [
        f"{p.name}:{line} {name} ({n})" for p, line, name, n in long_functions(ROOT / "src")
    ] == []


def test_the_length_check_finds_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert [(name, n) for _, _, name, n in long_functions(tmp_path)] == [("long", 62)]


def test_the_cycle_check_finds_a_lazy_import_cycle(tmp_path):
    package = _package(
        tmp_path,
        {
            "low.py": "def late():\n    from pkg.high import thing\n",
            "high.py": "from pkg import low\nthing = 1\n",
        },
    )
    assert cycles(import_graph(package)) == [["pkg.high", "pkg.low", "pkg.high"]]


def test_the_cycle_check_ignores_imports_for_type_hints_only(tmp_path):
    package = _package(
        tmp_path,
        {
            "low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.high import T\n",
            "high.py": "from pkg.low import TYPE_CHECKING\nT = int\n",
        },
    )
    assert cycles(import_graph(package)) == []


def test_the_cycle_check_fails_make_lint_with_the_cycle_named(tmp_path):
    package = _package(tmp_path, {"a.py": "from pkg import b\n", "b.py": "from . import a\n"})
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "import_cycles.py"), str(package)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stdout.strip() == "import cycle: pkg.a -> pkg.b -> pkg.a"


def test_the_command_line_loads_no_pipeline_library_for_help():
    heavy = ["clbp_chat.answer", "clbp_chat.config", "langchain_core", "chromadb", "torch"]
    code = f"import sys, clbp_chat.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_package_exports_load_on_use_and_answer_stays_the_function():
    code = (
        "import sys, clbp_chat\n"
        "assert 'clbp_chat.answer' not in sys.modules\n"
        "import clbp_chat.answer\n"
        "from clbp_chat import Answer, Engine, answer\n"
        "print(callable(answer) and answer.__module__, Engine.__name__, Answer.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["clbp_chat.answer", "Engine", "Answer"]


def test_the_report_formats_on_the_command_line_are_the_reports():
    assert REPORT_FORMATS == FORMATS


def test_a_warning_sign_is_answered_before_the_index_is_opened(settings, tmp_path):
    no_index = Engine(settings.model_copy(update={"index_dir": tmp_path / "none"}))
    reply = no_index.answer("I can't feel anything down there when I wipe and I wet myself")
    assert reply.outcome == "safety" and reply.safety_category == "emergency"
    assert "index" not in no_index.__dict__
    with pytest.raises(IndexMissing):
        no_index.answer("How many people were in the Pettine study?")


@pytest.mark.parametrize(
    ("module", "extra"), [("matplotlib", "eval"), ("langchain_chroma", "eval")]
)
def test_eval_without_its_extra_is_one_line_naming_it(monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    result = CliRunner().invoke(main, ["eval", "--out", "unused"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"pip install 'clbp-chat[{extra}]'" in result.output


def test_without_onnx_the_model_runs_on_sentence_transformers_saying_so(
    monkeypatch, tmp_path, capsys
):
    from clbp_chat.embeddings import TorchSentenceModel, load_model

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the onnx extra were not installed
    model = load_model("bundled", "onnx", tmp_path / "fresh-cache")  # nothing exported yet
    assert isinstance(model, TorchSentenceModel)
    said = capsys.readouterr().err.strip().splitlines()
    assert said == [
        "clbp-chat: embedding on torch, not ONNX: exporting needs onnx "
        "(pip install 'clbp-chat[onnx]')"
    ]
    assert model.encode(["Was there a placebo group?"]).shape == (1, 384)
