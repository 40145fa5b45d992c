"""Hostile and careless requests against the real app: each is refused cleanly and changes nothing."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from clbp_chat.cli import main
from clbp_chat.config import Settings
from clbp_chat.corpus import load_corpus
from clbp_chat.errors import CorpusError
from clbp_chat.privacy import mask
from clbp_chat.web.security import RateLimiter, client_address
from clbp_chat.web.server import create_app

from .conftest import engine_with
from .support import damage_live_build, ready


def test_oversized_body_is_413_before_it_is_read(client):
    body = json.dumps({"question": "hi", "history": [{"role": "user", "content": "x" * 400_000}]})
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]


def test_uploads_are_refused_on_both_mounts(client):
    for path in ("/gradio_api/upload", "/embed/gradio_api/upload"):
        response = client.post(path, files={"files": ("big.bin", b"x" * 1000)})
        assert response.status_code == 403


def test_rate_limit_answers_429_after_the_limit(engine, tmp_path):
    local = engine_with(engine, data_dir=tmp_path, rate_limit=3)
    with TestClient(create_app(local.settings, local)) as c:
        ready(c)
        codes = [c.post("/api/ask", json={"question": "Is it safe?"}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_rate_limiter_counts_the_real_client_behind_a_trusted_proxy():
    settings = Settings(trusted_proxies="10.0.0.0/8")
    headers = {"x-forwarded-for": "203.0.113.9, 10.0.0.2"}
    assert client_address(settings, "10.0.0.1", headers) == "203.0.113.9"
    assert client_address(settings, "198.51.100.7", headers) == "198.51.100.7"
    limiter = RateLimiter(2)
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a"), limiter.allow("b")] == [
        True,
        True,
        False,
        True,
    ]
    assert all(limiter.allow("127.0.0.1") for _ in range(5))  # the machine itself is not limited


@pytest.mark.parametrize(
    "body",
    [
        '{"question": "hi \\ud800"}',
        '{"question": "hi", "history": [{"role": "user", "content": "x \\udfff"}]}',
    ],
)
def test_lone_surrogate_is_a_422(client, body):
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid text" in response.json()["error"]


def test_undecodable_body_is_a_422_with_an_error_field(client):
    response = client.post(
        "/api/ask", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "error" in response.json()


def test_wrong_method_is_405_with_allow(client):
    response = client.get("/api/ask")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert client.delete("/api/feedback").status_code == 405


def test_damaged_index_is_a_json_503_and_healthz_sees_it(engine, tmp_path):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(engine.settings.index_dir, copy)
    local = engine_with(engine, index_dir=copy, data_dir=tmp_path / "d")
    with TestClient(create_app(local.settings, local)) as c:
        ready(c)
        damage_live_build(copy)
        response = c.post("/api/ask", json={"question": "Is it safe?"})
        # The patient gets a plain sentence; the operator's fix is on /healthz and the server log.
        assert response.status_code == 503 and "try again" in response.json()["error"]
        assert "ingest" not in response.json()["error"]
        health = c.get("/healthz")
        assert health.status_code == 503 and "ingest --rebuild" in health.json()["detail"]


def test_damaged_index_is_one_line_from_the_cli(settings, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(settings.index_dir, copy)
    damage_live_build(copy)
    monkeypatch.setenv("CLBP_INDEX_DIR", str(copy))
    result = CliRunner().invoke(main, ["ask", "Is it safe?"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "ingest --rebuild" in result.output


def test_embed_demo_never_echoes_the_host_header(client):
    page = client.get("/embed-demo", headers={"Host": "attacker.example"}).text
    assert "attacker.example" not in page


@pytest.mark.parametrize("origins", ["*", "https://a.example; script-src *", "javascript:alert(1)"])
def test_malformed_allowed_origins_are_a_clear_startup_error(origins, monkeypatch):
    monkeypatch.setenv("CLBP_ALLOWED_ORIGINS", origins)
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 1 and "bad setting CLBP_ALLOWED_ORIGINS" in result.output


def test_feedback_accepts_only_known_doc_ids_and_bounded_lists(client):
    assert (
        client.post("/api/feedback", json={"rating": "up", "doc_ids": ["x" * 100]}).status_code
        == 422
    )
    assert (
        client.post("/api/feedback", json={"rating": "up", "doc_ids": ["nope"]}).status_code == 422
    )
    many = {"rating": "up", "answer_id": "0" * 32, "doc_ids": ["glossary"] * 11}
    assert client.post("/api/feedback", json=many).status_code == 422
    answer_id = client.post("/api/ask", json={"question": "What is a placebo?"}).json()["answer_id"]
    ok = {"rating": "up", "answer_id": answer_id, "doc_ids": ["glossary", "kumar-2017"]}
    assert client.post("/api/feedback", json=ok).status_code == 204


def test_mask_hides_short_phones_spoken_emails_and_dates_of_birth():
    text = mask("ring 555 1234, mail jane at example dot com, born 03/04/1971 or 3 May 1971")
    assert "1234" not in text and "jane" not in text and "1971" not in text
    assert (
        mask("26 patients, ODI 56.5, 2,713 CFU-F per ml")
        == "26 patients, ODI 56.5, 2,713 CFU-F per ml"
    )


def test_question_log_is_readable_by_its_owner_only(engine, tmp_path):
    local = engine_with(engine, log_questions=True, data_dir=tmp_path)
    local.answer("What is a placebo?")
    mode = stat.S_IMODE(os.stat(tmp_path / "questions.jsonl").st_mode)
    assert mode == 0o600


def test_malformed_chat_api_call_leaves_no_patient_words_in_the_log(client, capfd):
    from clbp_chat.web.security import withhold_exception_details

    withhold_exception_details()  # what `clbp-chat serve` does at start-up
    secret = "I have cancer, jane@x.com"
    refused = client.post(
        "/gradio_api/queue/join",
        json={"data": ["is it safe", [secret, "plain"], None], "fn_index": 0, "session_hash": "h"},
    )
    assert refused.status_code == 422 and "cancer" not in refused.text
    config = client.get("/config").json()
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "respond")
    body = {"data": [secret, None], "fn_index": fn, "session_hash": "h2"}
    assert client.post("/gradio_api/queue/join", json=body).status_code == 200
    client.get("/gradio_api/queue/data", params={"session_hash": "h2"})  # one input short: fails
    captured = capfd.readouterr()
    assert "request failed with" in captured.err  # the failure is still visible to the operator
    assert "cancer" not in captured.err + captured.out and "jane" not in captured.err


def test_openapi_documents_the_error_bodies(client):
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/api/ask"]["post"]["responses"]
    assert {"413", "422", "429", "503"} <= set(responses)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('title: "Kumar', 'title:\n  nested: "Kumar'), "field 'title' must be text"),
        (("aliases: [kumar,", "aliases: [" + "x, " * 150 + "kumar,"), "at most 100"),
        (("## How strong is this evidence?", "## Strength"), "needs a '## How strong"),
        (("  Safety:\n", "  Nonexistent section:\n"), "names sections the document lacks"),
    ],
)
def test_malformed_corpus_fields_are_one_clear_line(corpus_copy, edit, message):
    path = corpus_copy / "kumar-2017.md"
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(CorpusError, match=message):
        load_corpus(corpus_copy)
