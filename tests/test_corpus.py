"""The corpus: fixed ids, faithful to the fact sheet, and strict about malformed files."""

from __future__ import annotations

import pytest

from clbp_chat.corpus import load_corpus, split_corpus
from clbp_chat.errors import CorpusError
from clbp_chat.text import numbers

from .conftest import CORPUS, SHARED, invoke

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


def test_missing_required_field_names_file_field_and_fix(corpus_copy):
    _break(corpus_copy, "kumar-2017.md", "follow_up:", "followup_typo:")
    with pytest.raises(
        CorpusError, match=r"kumar-2017\.md: missing required field 'follow_up'; add a line"
    ):
        load_corpus(corpus_copy)


def test_unclosed_list_names_the_file_and_the_line_it_opens(corpus_copy):
    _break(corpus_copy, "pettine-2015.md", 'participants: "26"', "participants: [26")
    line = _line_of(corpus_copy / "pettine-2015.md", "participants:")
    with pytest.raises(CorpusError, match=rf"pettine-2015\.md: the list opened on line {line} "):
        load_corpus(corpus_copy)


def test_file_without_front_matter_says_how_a_document_begins(corpus_copy):
    (corpus_copy / "notes.md").write_text("just text\n")
    with pytest.raises(CorpusError, match=r"notes\.md: line 1 should be '---'"):
        load_corpus(corpus_copy)


def test_a_byte_order_mark_and_blank_lines_before_the_front_matter_are_accepted(corpus_copy):
    path = corpus_copy / "pettine-2015.md"
    path.write_bytes(b"\xef\xbb\xbf\n\n" + path.read_bytes())
    doc = next(d for d in load_corpus(corpus_copy) if d.id == "pettine-2015")
    assert doc.title.startswith("Pettine 2015") and doc.id_line == 4


def test_field_written_twice_names_both_lines(corpus_copy):
    path = corpus_copy / "kumar-2017.md"
    path.write_text(path.read_text().replace("\ntype: study\n", "\ntype: study\ntype: faq\n", 1))
    with pytest.raises(
        CorpusError, match=r"kumar-2017\.md: 'type' is written twice, on lines 3 and 4"
    ):
        load_corpus(corpus_copy)


def run_ingest(corpus_copy, tmp_path):
    """`clbp-chat ingest` on the corpus copy, as staff run it after editing a file."""
    result = invoke(
        "ingest", CLBP_CORPUS_DIR=str(corpus_copy), CLBP_INDEX_DIR=str(tmp_path / "index")
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "index").exists()  # nothing was written
    return result.output


@pytest.mark.parametrize("copy_name", ["glossary-copy.md", "a-glossary.md"])
def test_duplicate_id_blames_the_new_file_not_the_shipped_one(corpus_copy, tmp_path, copy_name):
    (corpus_copy / copy_name).write_text((corpus_copy / "glossary.md").read_text())
    assert run_ingest(corpus_copy, tmp_path).startswith(
        f"error: {copy_name}: id 'glossary' (line 2) is already used by glossary.md; "
        "give this document its own id"
    )


def test_unclosed_quote_is_reported_at_its_own_line(corpus_copy, tmp_path):
    path = corpus_copy / "kumar-2017.md"
    lines = path.read_text().split("\n")
    title = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[title] = lines[title].rstrip('"')
    path.write_text("\n".join(lines))
    assert f"kumar-2017.md: the quote opened on line {title + 1} is never closed" in run_ingest(
        corpus_copy, tmp_path
    )


def _line_of(path, start: str) -> int:
    return next(
        n for n, line in enumerate(path.read_text().split("\n"), 1) if line.startswith(start)
    )
