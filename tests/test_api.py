"""The HTTP API with FastAPI's test client: every status code, follow-ups, headers, feedback."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from clbp_chat.web.server import create_app

from .conftest import engine_with
from .support import ready


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory):
    """The app with one allowed origin, on the session's loaded index."""
    local = engine_with(
        engine, allowed_origins=["https://clinic.example"], data_dir=tmp_path_factory.mktemp("data")
    )
    with TestClient(create_app(local.settings, local)) as client:
        yield ready(client)


def test_healthz_is_200_once_the_index_is_loaded(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_healthz_is_503_when_there_is_no_index(tmp_path, engine):
    missing = engine_with(engine, index_dir=tmp_path / "none")
    with TestClient(create_app(missing.settings, missing)) as client:
        client.app.state.clbp.load()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert "clbp-chat ingest" in response.json()["detail"]
        assert client.post("/api/ask", json={"question": "Is it safe?"}).status_code == 503


def test_ask_returns_the_cli_json_object(client):
    response = client.post("/api/ask", json={"question": "Was there a placebo group?"})
    assert response.status_code == 200
    data = response.json()
    assert data["outcome"] == "answered" and data["citations"][0]["quote"]
    assert {"question", "outcome", "safety_category", "answer", "citations", "latency_ms"} <= set(
        data
    )


def test_follow_up_is_rewritten_from_the_history(client):
    history = [
        {"role": "user", "content": "What did the Pettine study find?"},
        {"role": "assistant", "content": "The average pain score fell. [1]"},
    ]
    data = client.post(
        "/api/ask", json={"question": "How many people were in it?", "history": history}
    ).json()
    assert data["standalone_question"] == "How many people were in the Pettine study?"
    assert "26" in data["answer"]
    assert data["citations"][0]["doc_id"] == "pettine-2015"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "please type a question"),
        ({"question": "x" * 1001}, "too long"),
        ({"question": "   "}, "please type a question"),
        ({"question": "what\u0000is this"}, "control characters"),
        ({"question": 42}, "question: Input should be a valid string"),
        ({}, "question: Field required"),
        ({"question": "hi", "history": [{"role": "robot", "content": "x"}]}, "role"),
        ({"question": "hi", "extra": 1}, "extra"),
    ],
)
def test_invalid_input_is_a_422_with_a_json_message(client, body, message):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert message in response.json()["error"]


def test_a_question_of_unicode_spaces_is_empty_in_the_schema_and_in_the_library(client):
    """The fuzzer found U+0085: JSON Schema's ECMAScript \\s lacks it, Python's strip() removes it,
    so the schema spells every space out instead of trusting \\s."""
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
    pattern = schema["properties"]["question"]["pattern"]
    assert "\\s" not in pattern
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    assert not [s for s in spaces if re.search(pattern, s)]
    for blank in ("\u0085", "\u2028 \u3000", "\x1c\u00a0"):
        assert client.post("/api/ask", json={"question": blank}).status_code == 422


def test_malformed_json_is_a_422_not_a_500(client):
    response = client.post(
        "/api/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "the request body is not valid JSON"


def test_pages_may_only_be_framed_by_allowed_origins(client):
    csp = client.get("/embed/").headers["content-security-policy"]
    assert "frame-ancestors 'self' https://clinic.example" in csp
    assert "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp


def test_cors_allows_only_configured_origins(client):
    ok = client.post(
        "/api/ask",
        json={"question": "What is a placebo?"},
        headers={"Origin": "https://clinic.example"},
    )
    assert ok.headers["access-control-allow-origin"] == "https://clinic.example"
    other = client.post(
        "/api/ask",
        json={"question": "What is a placebo?"},
        headers={"Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_widget_and_embed_demo_are_served(client):
    widget = client.get("/widget.js")
    assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]
    assert "/embed/" in widget.text
    demo = client.get("/embed-demo")
    assert demo.status_code == 200 and 'src="/widget.js"' in demo.text


def test_feedback_is_stored_with_its_answer_id_without_the_patients_words(client):
    answer = client.post("/api/ask", json={"question": "Is it safe? I'm Pat"}).json()
    body = {"rating": "down", "outcome": "answered", "answer_id": answer["answer_id"]}
    assert client.post("/api/feedback", json=body).status_code == 204
    lines = (client.app.state.clbp.settings.data_dir / "feedback.jsonl").read_text().splitlines()
    row = json.loads(lines[-1])
    assert row["rating"] == "down" and row["answer_id"] == answer["answer_id"]
    assert "Pat" not in lines[-1]


def test_questions_are_not_written_anywhere_by_default(client):
    client.post("/api/ask", json={"question": "my email is pat@example.com, is it safe?"})
    folder = client.app.state.clbp.settings.data_dir
    assert not (folder / "questions.jsonl").exists()
    for path in folder.glob("*"):
        assert "pat@example.com" not in path.read_text()
