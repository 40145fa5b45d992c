"""Shared fixtures: one real index (real corpus, real model, real Chroma) per session, one engine
on it, one web app; helpers for tests that change settings or run the command line.

Every test runs with CLBP_INDEX_DIR and CLBP_DATA_DIR pointed at temporary folders, so the
developer's own index and logs are never touched.
"""

from __future__ import annotations

import functools
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from clbp_chat.answer import Engine
from clbp_chat.cli import main
from clbp_chat.config import Settings, get_settings
from clbp_chat.index import build_index

from .support import ready

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reuse-index",
        action="store_true",
        help="start the session's index from a copy of the repository's .clbp-index (what "
        "`make ingest` built) instead of building it; it is still built when the copy does not "
        "match the corpus, the model or the index format (make test-fast)",
    )


def _copy_live_build(source: Path, target: Path) -> None:
    """The live build of a local index folder and its pointer, nothing older."""
    name = (source / "CURRENT").read_text().strip() if (source / "CURRENT").is_file() else ""
    if name and (source / "builds" / name).is_dir():
        shutil.copytree(source / "builds" / name, target / "builds" / name)
        (target / "CURRENT").write_text(name)


@pytest.fixture(scope="session")
def built_index_dir(tmp_path_factory, pytestconfig) -> Path:
    """The session's index: built from the corpus, or (--reuse-index) the repository's copied and
    checked the way `clbp-chat ingest` checks it (rebuilt when it is stale or damaged)."""
    path = tmp_path_factory.mktemp("index")
    if pytestconfig.getoption("reuse_index"):
        _copy_live_build(ROOT / ".clbp-index", path)
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


MODEL_SETTINGS = {"embedding_model", "embedding_backend", "model_cache_dir"}
INDEX_SETTINGS = {"index_dir", "corpus_dir", "chroma_host", "chroma_port", "chunk_size"}


def engine_with(engine: Engine, **changes) -> Engine:
    """An engine on changed settings that shares what the changes leave alone: ``engine``'s loaded
    index, and its model memory, safety gate and learned heads (each takes seconds to build)."""
    local = Engine(engine.settings.model_copy(update=changes))
    if not (INDEX_SETTINGS | MODEL_SETTINGS) & set(changes):
        local.__dict__["index"] = engine.index
    if not MODEL_SETTINGS & set(changes):
        for name in ("encoder", "classifiers", "gate"):
            local.__dict__[name] = getattr(engine, name)
    return local


def invoke(*args: str, **env: str) -> Result:
    """The command line, run in this process as a fresh process would run it: settings read anew,
    with ``env`` over the environment."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, list(args), env=env or None)
    finally:
        get_settings.cache_clear()


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


@pytest.fixture(scope="session")
def answer_of(engine):
    """``engine.answer`` remembered per question for the session: several tests read one answer."""
    return functools.cache(engine.answer)


@pytest.fixture(scope="session")
def client(engine, tmp_path_factory):
    """The whole web app on the session's index, rate limit off, its own data folder (one app for
    the session: building the chat's pages takes seconds)."""
    from fastapi.testclient import TestClient

    from clbp_chat.web.server import create_app

    local = engine_with(engine, data_dir=tmp_path_factory.mktemp("data"), rate_limit=0)
    with TestClient(create_app(local.settings, local)) as c:
        yield ready(c)
