"""The corpus: fixed ids, faithful to the fact sheet, and strict about malformed files."""

from __future__ import annotations

import re

import pytest

from clbp_chat.corpus import load_corpus, split_corpus
from clbp_chat.errors import CorpusError
from clbp_chat.text import numbers

from .conftest import CORPUS, SHARED

FIXED_IDS = {
    "evidence-summary",
    "atluri-2022",
    "kumar-2017",
    "pettine-2015",
    "amirdelfan-2021",
    "glossary",
}


def test_corpus_has_the_fixed_doc_ids_and_a_comparison():
    ids = {d.id for d in load_corpus(CORPUS)}
    assert ids >= FIXED_IDS
    assert "study-comparison" in ids


def test_study_documents_carry_the_required_front_matter():
    for doc in load_corpus(CORPUS):
        if doc.type == "study":
            for key in (
                "citation",
                "source",
                "design",
                "participants",
                "follow_up",
                "evidence_level",
            ):
                assert doc.meta.get(key), f"{doc.id} lacks {key}"
            assert doc.source.startswith("https://")


@pytest.mark.skipif(not (SHARED / "seed").is_dir(), reason="shared/seed is not beside the repo")
def test_evidence_summary_ships_the_clinic_seed_text_unchanged():
    seed = next((SHARED / "seed").glob("*.txt")).read_text(encoding="utf-8")
    doc = next(d for d in load_corpus(CORPUS) if d.id == "evidence-summary")
    assert doc.body == seed.strip()


@pytest.mark.skipif(
    not (SHARED / "STUDY_FACTS.md").is_file(), reason="fact sheet not beside the repo"
)
def test_every_figure_in_the_corpus_is_on_the_fact_sheet_or_in_the_seed():
    allowed = numbers((SHARED / "STUDY_FACTS.md").read_text(encoding="utf-8"))
    allowed |= numbers(next((SHARED / "seed").glob("*.txt")).read_text(encoding="utf-8"))
    allowed |= {"1", "2", "3", "36"}  # S1 / L1, "SF-36", "CFU-F" names, "phase I"
    for doc in load_corpus(CORPUS):
        added = numbers(doc.body) - allowed
        assert not added, f"{doc.id} has figures not on the fact sheet: {sorted(added)}"


def test_every_study_has_a_strength_section_for_the_composer():
    chunks = split_corpus(load_corpus(CORPUS), 900)
    for doc_id in FIXED_IDS - {"evidence-summary", "glossary"}:
        assert any(
            c.doc_id == doc_id and c.section == "How strong is this evidence?" for c in chunks
        )


def test_chunk_ids_are_unique_and_stable_across_runs():
    first = [c.id for c in split_corpus(load_corpus(CORPUS), 900)]
    second = [c.id for c in split_corpus(load_corpus(CORPUS), 900)]
    assert first == second
    assert len(set(first)) == len(first)
    assert "pettine-2015#results" in first


def test_chunks_keep_study_name_and_section_in_text_and_metadata():
    chunk = next(c for c in split_corpus(load_corpus(CORPUS), 900) if c.id == "kumar-2017#safety")
    assert chunk.section == "Safety" and chunk.doc_id == "kumar-2017"
    assert "Kumar" in chunk.text and "Safety" in chunk.text


def test_long_sections_are_split_by_size():
    chunks = split_corpus(load_corpus(CORPUS), 200)
    assert all(len(c.body) <= 200 for c in chunks)
    assert any(c.id.endswith("-2") for c in chunks)


def _break(corpus_copy, name, old, new):
    path = corpus_copy / name
    path.write_text(path.read_text().replace(old, new, 1))


def test_missing_required_field_names_file_and_field(corpus_copy):
    _break(corpus_copy, "kumar-2017.md", "follow_up:", "followup_typo:")
    with pytest.raises(CorpusError, match=r"kumar-2017\.md: missing required field 'follow_up'"):
        load_corpus(corpus_copy)


def test_bad_yaml_names_the_file(corpus_copy):
    _break(corpus_copy, "pettine-2015.md", 'participants: "26"', "participants: [26")
    with pytest.raises(CorpusError, match=r"pettine-2015\.md: front matter is not valid YAML"):
        load_corpus(corpus_copy)


def test_file_without_front_matter_is_rejected(corpus_copy):
    (corpus_copy / "notes.md").write_text("just text\n")
    with pytest.raises(CorpusError, match=r"notes\.md: missing YAML front matter"):
        load_corpus(corpus_copy)


def test_duplicate_ids_are_rejected(corpus_copy):
    text = (corpus_copy / "glossary.md").read_text()
    (corpus_copy / "glossary-copy.md").write_text(text)
    with pytest.raises(CorpusError, match=re.escape("id 'glossary' is already used by glossary")):
        load_corpus(corpus_copy)
