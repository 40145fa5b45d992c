"""The command line as a user runs it: the real console script, real index, real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from clbp_chat.cli import main

from .conftest import CORPUS, invoke

CLI = str(Path(sys.executable).with_name("clbp-chat"))


def run(args, index_dir, **env):
    return subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "CLBP_INDEX_DIR": str(index_dir), "CLBP_CORPUS_DIR": str(CORPUS), **env},
    )


def test_ask_json_prints_exactly_one_object_of_the_contract(built_index_dir):
    result = invoke(
        "ask", "--json", "Was there a placebo group?", CLBP_INDEX_DIR=str(built_index_dir)
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"question", "outcome", "safety_category", "answer", "citations", "latency_ms"} <= set(
        data
    )
    assert data["outcome"] == "answered" and data["safety_category"] is None
    citation = data["citations"][0]
    assert set(citation) == {"n", "doc_id", "title", "section", "quote", "source", "sources"}
    assert f"[{citation['n']}]" in data["answer"]


@pytest.mark.slow
def test_ask_prints_answer_then_numbered_sources(built_index_dir):
    proc = run(["ask", "How many people were in the Pettine study?"], built_index_dir)
    assert proc.returncode == 0, proc.stderr
    answer, sources = proc.stdout.split("Sources:")
    assert "26" in answer and "[1]" in answer
    assert "[1] Pettine 2015" in sources and "https://doi.org/10.1002/stem.1845" in sources


@pytest.mark.slow
def test_missing_index_is_one_line_on_stderr_and_exit_1(tmp_path):
    proc = run(["ask", "--json", "Is it safe?"], tmp_path / "none")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0
    assert "run `clbp-chat ingest`" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_bad_setting_is_one_clear_line(built_index_dir):
    proc = run(["ask", "hello"], built_index_dir, CLBP_MAX_SENTENCES="lots")
    assert proc.returncode == 1
    assert "CLBP_MAX_SENTENCES" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_misconfigured_model_is_one_clear_line(built_index_dir, tmp_path):
    proc = run(["ask", "hello"], built_index_dir, CLBP_EMBEDDING_MODEL=str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert "CLBP_EMBEDDING_MODEL" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001])
def test_empty_or_huge_question_is_refused_with_exit_2(engine, question, monkeypatch):
    monkeypatch.setenv("CLBP_INDEX_DIR", str(engine.settings.index_dir))
    result = CliRunner().invoke(main, ["ask", question])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_ingest_twice_says_up_to_date(tmp_path, monkeypatch):
    monkeypatch.setenv("CLBP_INDEX_DIR", str(tmp_path / "idx"))
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", "--quiet"])
    assert first.exit_code == 0 and "Indexed" in first.output
    second = runner.invoke(main, ["ingest"])
    assert second.exit_code == 0 and "up to date" in second.output


def test_ingest_with_a_malformed_file_names_it_and_exits_1(tmp_path, corpus_copy, monkeypatch):
    (corpus_copy / "bad.md").write_text("---\nid: bad\n---\nbody\n")
    monkeypatch.setenv("CLBP_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("CLBP_INDEX_DIR", str(tmp_path / "idx"))
    result = CliRunner().invoke(main, ["ingest"])
    assert result.exit_code == 1
    assert "bad.md: missing required field 'type'" in result.output


def test_settings_command_lists_every_setting():
    from clbp_chat.config import Settings

    result = CliRunner().invoke(main, ["settings"])
    for name in Settings.model_fields:
        assert f"CLBP_{name.upper()}=" in result.output
