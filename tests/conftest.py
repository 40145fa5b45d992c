"""Shared fixtures: one real index (real corpus, real model, real Chroma) built once per session.

Every test runs with CLBP_INDEX_DIR and CLBP_DATA_DIR pointed at temporary folders, so the
developer's own index and logs are never touched.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clbp_chat.answer import Engine
from clbp_chat.config import Settings, get_settings
from clbp_chat.index import build_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path):
    """No test reads or writes the developer's index, data folder, settings file or environment."""
    monkeypatch.setenv("CLBP_INDEX_DIR", str(tmp_path / "no-index-here"))
    monkeypatch.setenv("CLBP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLBP_CORPUS_DIR", str(CORPUS))
    empty = tmp_path / "empty.env"  # never a clbp.env the developer keeps in the working directory
    empty.write_text("")
    monkeypatch.setenv("CLBP_ENV_FILE", str(empty))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def built_index_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("index")
    build_index(Settings(corpus_dir=CORPUS, index_dir=path), progress=False)
    return path


@pytest.fixture(scope="session")
def settings(built_index_dir) -> Settings:
    return Settings(corpus_dir=CORPUS, index_dir=built_index_dir)


@pytest.fixture(scope="session")
def engine(settings) -> Engine:
    return Engine(settings)


@pytest.fixture(scope="session")
def gate(engine):
    """The engine's full gate: patterns plus the semantic layer on the real model."""
    return engine.gate


def engine_with(engine: Engine, **changes) -> Engine:
    """An engine on changed settings that shares ``engine``'s loaded index (no second load)."""
    local = Engine(engine.settings.model_copy(update=changes))
    local.__dict__["index"] = engine.index
    return local


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the real corpus, for tests that break or edit it."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def write_question_log(folder: Path, *days_ago: float, question: str = "q{days}") -> None:
    """A question log as a server writes it, one not-covered entry per age in days, in that order
    (``question`` is formatted with ``days``)."""
    now = datetime.now(UTC)
    rows = [
        {
            "time": (now - timedelta(days=days)).isoformat(timespec="seconds"),
            "question": question.format(days=days),
            "outcome": "no_evidence",
            "reason": "not_covered",
            "topic": "insurance",
        }
        for days in days_ago
    ]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def ready(client):
    """The test client once /healthz says the engine is loaded (60 s at most)."""
    deadline = time.time() + 60
    while client.get("/healthz").status_code != 200 and time.time() < deadline:
        time.sleep(0.2)
    return client


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory):
    """The whole web app on the session's index, rate limit off, its own data folder."""
    from fastapi.testclient import TestClient

    from clbp_chat.web.server import create_app

    local = engine_with(engine, data_dir=tmp_path_factory.mktemp("data"), rate_limit=0)
    with TestClient(create_app(local.settings, local)) as c:
        yield ready(c)
