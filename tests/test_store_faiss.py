"""The embedded store behind the project's index interface: exact FAISS below a size, HNSW above it, recorded in
the manifest; a store switch or an old manifest handled as the manifest checks promise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA

from rag.api import Engine
from rag.backends.faiss_store import FaissStore
from rag.errors import ManifestMismatch
from rag.ingest import ingest
from rag.settings import Settings
from rag.store import current_generation, load_index
from rag.types import DocumentInfo, Passage

QUESTIONS = ["When was the State Planning Commission created?", "Where was the Turksib line joined?",
             "bread queues in Leningrad", "What happened to the harvest?"]


def test_small_index_is_exact_and_says_so(small_engine):
    assert small_engine.index.manifest["store"] == {"backend": "faiss", "dense": "flat"}
    assert type(small_engine.index.faiss_index).__name__ == "IndexFlatIP"


def test_above_the_threshold_the_index_is_hnsw_and_answers_alike(tmp_path, small_engine, embedder):
    settings = Settings(index_dir=tmp_path / "hnsw")
    settings.store.approximate_above = 2
    ingest([DATA / "docs"], settings, settings.index_dir, embedder)
    engine = Engine(settings, embedder=embedder)
    record = engine.index.manifest["store"]
    assert record == {"backend": "faiss", "dense": "hnsw", "hnsw_m": settings.store.hnsw_m,
                      "ef_construction": settings.store.hnsw_ef_construction}
    assert engine.index.faiss_index.hnsw.efSearch == settings.store.hnsw_ef_search
    for question in QUESTIONS:  # a few passages: HNSW visits them all, so the rankings are the flat index's
        assert [r.passage.passage_id for r in engine.search(question, 5)] == \
            [r.passage.passage_id for r in small_engine.search(question, 5)]


def synthetic(count: int, dimension: int = 64, seed: int = 0) -> tuple[list[Passage], np.ndarray]:
    """Passages with clustered unit vectors (as real embeddings are: topics), for the dense index alone."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count // 50, dimension))
    vectors = centres[rng.integers(0, len(centres), count)] + 0.6 * rng.normal(size=(count, dimension))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    doc = DocumentInfo(doc_id="d", file="d.txt", title="D")
    passages = [Passage(passage_id=str(i), doc=doc, start=i, end=i + 1, line_start=1, line_end=1, text=f"word{i % 97}")
                for i in range(count)]
    return passages, vectors


def test_hnsw_recall_at_10_against_flat(tmp_path):
    """The approximate index finds almost all of the exact top 10 (benchmarks/scale.py measures it at 1M)."""
    passages, vectors = synthetic(5000)
    searchers = {}
    for name, above in (("flat", 10**9), ("hnsw", 0)):
        settings = Settings()
        settings.store.approximate_above = above
        store = FaissStore(settings)
        folder = tmp_path / name
        folder.mkdir()
        record = store.write(tmp_path, folder, passages, vectors, [p.text for p in passages], folder=folder)
        assert record["dense"] == name
        searchers[name] = store.open(tmp_path, folder, {"counts": {"passages": len(passages)}})
    queries = vectors[::50] + 0.1 * np.random.default_rng(1).normal(size=(100, vectors.shape[1])).astype(np.float32)
    found = [len(set(searchers["flat"].dense(q, 10)[0]) & set(searchers["hnsw"].dense(q, 10)[0])) / 10 for q in queries]
    assert np.mean(found) >= 0.95


def test_an_index_of_another_store_is_a_manifest_mismatch_with_the_rebuild_command(small_index_dir):
    settings = Settings(index_dir=small_index_dir)
    settings.store.backend = "milvus"
    with pytest.raises(ManifestMismatch, match=r"store: index has 'faiss', settings want 'milvus'.*rag ingest \S*/tests/data/docs --index .*--rebuild"):
        load_index(small_index_dir, settings)


def test_an_index_written_before_stores_loads_as_exact_faiss(tmp_path, small_index_dir):
    """Indexes built before the store record existed have no "store" in their manifest: they are flat FAISS."""
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(small_index_dir, copy)
    manifest_path = current_generation(copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["store"]
    manifest_path.write_text(json.dumps(manifest))
    assert load_index(copy, Settings(index_dir=copy)).faiss_index.ntotal == manifest["counts"]["passages"]


def test_bm25_top_k_from_postings_equals_bm25s_retrieve(small_engine):
    """The embedded store ranks BM25 from the postings of the question's terms; the result is bm25s's own."""
    from rag.retrieve import query_terms

    index = small_engine.index
    for question in [*QUESTIONS, "railway railway line", "grain"]:
        terms = query_terms(question)
        ids, scores = index.bm25.retrieve([terms], k=len(index.passages), show_progress=False, n_threads=1)
        keep = scores[0] > 0
        ours = index.searcher.lexical(terms, len(index.passages))
        assert ours[0] == ids[0][keep].tolist() and np.allclose(ours[1], scores[0][keep]), question
    assert index.searcher.lexical(["nosuchword"], 5) == ([], [])
