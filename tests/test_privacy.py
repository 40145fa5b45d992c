"""Opt-in question log: identifiers masked, and staff can list what the library could not answer."""

from __future__ import annotations

from click.testing import CliRunner

from clbp_chat.cli import main
from clbp_chat.privacy import mask

from .conftest import engine_with


def test_mask_hides_emails_and_phone_numbers():
    text = mask("mail jo.doe+x@clinic.co.uk or call +1 (555) 123-4567 about 26 patients")
    assert "jo.doe" not in text and "555" not in text
    assert "[email]" in text and "[phone]" in text and "26 patients" in text


def test_opt_in_log_masks_and_feeds_the_unanswered_list(engine, tmp_path, monkeypatch):
    local = engine_with(engine, log_questions=True, data_dir=tmp_path)
    local.answer("How much does stem cell therapy cost? write to me at a@b.com")
    local.answer("What is a placebo?")
    monkeypatch.setenv("CLBP_LOG_QUESTIONS", "true")
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path))
    output = CliRunner().invoke(main, ["unanswered"]).output
    assert "cost" in output and "[email]" in output and "a@b.com" not in output
    assert "placebo" not in output
