"""Shared fixtures: real embedding model, real indexes (a tiny one from tests/data, the bundled corpus one)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.api import Engine, build_index
from rag.embed import Embedder
from rag.ingest import ingest
from rag.settings import PROJECT_ROOT, Settings
from rag.store import current_generation

DATA = Path(__file__).parent / "data"
CORPUS = PROJECT_ROOT / "corpus"
EVAL_FILE = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(Settings().embedding)


@pytest.fixture
def shared_embedder(monkeypatch, embedder):
    """Let CLI commands over the small (not adapted) indexes reuse the session's model instead of loading their own."""
    import rag.api

    monkeypatch.setattr(rag.api, "Embedder", lambda settings=None, model_dir=None: embedder)


@pytest.fixture(scope="session")
def corpus_settings() -> Settings:
    """Settings of the default index of the bundled corpus (built by `make setup`, or here if missing)."""
    return Settings()


@pytest.fixture(scope="session")
def corpus_engine(corpus_settings) -> Engine:
    """An engine over the bundled corpus, with the index's own model (adapted or not); builds the default index,
    without adaptation, if it is missing or stale."""
    build_index(corpus_settings, adapt=False)  # a no-op when the index is current
    return Engine(corpus_settings)


@pytest.fixture(scope="session")
def small_index_dir(tmp_path_factory, embedder) -> Path:
    """An index of the tiny documents in tests/data/docs."""
    index_dir = tmp_path_factory.mktemp("small-index")
    report = ingest([DATA / "docs"], Settings(index_dir=index_dir), index_dir, embedder)
    assert not report.skipped, report.skipped
    return index_dir


@pytest.fixture(scope="session")
def small_engine(small_index_dir, embedder) -> Engine:
    return Engine(Settings(index_dir=small_index_dir), embedder=embedder)


@dataclass
class RunningApp:
    url: str
    index_dir: Path
    log: Path


@pytest.fixture(scope="session")
def ui_app(tmp_path_factory, corpus_settings) -> RunningApp:
    """app.py serving a copy of the default index on a free port (the copy may be changed by the tests)."""
    build_index(corpus_settings, adapt=False)  # a no-op when the default index is current
    work = tmp_path_factory.mktemp("ui-app")
    source = current_generation(corpus_settings.index_dir)
    index_dir = work / "index"
    shutil.copytree(source, index_dir / source.name)
    (index_dir / "CURRENT").write_text(source.name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = work / "app.log"
    # no adapting in the background while the tests run (it would take the CPU and swap the index under them)
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "GRADIO_SERVER_PORT": str(port), "RAG_ADAPT__ENABLED": "false"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "app.py")], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300  # generous: the machine may be busy loading torch elsewhere
        while "ready: http" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"app.py did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield RunningApp(f"http://127.0.0.1:{port}", index_dir, log)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
