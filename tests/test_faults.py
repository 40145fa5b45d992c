"""Issue 16: no file leaves the server through Gradio, and a patient always gets a reply, warning
signs first, whatever else is broken (index, model, log), whatever characters they type."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from clbp_chat.answer import Engine
from clbp_chat.cli import main
from clbp_chat.errors import ClbpError
from clbp_chat.web.security import RateLimiter, client_key
from clbp_chat.web.server import check_port, create_app

from .conftest import engine_with
from .support import damage_live_build, ready

FILE_ITEM = {
    "role": "user",
    "content": [
        {"type": "file", "file": {"path": "/etc/os-release", "meta": {"_type": "gradio.FileData"}}}
    ],
}
SECRET = Path("/etc/os-release").read_text(encoding="utf-8").splitlines()[0]


def _events(client: TestClient, prefix: str, data: list) -> str:
    started = client.post(f"{prefix}/gradio_api/call/respond", json={"data": data})
    if started.status_code != 200:
        return started.text
    return client.get(f"{prefix}/gradio_api/call/respond/{started.json()['event_id']}").text


@pytest.mark.parametrize("prefix", ["", "/embed"])
def test_a_file_item_in_a_chat_history_never_reads_a_server_file(client, prefix):
    for data in (["hi", [FILE_ITEM], {}], ["hi", [FILE_ITEM], [FILE_ITEM], {}], [FILE_ITEM]):
        stream = _events(client, prefix, data)
        assert SECRET not in stream and "file=" not in stream and "gradio/" not in stream


def test_the_queue_route_reads_no_file_either(client):
    body = {"data": ["hi", [FILE_ITEM], {}], "fn_index": 0, "session_hash": "abc123"}
    for prefix in ("", "/embed"):
        response = client.post(f"{prefix}/gradio_api/queue/join", json=body)
        assert response.status_code == 422 and SECRET not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=/etc/os-release",
        "/embed/gradio_api/file=/etc/hostname",
        "/file=/etc/os-release",
    ],
)
def test_no_file_route_serves_anything(client, path):
    response = client.get(path)
    assert response.status_code == 404 and SECRET not in response.text


def _via_queue(client: TestClient, prefix: str, question: str, session: str) -> str:
    """One chat turn the way the page sends it: queue/join, then the event stream."""
    config = client.get(f"{prefix}/config").json()
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "respond")
    body = {"data": [question, None, None, None], "fn_index": fn, "session_hash": session}
    joined = client.post(f"{prefix}/gradio_api/queue/join", json=body)
    assert joined.status_code == 200, joined.text
    return client.get(f"{prefix}/gradio_api/queue/data", params={"session_hash": session}).text


def test_the_chat_still_answers_a_typed_question_through_the_queue(client):
    stream = _via_queue(client, "", "What is a placebo?", "s-answer")
    assert "placebo" in stream.lower() and "[1]" in stream


@pytest.mark.parametrize(
    "route", ["call/respond", "call/v2/respond", "run/respond", "api/respond", "process_recording"]
)
def test_gradio_routes_the_page_never_uses_are_closed(client, route):
    for prefix in ("", "/embed"):
        response = client.post(f"{prefix}/gradio_api/{route}", json={"question": "hi"})
        assert response.status_code in (403, 404)


def test_a_file_record_anywhere_in_a_queue_call_is_refused(client):
    record = {"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}
    for body in (
        {"data": [record], "fn_index": 0, "session_hash": "x"},
        {"data": ["hi"], "fn_index": 0, "session_hash": "x", "extra": {"nested": record}},
        {"data": ["hi"], "event_data": {"value": record}, "fn_index": 0, "session_hash": "x"},
        [record],
    ):
        assert client.post("/gradio_api/queue/join", json=body).status_code == 422
    deep = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post(
        "/gradio_api/queue/join", content=deep, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_gradio_deep_links_are_closed(client):
    assert client.get("/gradio_api/deep_link", params={"session_hash": "x"}).status_code == 404
    assert client.get("/", params={"deep_link": "abc"}).status_code == 404


def test_an_emergency_is_answered_after_a_long_conversation(client):
    long_history = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": "is it safe"} for n in range(60)
    ]
    body = {"question": "I've wet myself and I can't feel my bum since this morning"}
    response = client.post("/api/ask", json={**body, "history": long_history[:40]})
    assert response.json()["safety_category"] == "emergency"


def test_gradio_cache_is_a_private_folder():
    folder = os.environ["GRADIO_TEMP_DIR"]
    assert "clbp-gradio-" in folder and (os.stat(folder).st_mode & 0o077) == 0


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("I can't feel anything when I wipe and I've wet myself today", "emergency"),
        ("I want to kill myself", "crisis"),
        ("I'm being treated for cancer and my back is agony", "urgent"),
    ],
)
def test_warning_signs_are_answered_with_the_index_gone(engine, tmp_path, message, category):
    copy = tmp_path / "index"
    shutil.copytree(engine.settings.index_dir, copy)
    local = engine_with(engine, index_dir=copy)
    shutil.rmtree(copy)
    result = local.answer(message)
    assert (result.outcome, result.safety_category) == ("safety", category)


def test_warning_signs_are_answered_when_the_model_cannot_load(settings, tmp_path):
    broken = settings.model_copy(update={"embedding_model": str(tmp_path / "no-model")})
    result = Engine(broken).answer("I've lost control of my bladder since this morning")
    assert result.safety_category == "emergency"


def test_an_unwritable_log_never_costs_a_reply_and_shows_on_healthz(engine, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "questions.jsonl").mkdir()  # a path that cannot be opened for writing
    local = engine_with(engine, log_questions=True, data_dir=folder, rate_limit=0)
    with TestClient(create_app(local.settings, local)) as c:
        ready(c)
        emergency = c.post("/api/ask", json={"question": "my legs gave way and I can't pee"})
        assert emergency.status_code == 200 and emergency.json()["safety_category"] == "emergency"
        assert c.post("/api/ask", json={"question": "Is it safe?"}).status_code == 200
        health = c.get("/healthz").json()
        assert "question log" in " ".join(health.get("faults", []))


def test_fullwidth_letters_read_as_plain_ones(engine):
    assert engine.answer("Ｉ ｗａｎｔ ｔｏ ｋｉｌｌ ｍｙｓｅｌｆ").safety_category == "crisis"


@pytest.mark.parametrize("message", ["me quiero morir", "je veux mourir", "死にたい"])
def test_another_language_gets_an_english_only_reply_with_the_numbers(engine, message):
    result = engine.answer(message)
    assert result.outcome != "answered" and not result.citations
    assert "English" in result.answer and engine.settings.emergency_number in result.answer
    assert engine.settings.crisis_line in result.answer


@pytest.mark.parametrize("message", ["😀", "???", "asdfghjkl"])
def test_a_message_with_no_words_gets_a_prompt_to_ask(engine, message):
    result = engine.answer(message)
    assert result.outcome == "no_evidence" and "question" in result.answer


def test_english_with_typos_and_dialect_is_still_read(engine):
    assert engine.answer("hoo lang did the pettine folk get followed fer").outcome == "answered"


def test_feedback_only_for_answers_this_server_gave(client):
    forged = {"rating": "down", "answer_id": "a" * 32}
    assert client.post("/api/feedback", json=forged).status_code == 404
    answer_id = client.post("/api/ask", json={"question": "Is it safe?"}).json()["answer_id"]
    real = {"rating": "down", "answer_id": answer_id}
    assert client.post("/api/feedback", json=real).status_code == 204


def test_every_address_of_an_ipv6_64_is_one_client():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1234") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    limiter = RateLimiter(2)
    assert limiter.allow("2001:db8::1") and limiter.allow("2001:db8::2")
    assert not limiter.allow("2001:db8::3")


def test_the_limiter_forgets_idle_clients(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("clbp_chat.web.security.time.monotonic", lambda: now[0])
    limiter = RateLimiter(5)
    for n in range(500):
        limiter.allow(f"203.0.113.{n % 250}") and limiter.allow(f"198.51.100.{n % 250}")
    assert len(limiter) == 500
    now[0] += 3600
    limiter.allow("192.0.2.1")
    assert len(limiter) == 1


def test_a_port_in_use_and_a_bad_host_are_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ClbpError, match="already in use"):
            check_port("127.0.0.1", port)
    with pytest.raises(ClbpError, match="not an address of this machine|cannot resolve"):
        check_port("192.0.2.77", 8080)


def test_a_port_just_released_can_be_bound_again():
    with socket.socket() as first:
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        first.listen()
        peer = socket.create_connection(("127.0.0.1", port))
        conn, _ = first.accept()
        conn.close()  # the server side closes first: TIME_WAIT, as after a stop
        peer.close()
    check_port("127.0.0.1", port)


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_an_out_of_range_port_is_a_usage_line_not_a_traceback(port):
    result = CliRunner().invoke(main, ["serve", "--port", port])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "1<=x<=65535" in result.output


def test_the_server_turns_telemetry_off():
    assert os.environ.get("ORT_DISABLE_TELEMETRY") == "1"
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == "False"


@pytest.mark.slow
def test_a_server_idle_after_a_repair_goes_back_to_ready(settings, tmp_path):
    from clbp_chat.index import build_index

    copy = tmp_path / "index"
    local = settings.model_copy(update={"index_dir": copy, "reload_seconds": 0.5})
    with TestClient(create_app(local, Engine(local))) as c:
        time.sleep(1.0)
        assert c.get("/healthz").status_code == 503  # nothing built yet
        build_index(local, progress=False)
        assert ready(c, 30).get("/healthz").json()["status"] == "ok"
    assert json.loads(
        (copy / "builds" / (copy / "CURRENT").read_text().strip() / "manifest.json").read_text()
    )


@pytest.fixture
def stalled_server():
    """A TCP port that accepts connections and never answers: a stalled Chroma server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def test_a_stalled_chroma_server_costs_seconds_not_forever(settings, stalled_server):
    from clbp_chat.index import live_build_name

    stalled = settings.model_copy(
        update={"chroma_host": "127.0.0.1", "chroma_port": stalled_server, "store_timeout": 1.0}
    )
    start = time.perf_counter()
    with pytest.raises(Exception):  # noqa: B017 - any error, as long as it comes
        live_build_name(stalled)
    assert time.perf_counter() - start < 10


def test_ingest_with_chroma_down_is_one_line(monkeypatch, stalled_server):
    monkeypatch.setenv("CLBP_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CLBP_CHROMA_PORT", str(stalled_server))
    monkeypatch.setenv("CLBP_STORE_TIMEOUT", "1")
    result = CliRunner().invoke(main, ["ingest", "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Chroma server" in result.output


@pytest.mark.slow
def test_plain_ingest_repairs_a_damaged_build(settings, tmp_path):
    from clbp_chat.index import build_index

    copy = tmp_path / "index"
    shutil.copytree(settings.index_dir, copy)
    damage_live_build(copy)
    report = build_index(settings.model_copy(update={"index_dir": copy}), progress=False)
    assert report.built


def test_orphaned_partial_exports_are_removed(tmp_path):
    from clbp_chat.onnx_model import ORPHAN_SECONDS, _remove_orphans

    old, fresh = tmp_path / "a.onnx.tmp", tmp_path / "b.onnx.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - ORPHAN_SECONDS - 5,) * 2)
    _remove_orphans(tmp_path)
    assert not old.exists() and fresh.exists()


def test_a_body_that_trickles_in_gets_408(engine):
    import anyio

    from clbp_chat.web.security import GuardMiddleware

    sent: list[dict] = []

    async def app(scope, receive, send):
        await receive()

    async def slow_receive():
        await anyio.sleep(5)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    guard = GuardMiddleware(
        app, engine.settings.model_copy(update={"body_timeout": 0.2}), RateLimiter(0)
    )
    scope = {"type": "http", "path": "/api/ask", "method": "POST", "headers": []}
    anyio.run(guard, scope, slow_receive, send)
    assert sent[0]["status"] == 408


def test_healthz_names_a_model_that_could_not_load(settings, tmp_path):
    broken = settings.model_copy(
        update={"embedding_model": str(tmp_path / "no-model"), "data_dir": tmp_path / "d"}
    )
    with TestClient(create_app(broken, Engine(broken))) as c:
        time.sleep(1)
        body = c.get("/healthz").json()
        emergency = c.post("/api/ask", json={"question": "I've wet myself and can't feel my bum"})
    assert emergency.json()["safety_category"] == "emergency"
    assert "model" in json.dumps(body)


def test_chat_events_have_no_gradio_concurrency_cap(settings):
    from clbp_chat.web.state import EngineState
    from clbp_chat.web.ui import build_ui

    ui = build_ui(EngineState(settings), embed=True)
    chat = [fn for fn in ui.fns.values() if fn.name == "respond"]
    assert chat and all(fn.concurrency_limit is None for fn in chat)
