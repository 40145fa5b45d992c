"""The corpus integrity check of the release gate, on the real corpus and on broken copies of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from clbp_chat.errors import ConfigError
from clbp_chat.evaluate.integrity import corpus_problems, links

from .conftest import ROOT, SHARED

SPEC = ROOT / "evals" / "corpus.yaml"


@pytest.fixture(autouse=True)
def _from_repo_root(monkeypatch):
    """The spec's paths are relative to the repository, as when `make eval` runs."""
    monkeypatch.chdir(ROOT)


def _edit(corpus: Path, name: str, old: str, new: str) -> None:
    path = corpus / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_shipped_corpus_has_no_integrity_problem():
    assert corpus_problems(ROOT / "corpus", SPEC) == []


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside the repo")
def test_the_vendored_fact_sheet_and_seed_are_the_shared_ones():
    vendored = ROOT / "evals" / "reference"
    assert (vendored / "STUDY_FACTS.md").read_bytes() == (SHARED / "STUDY_FACTS.md").read_bytes()
    for seed in (SHARED / "seed").glob("*.txt"):
        assert (vendored / "seed" / seed.name).read_bytes() == seed.read_bytes()


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("pettine-2015.md", "26.3 at 6 months", "6.3 at 6 months", "6.3 is not in the fact sheet"),
        ("pettine-2015.md", "69.5%", "96.5%", "96.5 is not in the fact sheet's pettine-2015"),
        # 100 is on the sheet (Amirdelfan's count), but not on Kumar's part of it
        ("kumar-2017.md", "included 10 patients", "included 100 patients", "100 is not in"),
        (
            "kumar-2017.md",
            "0710-3\n",
            "0701-3\n",
            "source https://doi.org/10.1186/s13287-017-0701-3",
        ),
        ("evidence-summary.md", "Excellent Safety", "Superb Safety", "not the seed text"),
        (
            "study-comparison.md",
            "None of the studies says the treatment is a cure.",
            "All of the studies say the treatment is a cure.",
            "overclaim 'cure'",
        ),
        (
            "pettine-2015.md",
            "id: pettine-2015",
            "id: pettine-2014",
            "doc id pettine-2015 is missing",
        ),
    ],
)
def test_a_broken_corpus_copy_is_reported_in_one_line_naming_the_file(
    corpus_copy, name, old, new, expected
):
    _edit(corpus_copy, name, old, new)
    problems = corpus_problems(corpus_copy, SPEC)
    assert any(expected in p for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_an_overclaim_is_refused_but_its_negation_is_not(corpus_copy):
    path = corpus_copy / "glossary.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\nNo study shows that it works for everyone.\n", encoding="utf-8")
    assert corpus_problems(corpus_copy, SPEC) == []
    path.write_text(text + "\nThe treatment works for everyone.\n", encoding="utf-8")
    assert corpus_problems(corpus_copy, SPEC) == [
        "glossary.md: overclaim 'for everyone' in 'The treatment works for everyone.'"
    ]


def test_a_deleted_or_unknown_document_is_reported(corpus_copy):
    (corpus_copy / "atluri-2022.md").unlink()
    (corpus_copy / "stories.md").write_text(
        "---\nid: patient-stories\ntype: glossary\ntitle: Stories\nshort_name: stories\n---\n"
        "## Stories\n\nMy pain went away.\n",
        encoding="utf-8",
    )
    assert corpus_problems(corpus_copy, SPEC) == [
        "doc id atluri-2022 is missing",
        "doc id patient-stories is not an allowed doc id",
    ]


def test_a_doi_is_the_same_link_however_it_is_written():
    assert links("doi:10.1002/stem.1845.") == links("https://doi.org/10.1002/STEM.1845")
    assert links("https://pubmed.ncbi.nlm.nih.gov/35322978/") == {
        "https://pubmed.ncbi.nlm.nih.gov/35322978"
    }


def test_an_unreadable_spec_is_one_line(tmp_path):
    bad = tmp_path / "corpus.yaml"
    bad.write_text("fact_sheet: [x]\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        corpus_problems(ROOT / "corpus", bad)
    assert "\n" not in str(err.value) and "surprise" in str(err.value)


def test_a_clinic_page_passes_the_gate_but_may_not_overclaim(corpus_copy):
    page = (ROOT / "tests" / "data" / "clinic-on-the-day.md").read_text(encoding="utf-8")
    (corpus_copy / "clinic-on-the-day.md").write_text(page, encoding="utf-8")
    assert corpus_problems(corpus_copy, SPEC) == []
    (corpus_copy / "clinic-on-the-day.md").write_text(
        page + "\nThe injection is a cure for back pain.\n", encoding="utf-8"
    )
    problems = corpus_problems(corpus_copy, SPEC)
    assert len(problems) == 1 and "overclaim 'cure'" in problems[0], problems
