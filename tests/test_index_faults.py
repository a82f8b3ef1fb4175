"""A damaged, mismatched or half-written index gives one clear line naming the problem and the fix, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.cli import main
from rag.ingest import ingest
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import _sha256, current_generation, load_index, rebuild_hint

RAG = str(Path(sys.executable).parent / "rag")
DOCS = Path(__file__).parent / "data" / "docs"
QUESTIONS = ["What happened to bread prices?", "How were the five-year plans drawn up?", "grain"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data), max(len(data) // 7, 1)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_manifest(gen: Path, change) -> None:
    manifest = json.loads((gen / "manifest.json").read_text())
    change(manifest)
    (gen / "manifest.json").write_text(json.dumps(manifest))


def _other_dimension(gen: Path) -> None:
    """Vectors of another width under the same model name (another model's weights at the same path)."""
    manifest = json.loads((gen / "manifest.json").read_text())
    vectors = np.random.default_rng(0).standard_normal((manifest["counts"]["passages"], 768)).astype(np.float32)
    np.save(gen / "embeddings.npy", vectors)
    flat = faiss.IndexFlatIP(768)
    flat.add(vectors)
    faiss.write_index(flat, str(gen / "faiss.index"))
    for name in ("embeddings.npy", "faiss.index"):
        manifest["checksums"][name] = _sha256(gen / name)
    (gen / "manifest.json").write_text(json.dumps(manifest))


def _first_text(gen: Path) -> Path:
    return min((gen / "texts").iterdir())


# (damage done to the current generation, words the error line must hold)
FAULTS = {
    "faiss.index missing": (lambda g: (g / "faiss.index").unlink(), ["faiss.index"]),
    "faiss.index truncated": (lambda g: _truncate(g / "faiss.index"), ["faiss.index", "damaged"]),
    "faiss.index corrupted": (lambda g: _flip(g / "faiss.index"), ["faiss.index", "damaged"]),
    "embeddings.npy missing": (lambda g: (g / "embeddings.npy").unlink(), ["embeddings.npy"]),
    "embeddings.npy truncated": (lambda g: _truncate(g / "embeddings.npy"), ["embeddings.npy", "damaged"]),
    "embeddings.npy corrupted": (lambda g: _flip(g / "embeddings.npy"), ["embeddings.npy", "damaged"]),
    "passages.jsonl missing": (lambda g: (g / "passages.jsonl").unlink(), ["passages.jsonl"]),
    "passages.jsonl truncated": (lambda g: _truncate(g / "passages.jsonl"), ["passages.jsonl", "damaged"]),
    "passages.jsonl corrupted": (lambda g: _flip(g / "passages.jsonl"), ["passages.jsonl", "damaged"]),
    "manifest.json missing": (lambda g: (g / "manifest.json").unlink(), ["manifest", "missing"]),
    "manifest.json truncated": (lambda g: _truncate(g / "manifest.json"), ["manifest", "unreadable"]),
    "manifest.json corrupted": (lambda g: _flip(g / "manifest.json"), ["manifest", "unreadable"]),
    "manifest.json not an object": (lambda g: (g / "manifest.json").write_text("[1, 2]"), ["manifest", "incomplete"]),
    "bm25 part damaged": (lambda g: _flip(g / "bm25" / "vocab.index.json"), ["bm25/vocab.index.json", "damaged"]),
    "document text altered": (lambda g: _first_text(g).write_text("something else entirely"), ["texts/", "damaged"]),
    "manifest counts disagree": (lambda g: _edit_manifest(g, lambda m: m["counts"].update(passages=m["counts"]["passages"] + 1)),
                                 ["disagrees with its manifest"]),
    "manifest lacks a document": (lambda g: _edit_manifest(g, lambda m: m["files"].pop(min(m["files"]))),
                                  ["disagrees with its manifest"]),
    "manifest checksum disagrees": (lambda g: _edit_manifest(g, lambda m: m["checksums"].update({"faiss.index": "0" * 64})),
                                    ["faiss.index", "checksum differs"]),
    "another embedding model": (lambda g: _edit_manifest(g, lambda m: m["fingerprint"].update(embedding_model="bge-small-en")),
                                ["built differently", "embedding_model", "bge-small-en"]),
    "another chunker version": (lambda g: _edit_manifest(g, lambda m: m["fingerprint"].update(chunker_version="0")),
                                ["built differently", "chunker_version"]),
    "vectors of another width": (_other_dimension, ["768-dimensional"]),
    "CURRENT names no generation": (lambda g: (g.parent / "CURRENT").write_text("gen-20000101-000000-abcdef"), ["manifest", "missing"]),
    "CURRENT garbled": (lambda g: (g.parent / "CURRENT").write_bytes(b"\x00\xfegen\xff"), ["CURRENT", "damaged"]),
}
# faults after which the manifest cannot tell which folders the index was built from
MANIFEST_UNREADABLE = {"manifest.json missing", "manifest.json truncated", "manifest.json corrupted",
                       "manifest.json not an object", "CURRENT names no generation", "CURRENT garbled"}


@pytest.fixture
def index_copy(tmp_path, small_index_dir) -> Path:
    """A copy of the small index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(small_index_dir, target)
    return target


def search_error(index_dir: Path, capsys) -> str:
    status = main(["search", QUESTIONS[0], "--index", str(index_dir)])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == "", captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_damaged_index_gives_one_line_with_the_fix(fault, index_copy, shared_embedder, capsys):
    damage, words = FAULTS[fault]
    damage(current_generation(index_copy))
    line = search_error(index_copy, capsys)
    for word in words:
        assert word in line, line
    sources = "DOCUMENTS" if fault in MANIFEST_UNREADABLE else DOCS.resolve()  # the folder of its four files
    if fault == "manifest lacks a document":  # three left: named one by one
        sources = " ".join(str(DOCS.resolve() / name) for name in ("ocr_book.txt", "planning.md", "turksib.pdf"))
    assert line.endswith(f"; rebuild it with `rag ingest {sources} --index {index_copy} --rebuild`"), line


def test_the_rebuild_hint_names_each_source_folder_once_or_none_when_there_are_many(tmp_path):
    def manifest(*sources):
        return {"files": {Path(s).name: {"source": s} for s in sources}}

    few = manifest("/downloads/paper.pdf")  # ingested alone: its folder may hold other files
    assert rebuild_hint(tmp_path, few) == f"rebuild it with `rag ingest /downloads/paper.pdf --index {tmp_path} --rebuild`"
    some = manifest("/docs/a.txt", "/docs/part 2/b.md", "/docs/e.txt", "/uploads/c.pdf")
    assert rebuild_hint(tmp_path, some) == f"rebuild it with `rag ingest /docs /uploads --index {tmp_path} --rebuild`"
    many = manifest("/a/1.txt", "/b/2.txt", "/c/3.txt", "/d/4.txt")
    for unknown in (many, manifest(), None, [1, 2]):
        assert rebuild_hint(tmp_path, unknown) == f"rebuild it with `rag ingest DOCUMENTS --index {tmp_path} --rebuild`"
    assert "'/my docs/a.txt'" in rebuild_hint(tmp_path, manifest("/my docs/a.txt"))  # quoted, to paste


def test_missing_index_says_how_to_build_it(tmp_path, shared_embedder, capsys):
    line = search_error(tmp_path / "nowhere", capsys)
    assert line == f"error: no index at {tmp_path / 'nowhere'}; build it with `rag ingest corpus/ --index {tmp_path / 'nowhere'}`"


def test_damaged_index_from_the_real_command_line(index_copy):
    """The console script itself: exit status 1, one line on stderr, no traceback."""
    _truncate(current_generation(index_copy) / "faiss.index")
    done = subprocess.run([RAG, "search", QUESTIONS[0], "--index", str(index_copy)], capture_output=True, text=True,
                          env={**os.environ, "RAG_DEBUG": ""}, timeout=600, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "faiss.index" in errors[0] and "--rebuild" in errors[0], done.stderr


def test_ingest_repairs_a_damaged_index(index_copy, embedder):
    _flip(current_generation(index_copy) / "faiss.index")
    report = ingest([DOCS], Settings(index_dir=index_copy), index_copy, embedder)
    assert report.changed and not report.skipped
    assert load_index(index_copy, Settings(index_dir=index_copy)).faiss_index.ntotal == report.passages


# --- an ingest killed at any point leaves the previous index in use ---------------------------------

EXTRA = ("The currency reform of 1947 confiscated savings held in cash. Prices of rationed goods were raised "
         "while ration cards were abolished, and the new rouble replaced the old at one to ten.\n") * 30


def _results(index_dir: Path, embedder) -> list[list[tuple[str, float]]]:
    retriever = Retriever(load_index(index_dir, Settings(index_dir=index_dir)), embedder)
    return [[(r.passage.passage_id, round(r.score, 6)) for r in retriever.search(q)] for q in QUESTIONS]


def _leftovers(index_dir: Path) -> list[str]:
    current = current_generation(index_dir).name
    return sorted(p.name for p in index_dir.iterdir() if p.name not in ("CURRENT", current))


def _start_ingest(docs: Path, index_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "RAG_EMBEDDING__INGEST_THREADS": "1"}
    return subprocess.Popen([RAG, "ingest", str(docs), "--index", str(index_dir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen, index_dir: Path, point: str, deadline: float = 600) -> bool:
    """SIGKILL the ingest at `point` (seconds after start, or a file appearing); False if it finished first."""
    began = time.monotonic()
    while proc.poll() is None and time.monotonic() - began < deadline:
        names = os.listdir(index_dir)
        if (point == "writing" and any(n.endswith(".partial") for n in names)
                or point == "swapping" and any(n.startswith("CURRENT.") for n in names)
                or point.endswith(" s") and time.monotonic() - began >= float(point[:-2])):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0005 if point in ("writing", "swapping") else 0.01)
    proc.wait()
    return False


def test_sigkilled_ingest_leaves_the_previous_index(tmp_path, small_index_dir, embedder):
    index_dir = tmp_path / "index"
    shutil.copytree(small_index_dir, index_dir)
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    (docs / "reform.txt").write_text(EXTRA)  # a new file, so the ingest writes a new generation
    before = _results(index_dir, embedder)
    old_generation = current_generation(index_dir)
    caught_writing = False
    for point in ["0.5 s", "1 s", "2 s", "writing", "writing", "writing", "swapping"]:
        if point == "writing" and caught_writing:
            continue
        killed = _kill_when(_start_ingest(docs, index_dir), index_dir, point)
        caught_writing |= killed and point == "writing"
        if current_generation(index_dir) == old_generation:
            assert _results(index_dir, embedder) == before, f"results changed after a kill at {point}"
        else:  # the swap completed before the kill (the process may still be exiting): the new index is whole
            index = load_index(index_dir, Settings(index_dir=index_dir))
            assert "reform.txt" in index.manifest["files"]
            shutil.rmtree(index_dir)  # start the next kill from the old index again
            shutil.copytree(small_index_dir, index_dir)
            old_generation = current_generation(index_dir)
    assert caught_writing, "the ingest was never caught while writing its new generation"
    report = ingest([docs], Settings(index_dir=index_dir), index_dir, embedder)
    assert report.indexed == ["reform.txt"] and not report.skipped
    assert "reform.txt" in load_index(index_dir, Settings(index_dir=index_dir)).manifest["files"]
    assert _leftovers(index_dir) == []
