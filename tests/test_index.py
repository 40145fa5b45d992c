"""Ingest: idempotent, atomic, and clear about a missing or damaged index."""

from __future__ import annotations

import shutil

import pytest

import clbp_chat.store as store_module
from clbp_chat.config import Settings
from clbp_chat.errors import CorpusError, IndexMissing
from clbp_chat.index import build_index, live_manifest, open_index
from clbp_chat.store import LocalStore


def live_folder(settings: Settings):
    """The live local build's folder."""
    return settings.index_dir / "builds" / LocalStore(settings).current()


@pytest.fixture
def own_index(tmp_path, built_index_dir, corpus_copy) -> Settings:
    """A private copy of the session index over a private corpus copy, free to damage."""
    target = tmp_path / "index"
    shutil.copytree(built_index_dir, target)
    return Settings(corpus_dir=corpus_copy, index_dir=target)


def test_second_ingest_changes_nothing(own_index):
    before = (own_index.index_dir / "CURRENT").read_text()
    report = build_index(own_index, progress=False)
    assert report.built is False
    assert (own_index.index_dir / "CURRENT").read_text() == before


@pytest.mark.slow
def test_rebuild_forces_a_new_build_and_keeps_one_previous(own_index):
    before = live_folder(own_index)
    report = build_index(own_index, force=True, progress=False)
    assert report.built and report.chunk_count == live_manifest(own_index)["chunk_count"]
    assert live_folder(own_index) != before
    assert before.is_dir()
    open_index(own_index)


def test_manifest_records_hash_model_count_and_time(own_index):
    manifest = live_manifest(own_index)
    assert len(manifest["corpus_hash"]) == 64
    assert manifest["model"] == "bundled"
    assert manifest["chunk_count"] > 50
    assert manifest["built_at"]


@pytest.mark.slow
def test_corpus_edit_triggers_a_rebuild(own_index):
    path = own_index.corpus_dir / "glossary.md"
    path.write_text(path.read_text() + "\n## Cartilage\n\nCartilage is a firm, smooth tissue.\n")
    report = build_index(own_index, progress=False)
    assert report.built
    assert any(c.id == "glossary#cartilage" for c in open_index(own_index).chunks)


def test_malformed_corpus_leaves_the_live_index_untouched(own_index):
    before = (own_index.index_dir / "CURRENT").read_text()
    (own_index.corpus_dir / "broken.md").write_text("---\nid: [oops\n---\ntext\n")
    with pytest.raises(CorpusError, match="broken.md"):
        build_index(own_index, force=True, progress=False)
    assert (own_index.index_dir / "CURRENT").read_text() == before
    open_index(own_index)


@pytest.mark.slow
def test_crash_mid_build_keeps_the_previous_index_serving(own_index, monkeypatch):
    before = (own_index.index_dir / "CURRENT").read_text()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_module, "_write_arrays", explode)
    with pytest.raises(RuntimeError):
        build_index(own_index, force=True, progress=False)
    assert (own_index.index_dir / "CURRENT").read_text() == before
    assert not any(p.name.startswith(".tmp") for p in (own_index.index_dir / "builds").iterdir())
    open_index(own_index)


def test_missing_index_says_to_run_ingest(tmp_path):
    with pytest.raises(IndexMissing, match="run `clbp-chat ingest`"):
        open_index(Settings(index_dir=tmp_path / "nothing"))


def test_damaged_index_says_to_rebuild(own_index):
    (live_folder(own_index) / "chunks.json").write_text("{not json")
    with pytest.raises(IndexMissing, match="damaged.*--rebuild"):
        open_index(own_index)


def test_index_built_with_another_model_is_refused(own_index, tmp_path):
    other = own_index.model_copy(update={"embedding_model": str(tmp_path)})
    with pytest.raises(IndexMissing, match="built with model 'bundled'"):
        open_index(other)
