"""The staff report, as a clinic uses it: `clbp-chat report` on the command line, and the staff
page behind CLBP_STAFF_TOKEN, fed by real answers through the HTTP API."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clbp_chat.web.server import create_app

from .conftest import engine_with, invoke, write_question_log
from .support import ready

TOKEN = "staff-password-for-tests-0123"
NHS_QUESTION = "Is it covered on the NHS? ({days} days ago)"
EMERGENCY = "I've suddenly lost control of my bladder and my bum feels numb"


@pytest.fixture
def logged(engine, tmp_path, monkeypatch):
    """An engine that logs questions into ``tmp_path``, which the CLI reads too."""
    monkeypatch.setenv("CLBP_LOG_QUESTIONS", "true")
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path))
    return engine_with(engine, log_questions=True, data_dir=tmp_path)


def test_report_groups_questions_by_topic_with_counts_and_reasons(logged):
    for question in (
        "How much does it cost?",
        "how much does it cost",
        "Is it expensive?",
        "Does it work for my neck?",
        "What is a placebo?",
        "hello",
        "¿Funciona el tratamiento?",
    ):
        logged.answer(question)
    output = invoke("report").output
    assert "Not covered by the library: cost (3)\n    2x  How much does it cost?" in output
    assert "Not covered by the library: other_body_part (1)" in output
    assert "Not read (no words, or not in English): not_english (1)" in output
    assert "placebo" not in output and "hello" not in output
    assert output.startswith("5 questions to look at, of 7 logged in the log (kept 90 days).")


def test_answered_question_rated_down_is_in_the_report_with_its_topic(logged, tmp_path):
    rated = logged.answer("How many people were in the Pettine study?")
    logged.answer("What is a placebo?")
    row = {"rating": "down", "answer_id": rated.answer_id, "outcome": "answered", "doc_ids": []}
    (tmp_path / "feedback.jsonl").write_text(json.dumps(row) + "\n")
    output = invoke("report").output
    assert "Answered, then rated down by the patient: pettine-2015" in output
    assert "How many people were in the Pettine study?" in output
    assert "placebo" not in output


def test_warning_signs_are_counted_by_category_without_their_words(logged):
    logged.answer(EMERGENCY)
    output = invoke("report").output
    assert "Warning-sign and crisis replies (words not kept): emergency 1." in output
    assert "bladder" not in output


def test_since_leaves_out_older_questions_by_date_or_days(logged, tmp_path):
    write_question_log(tmp_path, 40, 10, 2, question=NHS_QUESTION)
    last_week = invoke("report", "--since", "7d").output
    assert "(2 days ago)" in last_week and "(10 days ago)" not in last_week
    day = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%d")
    since_day = invoke("report", "--since", day).output
    assert "(10 days ago)" in since_day and "(40 days ago)" not in since_day


def test_csv_has_one_row_per_distinct_question_for_a_spreadsheet(logged):
    logged.answer("How much does it cost?")
    logged.answer("How much does it cost?")
    logged.answer("Does it work for my knee?")
    rows = list(csv.DictReader(io.StringIO(invoke("report", "--format", "csv").stdout)))
    assert [(r["reason"], r["topic"], r["question"], r["times_asked"]) for r in rows] == [
        ("not_covered", "cost", "How much does it cost?", "2"),
        ("not_covered", "other_body_part", "Does it work for my knee?", "1"),
    ]


def test_json_lists_groups_with_their_questions_for_other_tools(logged):
    logged.answer("Is it approved by the FDA?")
    body = json.loads(invoke("report", "--format", "json").stdout)
    [group] = body["groups"]
    assert group["reason"] == "not_covered" and group["topic"] == "approval"
    assert group["count"] == 1 and group["questions"][0]["question"] == "Is it approved by the FDA?"
    assert body["logging"] is True and body["logged"] == 1


def test_bad_since_is_one_line_and_changes_nothing(logged, tmp_path):
    write_question_log(tmp_path, 1, question=NHS_QUESTION)
    before = (tmp_path / "questions.jsonl").read_text()
    result = invoke("report", "--since", "last tuesday")
    assert result.exit_code == 2 and "is not a date like 2026-11-30" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "questions.jsonl").read_text() == before


def test_report_shows_what_was_kept_when_logging_is_now_off(logged, tmp_path, monkeypatch):
    write_question_log(tmp_path, 1, question=NHS_QUESTION)
    monkeypatch.setenv("CLBP_LOG_QUESTIONS", "false")
    result = invoke("report")
    assert "Is it covered on the NHS?" in result.stdout
    assert "question logging is off now" in result.stderr


def test_report_says_logging_is_off_when_nothing_was_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path / "nothing"))
    assert "Question logging is off" in invoke("report").output


# The staff page, fed through the HTTP API as the clinic's patients would.


@pytest.fixture(scope="module")
def clinic(engine, tmp_path_factory):
    """The whole web app with question logging on and a staff password."""
    data = tmp_path_factory.mktemp("clinic-data")
    local = engine_with(
        engine, data_dir=data, rate_limit=0, log_questions=True, staff_token=SecretStr(TOKEN)
    )
    with TestClient(create_app(local.settings, local)) as client:
        yield ready(client)


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_staff_page_does_not_exist_without_a_staff_token(client):
    for path in ("/staff", "/staff/report.csv", "/staff/report.json"):
        assert client.get(path, auth=("staff", TOKEN)).status_code == 404


def test_staff_page_asks_for_the_password_and_refuses_a_wrong_one(clinic):
    missing = clinic.get("/staff")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
    assert clinic.get("/staff", auth=("staff", "not-the-password-at-all")).status_code == 401
    assert (
        clinic.get("/staff/report.json", headers={"Authorization": "Bearer x"}).status_code == 401
    )
    assert clinic.get("/staff", auth=("anyone", TOKEN)).status_code == 200


def test_answer_rated_down_through_the_api_reaches_the_staff_report(clinic):
    asked = clinic.post("/api/ask", json={"question": "Who funded the Atluri trial?"}).json()
    rating = {"rating": "down", "answer_id": asked["answer_id"], "outcome": asked["outcome"]}
    assert clinic.post("/api/feedback", json=rating).status_code == 204
    body = clinic.get("/staff/report.json", headers=BEARER).json()
    down = [g for g in body["groups"] if g["reason"] == "rated_down"]
    assert down and down[0]["topic"].startswith("atluri-2022")
    assert down[0]["questions"][0]["question"] == "Who funded the Atluri trial?"


def test_staff_page_shows_masked_grouped_questions_as_text_not_markup(clinic):
    question = "My name is Ellen Hart. How much would it cost? <script>alert(1)</script>"
    clinic.post("/api/ask", json={"question": question})
    page = clinic.get("/staff", auth=("staff", TOKEN))
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "Not covered by the library: cost" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "Ellen" not in page.text and "[name]" in page.text


def test_staff_csv_download_is_the_report_for_a_spreadsheet(clinic):
    clinic.post("/api/ask", json={"question": "Does it help arthritis in my hands?"})
    response = clinic.get("/staff/report.csv", headers=BEARER, params={"since": "1d"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert "Does it help arthritis in my hands?" in [r["question"] for r in rows]


def test_warning_sign_through_the_api_is_kept_as_its_category_only(clinic):
    clinic.post("/api/ask", json={"question": EMERGENCY})
    body = clinic.get("/staff/report.json", headers=BEARER).json()
    assert body["safety"]["emergency"] >= 1
    assert "bladder" not in json.dumps(body)


def test_bad_since_on_the_staff_page_is_one_readable_error(clinic):
    response = clinic.get("/staff", auth=("staff", TOKEN), params={"since": "yesterday"})
    assert response.status_code == 422 and response.json()["error"].startswith("since: ")


def test_patient_pages_do_not_link_to_the_staff_page(clinic):
    for path in ("/", "/embed/", "/embed-demo", "/widget.js"):
        assert "/staff" not in clinic.get(path).text


def test_a_damaged_question_log_never_costs_a_patient_the_emergency_reply(logged, tmp_path):
    (tmp_path / "questions.jsonl").write_bytes(b"\xff\xfe not a log line\n")
    result = logged.answer(EMERGENCY)
    assert result.outcome == "safety" and result.safety_category == "emergency"


def test_old_questions_are_removed_with_logging_off(tmp_path, monkeypatch):
    write_question_log(tmp_path, 400, 2)
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLBP_LOG_QUESTIONS", "false")
    invoke("report")
    kept = (tmp_path / "questions.jsonl").read_text()
    assert "q400" not in kept and "q2" in kept


def test_a_question_that_looks_like_a_formula_is_plain_text_in_the_csv(tmp_path, monkeypatch):
    write_question_log(tmp_path, 1, question='=HYPERLINK("https://x.example/","cost")')
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path))
    rows = list(csv.reader(io.StringIO(invoke("report", "--format", "csv").stdout)))
    assert rows[1][3] == '\'=HYPERLINK("https://x.example/","cost")', rows


def test_the_staff_page_may_be_framed_by_no_site(clinic):
    page = clinic.get("/staff", auth=("staff", TOKEN))
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
