"""Each eval metric on small hand-made cases whose right value is known, 0 and 1 included."""

from __future__ import annotations

import pytest

from clbp_chat.errors import ClbpError
from clbp_chat.evaluate import metrics as m
from clbp_chat.evaluate.compare import compare
from clbp_chat.evaluate.gate import load_bounds, quality_misses

QUOTE = "The Pettine study included 26 patients with degenerative disc disease."


def test_hit_at_k_looks_at_the_first_k_and_reciprocal_rank_is_one_over_the_rank():
    assert m.hit_at_k(["a", "b", "c"], ["c"], 3) == 1.0
    assert m.hit_at_k(["a", "b", "c"], ["c"], 2) == 0.0
    assert m.reciprocal_rank(["a", "b", "c"], ["b"]) == 0.5
    assert m.reciprocal_rank(["a"], ["z"]) == 0.0


def test_citation_precision_is_one_for_verbatim_and_zero_for_unsupported():
    assert m.citation_precision(f"{QUOTE} [1]", {1: QUOTE}) == 1.0
    assert m.citation_precision("Stem cells cure everyone. [1]", {1: QUOTE}) == 0.0
    assert m.citation_precision("Half right. [1] " + QUOTE + " [2]", {1: QUOTE, 2: QUOTE}) == 0.5
    assert m.citation_precision("No markers at all.", {}) is None


def test_support_rejects_a_changed_number_even_with_the_same_words():
    assert not m.supports("The Pettine study included 62 patients", QUOTE)
    assert m.supports("The clinic's summary says: “The Pettine study included 26 patients.”", QUOTE)


def test_faithfulness_counts_uncited_sentences_as_unsupported():
    assert m.faithfulness(f"{QUOTE} [1]", {1: QUOTE}) == 1.0
    assert m.faithfulness(f"Made-up claim here. {QUOTE} [1]", {1: QUOTE}) == 0.5
    assert m.faithfulness("Stem cells cure everyone. [1]", {1: QUOTE}) == 0.0


def test_doc_and_fact_recall_are_the_share_found_and_any_doc_needs_one():
    assert m.doc_recall(["a", "b"], ["a", "c"]) == 0.5
    assert m.doc_recall(["b"], ["a", "b"], any_doc=True) == 1.0
    assert m.doc_recall([], ["a"]) == 0.0
    assert m.fact_recall("26 patients, 12 months", [r"\b26\b", "12 months"]) == 1.0
    assert m.fact_recall("nothing", [r"\b26\b"]) == 0.0


def test_forbidden_text_is_flagged_and_a_number_missing_from_the_quotes_is_ungrounded():
    assert m.has_forbidden("it is 100% safe", ["100%"]) == 1.0
    assert m.has_forbidden("it is safe", ["100%"]) == 0.0
    assert m.grounded_number_rate("26 patients [1]", [QUOTE]) == 1.0
    assert m.grounded_number_rate("62 patients [1]", [QUOTE]) == 0.0
    assert m.grounded_number_rate("no numbers", [QUOTE]) is None


def test_readability_grade_rises_with_long_words_and_sentences():
    easy = m.readability_grade("The cat sat. The dog ran. We had fun.")
    hard = m.readability_grade(
        "Intradiscal implantation of autologous adipose-derived mesenchymal cells demonstrated "
        "statistically significant improvements in functional disability indices."
    )
    assert easy < 2 < 14 < hard
    assert m.syllables("placebo") == 3 and m.syllables("the") == 1


def test_percentile_interpolates_between_ranks_and_one_value_is_its_own_percentile():
    assert m.percentile([10, 20, 30, 40], 50) == pytest.approx(25)
    assert m.percentile([5], 95) == 5


def test_compare_marks_regressions_in_the_bad_direction_only():
    lines = compare(
        {"overall": {"fact_recall": 0.9, "forbidden_rate": 0.0}},
        {"overall": {"fact_recall": 1.0, "forbidden_rate": 0.1}},
    )
    assert any(line.startswith("fact_recall") and "REGRESSION" in line for line in lines)
    assert any(line.startswith("forbidden_rate") and "REGRESSION" not in line for line in lines)


def check_thresholds(overall: dict, path, by_category: dict | None = None) -> list[str]:
    results = {"overall": overall, "by_category": by_category or {}}
    return quality_misses(results, load_bounds(path, "overall"))


def test_thresholds_report_every_missed_bound(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("overall:\n  fact_recall: {min: 0.95}\n  forbidden_rate: {max: 0.0}\n")
    assert check_thresholds({"fact_recall": 0.99, "forbidden_rate": 0.0}, path) == []
    missed = check_thresholds({"fact_recall": 0.5, "forbidden_rate": 0.2}, path)
    assert len(missed) == 2 and "below the minimum 0.95" in missed[0]


def _run(passing: dict[str, bool], fact_recall: float = 1.0) -> dict:
    rows = [
        {
            "id": item,
            "question": f"question {item}?",
            "category": "facts",
            "expected_outcome": "answered",
            "outcome": "answered",
            "safety_category": None,
            "scores": {"outcome_ok": 1.0, "fact_recall": 1.0 if ok else 0.0},
        }
        for item, ok in passing.items()
    ]
    return {
        "overall": {"fact_recall": fact_recall},
        "by_category": {"facts": {"fact_recall": fact_recall, "latency_p95_ms": 9.0}},
        "rows": rows,
    }


def test_compare_lists_each_item_that_flipped_and_each_category_that_moved():
    lines = compare(_run({"a": False, "b": True}, 0.5), _run({"a": True, "b": False}, 0.5))
    assert "FLIP pass -> fail: a (fact recall 0.000)  REGRESSION" in lines
    assert "FLIP fail -> pass: b" in lines
    assert not any(line.startswith("[facts]") for line in lines)
    lines = compare(_run({"a": False, "b": True}, 0.5), _run({"a": True, "b": True}, 1.0))
    assert "[facts] fact_recall: 1.0 -> 0.5 (-0.5)  REGRESSION" in lines


def test_compare_refuses_runs_over_different_question_sets():
    with pytest.raises(ClbpError, match="different question set"):
        compare(_run({"a": True, "b": True}), _run({"a": True, "c": True}))


def test_a_category_bound_fails_a_category_the_overall_mean_hides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "overall:\n  fact_recall: {min: 0.95}\n"
        "  by_category:\n    safety: {fact_recall: {min: 1.0}}\n"
    )
    by_category = {"safety": {"fact_recall": 0.9}, "facts": {"fact_recall": 1.0}}
    assert check_thresholds({"fact_recall": 0.98}, path, by_category=by_category) == [
        "[safety] fact_recall = 0.9 is below the minimum 1.0"
    ]
    assert check_thresholds({"fact_recall": 0.98}, path, by_category={"facts": {}}) == []
