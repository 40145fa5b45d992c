"""Question-set files are validated on load: every problem reported at once, one line each."""

from __future__ import annotations

import pytest
import yaml

from clbp_chat.errors import ClbpError
from clbp_chat.evaluate.dataset import load_sets
from clbp_chat.evaluate.integrity import load_spec

from .conftest import ROOT, SHARED

DOC_IDS = load_spec(ROOT / "evals" / "corpus.yaml").doc_ids.allowed


def test_the_shipped_sets_and_the_dev_set_load_with_only_allowed_doc_ids():
    assert len(load_sets(ROOT / "evals" / "sets", DOC_IDS)) >= 130
    dev = SHARED / "dev" / "patient-questions.yaml"
    if dev.is_file():
        assert load_sets(dev, DOC_IDS)


def test_each_problem_in_a_set_file_is_one_line_naming_the_file_and_the_item(tmp_path):
    path = tmp_path / "bad.yaml"
    items = [
        {"id": "a", "question": "Q?", "fcts": ["26"]},
        {"id": "b", "question": "Q?", "docs": ["pettine-2014"]},
        {"id": "c", "question": "Q?", "outcome": "safety", "safety_category": "emergancy"},
        {"id": "d", "question": "Q?", "facts": ["(unclosed"]},
        {"id": "e", "question": "Q?", "outcome": "answred"},
        {"id": "ok", "question": "Q?", "facts": [r"\b26\b"]},
    ]
    path.write_text(yaml.safe_dump({"items": items}), encoding="utf-8")
    with pytest.raises(ClbpError) as err:
        load_sets(path, DOC_IDS)
    lines = str(err.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "item a",
        "item b",
        "item c",
        "item d",
        "item e",
    ]
    assert all(line.startswith("bad.yaml: item ") for line in lines)
    assert "unknown key 'fcts'" in lines[0] and "unknown doc id 'pettine-2014'" in lines[1]
    assert "unknown safety category 'emergancy'" in lines[2] and "bad regex" in lines[3]
    assert "unknown outcome 'answred'" in lines[4]


def test_a_patient_format_item_with_an_unknown_key_is_refused(tmp_path):
    path = tmp_path / "patients.yaml"
    path.write_text(yaml.safe_dump([{"q": "hi", "expect": "answered", "mustt": ["x"]}]))
    with pytest.raises(ClbpError, match="patients.yaml: item 1: unknown key 'mustt'"):
        load_sets(path, DOC_IDS)


def test_missing_keys_bad_history_and_every_unknown_top_level_key_are_one_line_each(tmp_path):
    path = tmp_path / "bad.yaml"
    items = [
        {"question": "Q?"},
        {"id": "h", "question": "Q?", "history": [{"role": "robot", "content": "x"}]},
    ]
    path.write_text(yaml.safe_dump({"catgory": "x", "outcom": "answered", "items": items}))
    with pytest.raises(ClbpError) as err:
        load_sets(path, DOC_IDS)
    assert str(err.value).splitlines() == [
        "bad.yaml: unknown top-level key 'catgory'",
        "bad.yaml: unknown top-level key 'outcom'",
    ]
    path.write_text(yaml.safe_dump({"items": items}))
    with pytest.raises(ClbpError) as err:
        load_sets(path, DOC_IDS)
    assert str(err.value).splitlines() == [
        "bad.yaml: item 1: missing 'id'",
        "bad.yaml: item h: history turn 1 is not {role: user|assistant, content: text}",
    ]


def test_an_item_may_accept_alternative_outcomes_and_safety_categories(tmp_path):
    path = tmp_path / "alt.yaml"
    items = [
        {"id": "a", "question": "Q?", "outcome": ["answered", "no_evidence"], "facts": r"\b26\b"},
        {
            "id": "u",
            "question": "Q?",
            "outcome": "safety",
            "safety_category": ["urgent", "emergency"],
        },
    ]
    path.write_text(yaml.safe_dump({"items": items}))
    a, u = load_sets(path, DOC_IDS)
    assert a.outcomes == ("answered", "no_evidence") and a.facts == (r"\b26\b",)
    assert u.safety_categories == ("urgent", "emergency")
