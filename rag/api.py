"""The library API that the CLI and the UI call: build an index, search, ask, verify."""

from __future__ import annotations

import threading
from pathlib import Path

from rag.embed import Embedder
from rag.ingest import IngestReport, Progress, ingest, remove_documents
from rag.reader import Reader
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import Index, load_index
from rag.types import ScoredPassage


class Engine:
    """A loaded index with its embedding model and retriever, shared by every request."""

    def __init__(self, settings: Settings, index: Index | None = None, embedder: Embedder | None = None):
        self.settings = settings
        self.index = index or load_index(settings.index_dir, settings)
        # the model the index's vectors were made with: its adapted one (rag.adapt) or the settings' one
        self.embedder = embedder or Embedder(settings.embedding, model_dir=self.index.model_dir)
        self.retriever = Retriever(self.index, self.embedder, settings.retrieval)
        self._lock = threading.Lock()
        self._reader: Reader | None = None
        self._reader_lock = threading.Lock()

    @property
    def vocabulary(self) -> set[str]:
        """Every word of the indexed documents (lower-case), computed once per loaded index."""
        if getattr(self, "_vocabulary_of", None) is not self.index:
            from rag.extractive import document_vocabulary

            self._vocabulary = document_vocabulary(self.index.texts.values())
            self._vocabulary_of = self.index
        return self._vocabulary

    @property
    def reader(self) -> Reader:
        """The reading model of the read mode, one per engine, shared by every request (loaded on first use,
        or in the background by `reader.start_loading()`)."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = Reader(self.settings.reader)
            return self._reader

    def search(self, question: str, k: int | None = None) -> list[ScoredPassage]:
        """Ranked passages for a question."""
        return self.retriever.search(question, k)

    def ingest(self, paths: list[Path], progress: Progress | None = None, remove_missing: bool = False) -> IngestReport:
        """Add or update files in this engine's index (embedded with its model), then reload it."""
        with self._lock:
            report = ingest(paths, self.settings, self.settings.index_dir, self.embedder,
                            progress=progress, remove_missing=remove_missing)
            if report.changed:
                self.reload()
            return report

    def remove_documents(self, names: list[str]) -> IngestReport:
        """Remove documents (by file name) from this engine's index, then reload it."""
        with self._lock:
            report = remove_documents(names, self.settings, self.settings.index_dir)
            if report.changed:
                self.reload()
            return report

    def reload(self) -> None:
        """Load the index again from disk (after another process or call changed it)."""
        index = load_index(self.settings.index_dir, self.settings)
        if index.adaptation != self.index.adaptation:  # the model changed (`rag ingest --adapt` elsewhere)
            self.embedder = Embedder(self.settings.embedding, model_dir=index.model_dir)
        self.index = index
        self.retriever = Retriever(self.index, self.embedder, self.settings.retrieval)


def build_index(settings: Settings, paths: list[Path] | None = None, progress: Progress | None = None,
                rebuild: bool = False, embedder: Embedder | None = None, adapt: bool = True) -> IngestReport:
    """Build or update the index at settings.index_dir from `paths` (default: the bundled corpus), by
    default with the embedding model adapted to the documents, as `make setup` builds it."""
    return ingest(paths or [settings.corpus_dir], settings, settings.index_dir, embedder, rebuild=rebuild,
                  progress=progress, adapt=adapt)


def ensure_index(settings: Settings, progress: Progress | None = None) -> IngestReport | None:
    """Build the default index from the bundled corpus if none exists; None if one was there."""
    from rag.store import current_generation

    if current_generation(Path(settings.index_dir)) is not None:
        return None
    return build_index(settings, progress=progress)
