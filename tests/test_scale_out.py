"""Many processes, one Chroma server, no shared disk; a new build reaches running servers.

A real `chroma run` (the CLI shipped with chromadb) on a loopback port; real `clbp-chat serve`
processes whose index folders are empty, so everything they answer from comes from the server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.index import build_index

from .conftest import CORPUS
from .support import (
    free_port,
    health,
    post_question,
    running_server,
    wait_for_200,
    wait_for_build,
)

pytestmark = pytest.mark.slow  # a Chroma server, index builds and server processes
BIN = Path(sys.executable).parent
QUESTIONS = [
    "How many people were in the Pettine study?",
    "is it safe",
    "what does autologous mean",
    "how much does it cost",
]


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
        wait_for_200(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60, proc)
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


def _env(settings: Settings, tmp: Path, **extra: str) -> dict[str, str]:
    """A server's settings: the Chroma server and an empty local index folder, or the local index."""
    env = {
        "CLBP_CORPUS_DIR": str(settings.corpus_dir),
        "CLBP_DATA_DIR": str(tmp / "data"),
        **extra,
    }
    if settings.chroma_host:
        env["CLBP_CHROMA_HOST"] = settings.chroma_host
        env["CLBP_CHROMA_PORT"] = str(settings.chroma_port)
        env["CLBP_INDEX_DIR"] = str(tmp / "empty")
    else:
        env["CLBP_INDEX_DIR"] = str(settings.index_dir)
    return env


def test_two_app_processes_share_one_chroma_server_and_agree(server_settings, tmp_path):
    with (
        running_server(_env(server_settings, tmp_path / "first")) as a,
        running_server(_env(server_settings, tmp_path / "second")) as b,
    ):
        for question in QUESTIONS:
            left, right = post_question(a, question), post_question(b, question)
            assert (left["outcome"], left["answer"]) == (right["outcome"], right["answer"])


def test_a_new_build_reaches_a_running_server_between_requests(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, progress=False)
    errors: list[str] = []
    stop = threading.Event()

    def keep_asking(base: str) -> None:
        while not stop.is_set():
            try:
                result = post_question(base, "How many people were in the Pettine study?")
                if "26" not in result["answer"]:
                    errors.append(result["answer"][:80])
            except Exception as exc:  # noqa: BLE001 - any failed request fails the test
                errors.append(repr(exc))

    with running_server(_env(settings, tmp_path, CLBP_RELOAD_SECONDS="0.2")) as base:
        before = health(base)["build"]
        workers = [threading.Thread(target=keep_asking, args=(base,)) for _ in range(3)]
        for worker in workers:
            worker.start()
        try:
            glossary = corpus / "glossary.md"
            glossary.write_text(
                glossary.read_text() + "\n## Cartilage\n\nCartilage is a firm, smooth tissue.\n"
            )
            after = build_index(settings, progress=False).path
            wait_for_build(base, after)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert after != before
        assert not errors, errors[:3]
        assert "firm, smooth tissue" in post_question(base, "what is cartilage")["answer"]
