"""The Milvus store on Milvus Lite (embedded, no server): the same passages, rankings and verified quotations as the
embedded default, incremental ingest and removal, and one-line errors naming what to fix."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from conftest import DATA

from rag.api import Engine
from rag.backends.milvus_store import client_for
from rag.chain import answer
from rag.cli import main as rag_main
from rag.errors import IndexCorrupt, ManifestMismatch, StoreUnavailable
from rag.ingest import ingest, remove_documents
from rag.quotes import text_at
from rag.settings import Settings
from rag.store import load_index

QUESTIONS = ["When was the State Planning Commission created?", "Where was the Turksib line joined?",
             "bread queues in Leningrad", "What did the planners replace?", "harvest and grain"]


def milvus_settings(index_dir, uri=None) -> Settings:
    settings = Settings(index_dir=index_dir)
    settings.store.backend = "milvus"
    settings.store.uri = str(uri or index_dir.parent / "milvus.db")
    return settings


@pytest.fixture(scope="module")
def milvus_index(tmp_path_factory, embedder):
    index_dir = tmp_path_factory.mktemp("milvus") / "index"
    report = ingest([DATA / "docs"], milvus_settings(index_dir), index_dir, embedder)
    assert not report.skipped, report.skipped
    return index_dir


@pytest.fixture(scope="module")
def milvus_engine(milvus_index, embedder):
    return Engine(milvus_settings(milvus_index), embedder=embedder)


def test_the_manifest_names_the_collection_and_the_folder_has_no_faiss_files(milvus_engine):
    record = milvus_engine.index.manifest["store"]
    assert record["backend"] == "milvus" and record["dense"] == "flat"
    assert record["uri"] == str(Path(milvus_engine.settings.store.uri).resolve()) and record["collection"].endswith(milvus_engine.index.generation.name.replace("-", "_"))
    assert record["bm25"] == {"k1": 1.5, "b": 0.75}
    assert not (milvus_engine.index.generation / "faiss.index").exists()
    assert milvus_engine.index.faiss_index is None and milvus_engine.index.searcher.size == len(milvus_engine.index.passages)


def test_rankings_and_scores_are_the_embedded_stores(milvus_engine, small_engine):
    """BM25 in Milvus is fed bm25s's terms with its k1 and b, dense search is exact: the fused rankings are equal."""
    for question in QUESTIONS:
        ours = milvus_engine.search(question, 5)
        theirs = small_engine.search(question, 5)
        assert [r.passage.passage_id for r in ours] == [r.passage.passage_id for r in theirs], question
        for a, b in zip(ours, theirs):
            assert a.bm25_score == pytest.approx(b.bm25_score, rel=1e-4) if b.bm25_score else a.bm25_score is None
            assert a.dense_score == pytest.approx(b.dense_score, abs=1e-5) if b.dense_score else a.dense_score is None


def test_each_row_keeps_the_passage_with_its_offsets_page_section_and_document(milvus_engine):
    searcher = milvus_engine.index.searcher
    rows = searcher.client.query(searcher.collection, filter="id >= 0", output_fields=["id", "file", "start", "end", "passage"])
    assert len(rows) == len(milvus_engine.index.passages)
    for row in rows:
        passage = milvus_engine.index.passages[row["id"]]
        assert (row["file"], row["start"], row["end"]) == (passage.doc.file, passage.start, passage.end)
        assert row["passage"] == passage.model_dump(mode="json")


def test_answers_quote_verbatim_from_it(milvus_engine):
    result = answer(milvus_engine, "When was the State Planning Commission created and what did it replace?")
    assert not result.abstained and any("February 1921" in q.text for q in result.quotes)
    for q in result.quotes:
        assert text_at(milvus_engine.index.document_text(q.doc), q.start, q.end) == q.text


def test_the_command_line_asks_and_searches_it(milvus_index, monkeypatch, shared_embedder, capsys):
    monkeypatch.setenv("RAG_STORE__BACKEND", "milvus")
    monkeypatch.setenv("RAG_STORE__URI", str(milvus_index.parent / "milvus.db"))
    assert rag_main(["ask", "When was the State Planning Commission created?", "--index", str(milvus_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["quotes"] and out["quotes"][0]["doc"] == "planning.md"


def test_incremental_ingest_and_removal_keep_one_collection(tmp_path, embedder):
    docs = tmp_path / "docs"
    shutil.copytree(DATA / "docs", docs)
    extra = docs / "planning.md"
    settings = milvus_settings(tmp_path / "index")
    extra_text = extra.read_text()
    extra.unlink()
    first = ingest([docs], settings, settings.index_dir, embedder)
    extra.write_text(extra_text)
    second = ingest([docs], settings, settings.index_dir, embedder)
    assert second.indexed == ["planning.md"] and second.embedded < second.passages, "only the new file is embedded"
    index = load_index(settings.index_dir, settings)
    client = index.searcher.client
    ours = [c for c in client.list_collections() if c.startswith(index.manifest["store"]["collection"][:15])]
    assert ours == [index.manifest["store"]["collection"]], "the previous generation's collection is dropped"
    assert Engine(settings, embedder=embedder).search("State Planning Commission", 1)[0].passage.doc.file == "planning.md"
    removed = remove_documents(["planning.md"], settings)
    assert removed.removed == ["planning.md"] and removed.passages == first.passages
    after = Engine(settings, embedder=embedder)
    assert after.index.searcher.size == first.passages
    assert all(r.passage.doc.file != "planning.md" for r in after.search("State Planning Commission", 5))


def test_a_dropped_collection_is_a_damaged_index_with_the_rebuild_command(tmp_path, embedder):
    settings = milvus_settings(tmp_path / "index")
    ingest([DATA / "docs" / "planning.md"], settings, settings.index_dir, embedder)
    index = load_index(settings.index_dir, settings)
    index.searcher.client.drop_collection(index.manifest["store"]["collection"])
    with pytest.raises(IndexCorrupt, match=r"collection .* is missing from .*milvus.db; rebuild it with `rag ingest \S*/tests/data/docs/planning\.md --index .* --rebuild`"):
        load_index(settings.index_dir, settings)
    ingest([DATA / "docs" / "planning.md"], settings, settings.index_dir, embedder)  # and an ingest repairs it
    assert load_index(settings.index_dir, settings).searcher.size > 0


def test_a_collection_built_by_another_chunker_is_refused_with_the_rebuild_command(tmp_path, embedder):
    settings = milvus_settings(tmp_path / "index")
    ingest([DATA / "docs" / "planning.md"], settings, settings.index_dir, embedder)
    index = load_index(settings.index_dir, settings)
    manifest = dict(index.manifest, fingerprint={**index.manifest["fingerprint"], "chunker_version": "other"})
    (index.generation / "manifest.json").write_text(json.dumps(manifest))
    settings.chunking.version = "other"  # the manifest and the settings agree; the collection does not
    with pytest.raises(ManifestMismatch, match=r"built with another embedding model or chunker.*--rebuild"):
        load_index(settings.index_dir, settings)


def test_another_uri_names_the_one_the_index_was_built_with(milvus_index, tmp_path):
    settings = milvus_settings(milvus_index, uri=tmp_path / "other.db")
    with pytest.raises(ManifestMismatch, match=r"keeps its passages in the Milvus at .*milvus.db.*RAG_STORE__URI="):
        load_index(milvus_index, settings)


def test_an_unreachable_server_is_one_line_naming_the_uri(tmp_path, monkeypatch, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    with pytest.raises(StoreUnavailable, match=rf"cannot reach the Milvus server at {uri} .*check that it is running"):
        client_for(uri, timeout=2)
    monkeypatch.setenv("RAG_STORE__BACKEND", "milvus")
    monkeypatch.setenv("RAG_STORE__URI", uri)
    assert rag_main(["ingest", str(DATA / "docs" / "planning.md"), "--index", str(tmp_path / "index")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert err.startswith(f"error: cannot reach the Milvus server at {uri}") and "RAG_STORE__URI" in err


def test_an_adapted_index_keeps_its_model_and_vectors_in_milvus(tmp_path):
    """`rag ingest --adapt` with the milvus store: the adapted model stays in the generation folder, its vectors go to
    Milvus, and the engine searches them with that model."""
    from rag.settings import AdaptSettings

    settings = milvus_settings(tmp_path / "index")
    settings.adapt = AdaptSettings(batch_size=2, max_steps=2)  # the mechanics only, as in tests/test_adapt.py
    ingest([DATA / "docs"], settings, settings.index_dir, adapt=True)
    engine = Engine(settings)
    assert engine.index.adaptation and engine.index.model_dir.is_dir() and engine.adapted
    assert engine.index.manifest["store"]["backend"] == "milvus"
    assert engine.search("When was the State Planning Commission created?", 1)[0].passage.doc.file == "planning.md"
    again = ingest([DATA / "docs"], settings, settings.index_dir, adapt=True)
    assert not again.changed, "adapted to exactly these files already: nothing to do"
