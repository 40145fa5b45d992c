"""The clinic's own pages: added to a copy of the corpus and ingested as clinic staff would, with
the clinic's changes to the not-covered topics beside them, then asked through the CLI and a
running server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import CORPUS, invoke
from .support import post_question, running_server, wait_for_build

CLINIC_PAGE = Path(__file__).parent / "data" / "clinic-on-the-day.md"
CLINIC_TOPICS = """\
# The clinic's changes to the topics the library does not cover.
cost:
  says: Our library doesn't give prices; the clinic's front desk can tell you.
parking:
  mention: '\\bpark(?:ing)?\\b'
  says: Our library doesn't cover parking at the clinic.
who_should_not: covered
"""
# A question listed where another section, or a not-covered topic, will take it.
LISTED_ELSEWHERE = "How many people were in the Pettine study?"
LISTED_BUT_REFUSED = "How much does the treatment cost?"


def cli(args: list[str], corpus: Path, index: Path, **env: str):
    """Run the command line in this process as staff would in a shell, on these folders."""
    return invoke(*args, CLBP_CORPUS_DIR=str(corpus), CLBP_INDEX_DIR=str(index), **env)


def add_clinic_page(corpus: Path) -> None:
    """The example page as an editor may save it: with a byte-order mark and a blank first line."""
    (corpus / CLINIC_PAGE.name).write_text("\ufeff\n" + CLINIC_PAGE.read_text(encoding="utf-8"))


def list_question(corpus: Path, file: str, section: str, question: str) -> None:
    """List ``question`` under ``section`` (which lists none yet) in a document's front matter."""
    path = corpus / file
    head, closing, body = path.read_text(encoding="utf-8").partition("\n---\n")
    if "\nquestions:" not in head:
        head += "\nquestions:"
    head = head.replace("\nquestions:", f"\nquestions:\n  {section}:\n    - {question}", 1)
    path.write_text(head + closing + body, encoding="utf-8")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A corpus copy with the clinic's page, its topic changes and two stray files, ingested."""
    root = tmp_path_factory.mktemp("clinic")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    add_clinic_page(corpus)
    (corpus / "not_covered.yaml").write_text(CLINIC_TOPICS, encoding="utf-8")
    list_question(corpus, "glossary.md", "Stem cells", LISTED_ELSEWHERE)
    list_question(corpus, "glossary.md", "Autologous", LISTED_BUT_REFUSED)
    (corpus / "Parking.MD").write_text("# Parking\n")
    (corpus / "notes.txt").write_text("to do\n")
    logging_on = {"CLBP_LOG_QUESTIONS": "true", "CLBP_DATA_DIR": str(root / "data")}
    result = cli(["ingest", "--quiet"], corpus, root / "index", **logging_on)
    assert result.exit_code == 0, result.output
    return corpus, root / "index", result.output


def ask(clinic, question: str) -> dict:
    corpus, index, _ = clinic
    result = cli(["ask", "--json", question], corpus, index)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Can I drive home afterwards?",
        "can i drive after the procedure",
        "Can I eat before the injection?",
        "what do i need to bring",
        "What should I bring on the day?",
    ],
)
def test_clinic_page_answers_its_questions_cited_and_without_a_strength_block(clinic, question):
    data = ask(clinic, question)
    assert data["outcome"] == "answered", data["answer"]
    assert {c["doc_id"] for c in data["citations"]} == {"clinic-on-the-day"}
    assert "[1]" in data["answer"] and "How strong" not in data["answer"]


@pytest.mark.slow
def test_clinic_page_question_is_not_refused_as_recovery_time(clinic):
    data = ask(clinic, "Can I drive home afterwards?")
    assert "recovery time" not in data["answer"]
    assert "Please do not drive yourself home" in data["answer"]


def test_without_the_clinic_page_the_same_question_is_not_covered(engine):
    result = engine.answer("Can I drive home afterwards?")
    assert result.outcome == "no_evidence" and "recovery time" in result.answer


@pytest.mark.slow
def test_a_question_no_clinic_page_lists_keeps_its_not_covered_reply(clinic):
    data = ask(clinic, "How long before I can go back to work?")
    assert data["outcome"] == "no_evidence" and "time off work" in data["answer"]


@pytest.mark.slow
def test_corpus_not_covered_file_changes_adds_and_removes_topics(clinic):
    assert "the clinic's front desk can tell you" in ask(clinic, "how much does it cost")["answer"]
    assert "parking at the clinic" in ask(clinic, "where can I park?")["answer"]
    assert "who should not have" not in ask(clinic, "Who should not have this treatment?")["answer"]


@pytest.mark.slow
def test_ingest_warns_of_a_listed_question_another_section_answers(clinic):
    output = clinic[2]
    assert (
        f"warning: glossary.md: '{LISTED_ELSEWHERE}' (listed under 'Stem cells') is answered "
        "from pettine-2015"
    ) in output


@pytest.mark.slow
def test_ingest_warns_of_a_listed_question_a_not_covered_topic_refuses(clinic):
    output = clinic[2]
    assert (
        f"warning: glossary.md: '{LISTED_BUT_REFUSED}' (listed under 'Autologous') is refused "
        "by the not-covered topic 'cost' (from the corpus folder's not_covered.yaml)"
    ) in output
    assert "clinic-on-the-day.md" not in output  # the page's own questions reach the page


@pytest.mark.slow
def test_ingest_asks_the_listed_questions_without_logging_them(clinic):
    corpus, _, output = clinic
    assert "warning: glossary.md" in output  # the questions were asked
    assert not (corpus.parent / "data").exists()


@pytest.mark.slow
def test_ingest_lists_files_it_skips(clinic):
    output = clinic[2]
    assert "warning: skipped Parking.MD: rename it to Parking.md to include it" in output
    assert "warning: skipped notes.txt: only .md documents and not_covered.yaml are read" in output


@pytest.mark.parametrize(
    ("topics", "message"),
    [
        (
            "cost:\n  mention: '(unclosed'\n",
            "not_covered.yaml: topic 'cost' (line 1): 'mention' is not a valid pattern",
        ),
        (
            "parking:\n  mentions: 'park'\n  says: No parking.\n",
            "topic 'parking' (line 1) has an unknown field 'mentions'; did you mean 'mention'?",
        ),
        ("\nrecovry: covered\n", "topic 'recovry' (line 2) is not a topic of the package"),
        ("parking:\n  mention: 'park'\n", "topic 'parking' (line 1) is new, so it needs 'says'"),
        (
            "cost: covered\nrecovery: covered\ncost:\n  says: Ask us.\n",
            "'cost' is written twice, on lines 1 and 3",
        ),
    ],
)
def test_bad_not_covered_file_is_one_line_and_changes_nothing(
    corpus_copy, tmp_path, topics, message
):
    (corpus_copy / "not_covered.yaml").write_text(topics)
    result = cli(["ingest"], corpus_copy, tmp_path / "index")
    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "index").exists()


def test_a_clinic_page_id_must_start_with_clinic(corpus_copy, tmp_path):
    text = CLINIC_PAGE.read_text().replace("id: clinic-on-the-day", "id: on-the-day")
    (corpus_copy / "on-the-day.md").write_text(text)
    result = cli(["ingest"], corpus_copy, tmp_path / "index")
    assert result.exit_code == 1
    assert (
        "on-the-day.md: id 'on-the-day' (line 2) does not fit its type; start it with 'clinic-'"
        in (result.output)
    )


@pytest.mark.slow
def test_running_server_answers_a_new_clinic_page_after_ingest_with_no_question_between(
    tmp_path, built_index_dir, corpus_copy
):
    index = tmp_path / "index"
    shutil.copytree(built_index_dir, index)
    env = {
        "CLBP_CORPUS_DIR": str(corpus_copy),
        "CLBP_INDEX_DIR": str(index),
        "CLBP_DATA_DIR": str(tmp_path / "data"),
        "CLBP_RELOAD_SECONDS": "1",
    }
    with running_server(env) as base:
        add_clinic_page(corpus_copy)
        result = cli(["ingest", "--quiet"], corpus_copy, index)
        assert result.exit_code == 0, result.output
        # Only the health check is called until the server names the new build: no question
        # wakes it (the watcher looks every second).
        wait_for_build(base, (index / "CURRENT").read_text().strip())
        data = post_question(base, "Can I drive home afterwards?")
        assert data["outcome"] == "answered", data["answer"]
        assert [c["doc_id"] for c in data["citations"]] == ["clinic-on-the-day"]
        assert "How strong" not in data["answer"]
