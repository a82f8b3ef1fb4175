"""Shared fixtures: real embedding model, real indexes (a tiny one from tests/data, the bundled corpus one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.api import Engine, build_index  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.settings import PROJECT_ROOT, Settings  # noqa: E402

DATA = Path(__file__).parent / "data"
CORPUS = PROJECT_ROOT / "corpus"
EVAL_FILE = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(Settings().embedding)


@pytest.fixture(scope="session")
def corpus_settings() -> Settings:
    """Settings of the default index of the bundled corpus (built by `make setup`, or here if missing)."""
    return Settings()


@pytest.fixture(scope="session")
def corpus_engine(corpus_settings, embedder) -> Engine:
    """An engine over the bundled corpus; builds the default index if it is missing or stale."""
    build_index(corpus_settings, embedder=embedder)  # a no-op when the index is current
    return Engine(corpus_settings, embedder=embedder)


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
