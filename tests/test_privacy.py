"""The opt-in question log: identifiers masked, warning signs kept as their category only, old
entries dropped, and every entry tied to its answer so ratings can find it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clbp_chat.cli import main
from clbp_chat.masking import nhs_number
from clbp_chat.privacy import corpus_names, mask, read_questions

from .conftest import CORPUS, engine_with, write_question_log

CASES = yaml.safe_load((Path(__file__).parent / "data" / "masking_cases.yaml").read_text())
ALL = [case for kind in CASES.values() for case in kind]
STUDY_AUTHORS = corpus_names(CORPUS)


@pytest.mark.parametrize("case", ALL, ids=[c["text"][:40] for c in ALL])
def test_masking_hides_identifiers_and_keeps_the_question_readable(case):
    masked = mask(case["text"], STUDY_AUTHORS)
    for private in case.get("hide", []):
        assert private not in masked, masked
    for readable in case.get("keep", []):
        assert readable in masked, masked
    for placeholder in case.get("shows", []):
        assert placeholder in masked, masked


def test_study_authors_are_the_corpus_short_names():
    assert {"pettine", "kumar", "atluri", "amirdelfan"} <= STUDY_AUTHORS


def test_nhs_number_check_digit_follows_modulus_11():
    assert nhs_number("943 476 5919") and nhs_number("401-023-2137")
    assert not nhs_number("943 476 5918") and not nhs_number("943 476 591")


def test_mask_hides_emails_and_phone_numbers():
    text = mask("mail jo.doe+x@clinic.co.uk or call +1 (555) 123-4567 about 26 patients")
    assert "jo.doe" not in text and "555" not in text
    assert "[email]" in text and "[phone]" in text and "26 patients" in text


def _log(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "questions.jsonl").read_text().splitlines()]


def test_logged_question_is_masked_and_carries_its_answer_id(engine, tmp_path):
    local = engine_with(engine, log_questions=True, data_dir=tmp_path)
    result = local.answer("Hi, I'm called Bronwen Price. How much does it cost? bron@example.com")
    [row] = _log(tmp_path)
    assert row["answer_id"] == result.answer_id
    assert "Bronwen" not in row["question"] and "bron@" not in row["question"]
    assert row["reason"] == "not_covered" and row["topic"] == "cost"
    assert (tmp_path / "questions.jsonl").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("I've suddenly lost control of my bladder and my bum feels numb, Mrs Patel", "emergency"),
        ("I don't want to be alive anymore, my name is Sam", "crisis"),
    ],
)
def test_warning_sign_and_crisis_messages_are_logged_as_their_category_only(
    engine, tmp_path, message, category
):
    local = engine_with(engine, log_questions=True, data_dir=tmp_path)
    assert local.answer(message).safety_category == category
    [row] = _log(tmp_path)
    assert row["safety_category"] == category and row["question"] is None
    assert "bladder" not in json.dumps(row) and "alive" not in json.dumps(row)


def test_questions_older_than_the_retention_limit_are_dropped_when_one_is_written(engine, tmp_path):
    write_question_log(tmp_path, 120, 95, 30, 1)
    local = engine_with(engine, log_questions=True, data_dir=tmp_path, log_retention_days=90)
    local.answer("What is a placebo?")
    assert [r["question"] for r in _log(tmp_path)][:2] == ["q30", "q1"]
    assert len(_log(tmp_path)) == 3


def test_retention_of_zero_keeps_every_question(engine, tmp_path):
    write_question_log(tmp_path, 900, 1)
    local = engine_with(engine, log_questions=True, data_dir=tmp_path, log_retention_days=0)
    local.answer("What is a placebo?")
    assert len(_log(tmp_path)) == 3


def test_expired_questions_are_never_read_back_even_before_the_next_write(engine, tmp_path):
    write_question_log(tmp_path, 200, 3)
    settings = engine.settings.model_copy(update={"data_dir": tmp_path, "log_retention_days": 30})
    assert [r["question"] for r in read_questions(settings)] == ["q3"]


def test_damaged_log_line_is_dropped_not_a_traceback(engine, tmp_path):
    write_question_log(tmp_path, 200)
    with (tmp_path / "questions.jsonl").open("a") as fh:
        fh.write("{not json\n")
    local = engine_with(engine, log_questions=True, data_dir=tmp_path)
    local.answer("What is a placebo?")
    assert [r["question"] for r in _log(tmp_path)] == ["What is a placebo?"]


def test_nothing_is_logged_when_logging_is_off(engine, tmp_path):
    engine_with(engine, data_dir=tmp_path / "kept").answer("my name is Sarah, what is a placebo?")
    assert not (tmp_path / "kept").exists()


def test_unanswered_still_lists_what_the_library_could_not_answer(engine, tmp_path, monkeypatch):
    local = engine_with(engine, log_questions=True, data_dir=tmp_path)
    local.answer("How much does stem cell therapy cost? write to me at a@b.com")
    local.answer("What is a placebo?")
    monkeypatch.setenv("CLBP_LOG_QUESTIONS", "true")
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path))
    output = CliRunner().invoke(main, ["unanswered"]).output
    assert "cost" in output and "[email]" in output and "a@b.com" not in output
    assert "placebo" not in output


def test_entries_within_an_hour_of_the_limit_go_with_the_expired_ones(engine, tmp_path):
    """So that a busy log is rewritten at most once an hour, not on every question."""
    write_question_log(tmp_path, 91, 89.99, 89)
    local = engine_with(engine, log_questions=True, data_dir=tmp_path, log_retention_days=90)
    local.answer("What is a placebo?")
    assert [r["question"] for r in _log(tmp_path)] == ["q89", "What is a placebo?"]
