"""Many processes, one Chroma server, no shared disk; a new build reaches running servers.

A real `chroma run` (the CLI shipped with chromadb) on a loopback port; real `clbp-chat serve`
processes whose index folders are empty, so everything they answer from comes from the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.index import build_index

from .conftest import CORPUS, free_port

BIN = Path(sys.executable).parent
QUESTIONS = [
    "How many people were in the Pettine study?",
    "is it safe",
    "what does autologous mean",
    "how much does it cost",
]


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def post(base: str, question: str) -> dict:
    request = urllib.request.Request(
        f"{base}/api/ask",
        data=json.dumps({"question": question}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "chroma"),
            "run",
            "--path",
            str(tmp_path_factory.mktemp("chroma")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server_settings(chroma_server, tmp_path_factory) -> Settings:
    settings = Settings(
        corpus_dir=CORPUS,
        index_dir=tmp_path_factory.mktemp("unused-local-index"),
        chroma_host="127.0.0.1",
        chroma_port=chroma_server,
    )
    build_index(settings, progress=False)
    return settings


def test_ingest_into_a_chroma_server_and_answer_through_it(server_settings, engine):
    assert not any(server_settings.index_dir.iterdir()), "nothing may be written locally"
    remote = Engine(server_settings)
    for question in QUESTIONS:
        assert remote.answer(question).answer == engine.answer(question).answer


def _serve(settings: Settings, tmp: Path, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "CLBP_CORPUS_DIR": str(settings.corpus_dir),
        "CLBP_INDEX_DIR": str(tmp / f"empty-{port}"),
        "CLBP_DATA_DIR": str(tmp / f"data-{port}"),
        "CLBP_CHROMA_HOST": settings.chroma_host or "",
        "CLBP_CHROMA_PORT": str(settings.chroma_port),
        "CLBP_RATE_LIMIT": "0",
        **extra,
    }
    if not settings.chroma_host:
        env["CLBP_INDEX_DIR"] = str(settings.index_dir)
        del env["CLBP_CHROMA_HOST"]
    proc = subprocess.Popen(
        [str(BIN / "clbp-chat"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/healthz")
    return proc, base


def test_two_app_processes_share_one_chroma_server_and_agree(server_settings, tmp_path):
    first, a = _serve(server_settings, tmp_path)
    second, b = _serve(server_settings, tmp_path)
    try:
        for question in QUESTIONS:
            left, right = post(a, question), post(b, question)
            assert (left["outcome"], left["answer"]) == (right["outcome"], right["answer"])
    finally:
        for proc in (first, second):
            proc.terminate()
            proc.wait(timeout=20)


def test_a_new_build_reaches_a_running_server_between_requests(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, progress=False)
    proc, base = _serve(settings, tmp_path, CLBP_RELOAD_SECONDS="0.2")
    errors: list[str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                result = post(base, "How many people were in the Pettine study?")
                if "26" not in result["answer"]:
                    errors.append(result["answer"][:80])
            except Exception as exc:  # noqa: BLE001 - any failed request fails the test
                errors.append(repr(exc))

    try:
        before = json.loads(urllib.request.urlopen(f"{base}/healthz").read())["build"]
        workers = [threading.Thread(target=keep_asking) for _ in range(3)]
        for worker in workers:
            worker.start()
        glossary = corpus / "glossary.md"
        glossary.write_text(
            glossary.read_text() + "\n## Cartilage\n\nCartilage is a firm, smooth tissue.\n"
        )
        after = build_index(settings, progress=False).path
        deadline = time.time() + 60
        while time.time() < deadline:
            health = json.loads(urllib.request.urlopen(f"{base}/healthz").read())
            if health["build"] == after:
                break
            time.sleep(0.3)
        stop.set()
        for worker in workers:
            worker.join()
        assert health["build"] == after != before
        assert not errors, errors[:3]
        assert "firm, smooth tissue" in post(base, "what is cartilage")["answer"]
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=20)
