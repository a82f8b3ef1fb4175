"""Bulk ingest on a local Ray (2 CPUs): the same passages, sentences and vectors as the in-process ingest."""

from __future__ import annotations

import numpy as np
from conftest import DATA

from rag.cli import main as rag_main
from rag.settings import Settings
from rag.store import load_index


def test_ingest_on_local_ray_equals_the_in_process_one(tmp_path, small_index_dir, monkeypatch, capsys):
    monkeypatch.setenv("RAG_RAY__LOCAL_CPUS", "2")
    index_dir = tmp_path / "index"
    assert rag_main(["ingest", str(DATA / "docs"), "--index", str(index_dir), "--ray", "local"]) == 0
    out, err = capsys.readouterr()
    ray_index = load_index(index_dir, Settings(index_dir=index_dir))
    plain = load_index(small_index_dir, Settings(index_dir=small_index_dir))
    assert f"passages: {len(plain.passages)} ({len(plain.passages)} embedded)" in out
    assert "embedding" in err and "reading and chunking" in err, "progress is shown as without Ray"
    assert ray_index.passages == plain.passages and ray_index.manifest["files"].keys() == plain.manifest["files"].keys()
    assert [(x.file, x.start, x.end, x.text) for x in ray_index.sentences] == [(x.file, x.start, x.end, x.text) for x in plain.sentences]
    assert np.min(np.sum(ray_index.embeddings * plain.embeddings, axis=1)) >= 0.999
    assert np.min(np.sum(ray_index.sentence_embeddings * plain.sentence_embeddings, axis=1)) >= 0.999
    assert ray_index.texts == plain.texts
