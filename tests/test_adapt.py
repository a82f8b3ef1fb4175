"""Adapting the embedding model to the documents (rag.adapt) and keeping it with the index."""

from __future__ import annotations

import os
import random
import shutil
import time

import numpy as np
import pytest

from rag.adapt import cloze_pairs
from rag.api import Engine
from rag.embed import Embedder, exported_model, prune_export_cache
from rag.errors import IndexCorrupt
from rag.ingest import ingest, remove_documents
from rag.settings import AdaptSettings, Settings
from rag.store import embedding_text, load_index
from tests.conftest import DATA

QUICK = AdaptSettings(batch_size=2, max_steps=2)  # the mechanics, not the quality: benchmarks/retrieval.py measures that


def test_cloze_pairs_take_a_sentence_out_of_its_passage(corpus_engine):
    passages = corpus_engine.index.passages[:300]
    settings = AdaptSettings(keep_sentence_share=0.0)
    pairs = cloze_pairs(passages, settings, random.Random(0))
    assert 0.5 * len(passages) < len(pairs) <= len(passages)
    for query, context in pairs:
        assert len(query.split()) >= settings.min_sentence_words
        assert query not in context
    assert cloze_pairs(passages, settings, random.Random(0)) == pairs, "the same seed should give the same pairs"
    kept = cloze_pairs(passages, AdaptSettings(keep_sentence_share=1.0), random.Random(0))
    assert all(query in context for query, context in kept)


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    """A copy of tests/data/docs indexed with a (briefly) adapted model."""
    work = tmp_path_factory.mktemp("adapted")
    docs = work / "docs"
    shutil.copytree(DATA / "docs", docs)
    (docs / "turksib.pdf").unlink()
    settings = Settings(index_dir=work / "index", adapt=QUICK)
    report = ingest([docs], settings, settings.index_dir, adapt=True)
    assert not report.skipped and report.changed and "adapt" in report.timings
    return docs, settings


def test_adapted_model_is_kept_with_the_index_and_used_for_questions(adapted, embedder):
    _, settings = adapted
    index = load_index(settings.index_dir, settings)
    assert index.model_dir == index.generation / "model" and (index.model_dir / "model.safetensors").exists()
    assert index.adaptation["steps"] == 2 and index.adaptation["method"] == "inverse cloze task"
    assert sorted(index.adaptation["files"]) == sorted(index.manifest["files"])
    engine = Engine(settings)
    assert engine.embedder.path == index.model_dir
    assert engine.embedder.max_seq_length == embedder.max_seq_length == 256, "the adapted model reads as far as the base"
    texts = [embedding_text(p) for p in index.passages[:8]]
    adapted_vectors = engine.embedder.embed_documents(texts)
    assert (adapted_vectors * index.embeddings[:8]).sum(axis=1).min() > 0.97, "stored vectors come from the adapted model"
    assert (adapted_vectors * embedder.embed_documents(texts)).sum(axis=1).min() < 0.9999, "training changed nothing"
    hits = engine.search("How many hours did the bakers work?", k=3)
    assert hits and hits[0].passage.doc.file in index.manifest["files"]


def test_updates_keep_the_adapted_model_until_asked_to_adapt_again(adapted, tmp_path):
    docs, settings = adapted
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    settings = settings.model_copy(update={"index_dir": index_dir})
    before = load_index(index_dir, settings)

    again = ingest([docs], settings, index_dir, adapt=True)
    assert not again.changed and "adapt" not in again.timings, "the model was already adapted to these files"

    shutil.copy(DATA / "docs" / "turksib.pdf", docs)
    added = ingest([docs], settings, index_dir)  # no --adapt: the new file is embedded with the index's model
    after = load_index(index_dir, settings)
    assert added.indexed == ["turksib.pdf"] and added.embedded == len(after.passages_of("turksib.pdf"))
    assert after.adaptation == before.adaptation
    new = [i for i, p in enumerate(after.passages) if p.doc.file == "turksib.pdf"]
    expected = Embedder(settings.embedding, model_dir=after.model_dir).embed_documents(
        [embedding_text(after.passages[i]) for i in new])
    assert (expected * after.embeddings[new]).sum(axis=1).min() > 0.97

    remove_documents(["turksib.pdf"], settings, index_dir)
    assert load_index(index_dir, settings).adaptation == before.adaptation

    shutil.copy(DATA / "docs" / "turksib.pdf", docs)
    readapted = ingest([docs], settings, index_dir, adapt=True)
    final = load_index(index_dir, settings)
    assert "adapt" in readapted.timings and readapted.embedded == len(final.passages)
    assert sorted(final.adaptation["files"]) == sorted(final.manifest["files"])
    assert not list(index_dir.glob("model.partial-*")), "the training folder should be gone"


def test_an_index_of_another_chunker_version_is_rebuilt_with_its_adapted_model(adapted, tmp_path):
    """A new index layout needs a rebuild, not a new model: the model depends on the documents only."""
    docs, settings = adapted
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    before = load_index(index_dir, settings.model_copy(update={"index_dir": index_dir}))
    weights = (before.model_dir / "model.safetensors").read_bytes()
    trained_on = tmp_path / "docs"  # the files the model was adapted to (another test adds one to the shared folder)
    trained_on.mkdir()
    for name in [*before.adaptation["files"], "catalog.toml"]:
        shutil.copy(docs / name, trained_on)
    newer = settings.model_copy(update={"index_dir": index_dir,
                                        "chunking": settings.chunking.model_copy(update={"version": "next"})})
    report = ingest([trained_on], newer, index_dir, adapt=True)
    after = load_index(index_dir, newer)
    assert report.changed and "adapt" not in report.timings and report.embedded == len(after.passages)
    assert after.adaptation == before.adaptation and after.generation != before.generation
    assert (after.model_dir / "model.safetensors").read_bytes() == weights
    assert np.allclose((after.embeddings * before.embeddings).sum(axis=1), 1.0, atol=0.03), "embedded with the adapted model"

    ingest([trained_on], newer, index_dir, rebuild=True)  # an explicit rebuild goes back to the model as shipped
    assert load_index(index_dir, newer).adaptation is None


def test_a_damaged_adapted_model_is_caught_at_load(adapted, tmp_path):
    _, settings = adapted
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    weights = load_index(index_dir, settings).model_dir / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.unlink()  # a hard link into the other copy: write a new file, not through the link
    weights.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="model/model.safetensors"):
        load_index(index_dir, settings.model_copy(update={"index_dir": index_dir}))


def test_engine_reload_switches_to_a_newly_adapted_model(adapted, tmp_path):
    docs, settings = adapted
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    settings = settings.model_copy(update={"index_dir": index_dir})
    engine = Engine(settings)
    first_model = engine.embedder.path
    ingest([docs], settings.model_copy(update={"adapt": QUICK.model_copy(update={"seed": 1})}), index_dir,
           rebuild=True, adapt=True)
    engine.reload()
    assert engine.embedder.path == engine.index.model_dir != first_model
    stored = engine.index.embeddings[:4]
    fresh = engine.embedder.embed_documents([embedding_text(p) for p in engine.index.passages[:4]])
    assert np.allclose((stored * fresh).sum(axis=1), 1.0, atol=0.03)


def test_the_export_cache_keeps_the_recently_used_models(tmp_path, embedder):
    """Every adapted model gets its own ONNX export; without pruning, each re-adaptation would leave 23 MB behind."""
    now = time.time()
    for days in range(1, 13):
        path = tmp_path / f"model-int8-{days:02d}d.onnx"
        path.write_bytes(b"onnx")
        os.utime(path, (now - days * 86400, now - days * 86400))
    removed = prune_export_cache(tmp_path, keep=8)
    assert sorted(p.name for p in removed) == [f"model-int8-{d:02d}d.onnx" for d in (9, 10, 11, 12)]
    assert len(list(tmp_path.glob("*.onnx"))) == 8

    for path in tmp_path.glob("*.onnx"):
        os.utime(path)  # all in use within the hour: a running process may still open any of them
    assert prune_export_cache(tmp_path, keep=2) == [] and len(list(tmp_path.glob("*.onnx"))) == 8

    settings = Settings().embedding
    used = exported_model(embedder.path, settings)
    os.utime(used, (now - 86400, now - 86400))
    assert exported_model(embedder.path, settings) == used
    assert used.stat().st_mtime > now - 60, "loading an export marks it as used"
