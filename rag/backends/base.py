"""The index interface the project owns. A PassageStore writes the searchable part of one index generation
(dense vectors and a BM25 index over the passages, row i being passages.jsonl's line i) and opens a Searcher
over it; rag.store keeps everything else (passages, sentences, document texts, manifest) in the generation
folder, so citations and quote verification work the same with every store.

A store's `record` goes into the manifest under "store"; a generation is loaded only by a store that agrees
with it (`mismatch`), and a searcher refuses data that is not its generation's (`open`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from rag.settings import Settings
from rag.types import Passage


class Searcher(ABC):
    """Dense and BM25 search over one generation's passages; ids are row numbers in passages.jsonl."""

    size: int  # passages searchable
    dimension: int  # length of the stored vectors

    @abstractmethod
    def dense(self, vector: np.ndarray, n: int) -> tuple[list[int], list[float]]:
        """The n rows closest to a unit vector (inner product), best first, with their scores."""

    @abstractmethod
    def lexical(self, terms: list[str], n: int) -> tuple[list[int], list[float]]:
        """The n rows with the highest BM25 score (above 0) for stemmed query terms, best first."""

    def close(self) -> None:
        """Release what the searcher holds (a connection); the default holds nothing."""


class PassageStore(ABC):
    """Writes and opens the searchable part of index generations, as the settings' store section says."""

    name: str

    def __init__(self, settings: Settings):
        self.settings = settings

    def approximate(self, count: int) -> bool:
        """True when a dense index of `count` vectors is built approximate (HNSW) rather than exact."""
        return count > self.settings.store.approximate_above

    @abstractmethod
    def write(self, root: Path, generation: Path, passages: list[Passage], embeddings: np.ndarray, texts: list[str],
              folder: Path) -> dict:
        """Make a generation of index `root` searchable: `generation` is its final folder, `folder` where its files are
        being written (renamed to `generation` once complete); `texts` are what BM25 indexes of each passage. Returns the
        manifest's "store" record."""

    @abstractmethod
    def open(self, root: Path, generation: Path, manifest: dict) -> Searcher:
        """A searcher over a loaded generation; raises IndexCorrupt or ManifestMismatch if the store's data is not that
        generation's, StoreUnavailable if the store cannot be reached."""

    def check(self, root: Path) -> None:
        """Raise StoreUnavailable now if the store cannot be reached, before an ingest spends minutes embedding."""

    def mismatch(self, record: dict) -> str | None:
        """Why a generation whose "store" record is `record` cannot be loaded with these settings, or None."""
        built = record.get("backend", "faiss")
        return None if built == self.name else f"store: index has {built!r}, settings want {self.name!r}"

    def discard(self, root: Path, keep: Path) -> None:
        """Remove the store's data of generations other than `keep` (after the swap); the default keeps it all in the
        generation folders, which rag.store removes."""


def store_for(settings: Settings) -> PassageStore:
    """The store the settings name (RAG_STORE__BACKEND)."""
    if settings.store.backend == "milvus":
        from rag.backends.milvus_store import MilvusStore

        return MilvusStore(settings)
    from rag.backends.faiss_store import FaissStore

    return FaissStore(settings)
