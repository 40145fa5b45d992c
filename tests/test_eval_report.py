"""The eval report lists every failing item with its reasons, whatever metric it missed."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from clbp_chat.cli import main
from clbp_chat.config import Settings
from clbp_chat.evaluate.report import reasons
from clbp_chat.index import build_index

from .conftest import ROOT


def _row(**scores) -> dict:
    base = {
        "outcome_ok": 1.0,
        "fact_recall": 1.0,
        "forbidden": 0.0,
        "citation_recall": 1.0,
        "grounded_numbers": 1.0,
    }
    return {
        "expected_outcome": "answered",
        "outcome": "answered",
        "safety_category": None,
        "scores": {**base, **scores},
    }


def test_a_fact_recall_of_zero_is_a_reason_not_a_missing_value():
    assert reasons(_row(fact_recall=0.0)) == ["fact recall 0.000"]
    assert reasons(_row(fact_recall=None)) == []


def test_every_kind_of_miss_gives_its_own_reason():
    row = _row(
        outcome_ok=0.0,
        forbidden=1.0,
        citation_recall=0.0,
        grounded_numbers=0.5,
        no_evidence_reply_problems=["lacks /x/"],
    )
    row["outcome"] = "refused"
    assert reasons(row) == [
        "expected answered, got refused",
        "says forbidden text",
        "does not cite the expected document",
        "a number not in its cited passages",
        "no-evidence reply lacks /x/",
    ]
    assert reasons(_row()) == []


@pytest.mark.slow
def test_a_broken_corpus_sentence_puts_its_item_on_the_failing_list(
    corpus_copy, tmp_path, monkeypatch
):
    """A wrong figure in one sentence: the item asking for it is listed, with the reason, in the
    report and on the terminal; --check fails."""
    kumar = corpus_copy / "kumar-2017.md"
    kumar.write_text(
        kumar.read_text(encoding="utf-8").replace("40 million cells", "4 million cells"),
        encoding="utf-8",
    )
    index = tmp_path / "index"
    build_index(Settings(corpus_dir=corpus_copy, index_dir=index), progress=False)
    facts = yaml.safe_load((ROOT / "evals/sets/facts.yaml").read_text(encoding="utf-8"))
    item = next(i for i in facts["items"] if i["id"] == "kumar-dose")
    one = tmp_path / "one.yaml"
    one.write_text(yaml.safe_dump({"category": "study_facts", "items": [item]}), encoding="utf-8")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CLBP_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("CLBP_INDEX_DIR", str(index))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["eval", "--set", str(one), "--out", str(out), "--check", "--bounds", "overall"]
    )
    assert result.exit_code == 1
    report = (out / "report.md").read_text(encoding="utf-8")
    failing = report.split("## Failing items and why")[1]
    assert "`kumar-dose` (study_facts): fact recall 0.500" in failing
    assert "FAIL kumar-dose: fact recall 0.500" in result.output
    assert "THRESHOLD MISSED: fact_recall" in result.output
    row = json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"][0]
    assert row["verdict"] == "fail" and row["reasons"] == ["fact recall 0.500"]
