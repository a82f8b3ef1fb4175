"""The library API that the CLI and the UI call: build an index, search, ask, verify."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from rag.embed import Embedder
from rag.errors import BadInput
from rag.ingest import IngestReport, Progress, ingest, remove_documents
from rag.loaders import read_metadata_edits, write_metadata_edits
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import Index, load_index
from rag.types import DocumentInfo, ScoredPassage


class Engine:
    """A loaded index with its embedding model and retriever, shared by every request."""

    def __init__(self, settings: Settings, index: Index | None = None, embedder: Embedder | None = None):
        self.settings = settings
        self.index = index or load_index(settings.index_dir, settings)
        # the model the index's vectors were made with: its adapted one (rag.adapt) or the settings' one
        self.embedder = embedder or Embedder(settings.embedding, model_dir=self.index.model_dir)
        self.retriever = Retriever(self.index, self.embedder, settings.retrieval)
        self._lock = threading.Lock()

    @property
    def vocabulary(self) -> set[str]:
        """Every word of the indexed documents (lower-case), computed once per loaded index."""
        if getattr(self, "_vocabulary_of", None) is not self.index:
            from rag.extractive import document_vocabulary

            self._vocabulary = document_vocabulary(self.index.texts.values())
            self._vocabulary_of = self.index
        return self._vocabulary

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

    def edit_document(self, file: str, title: str | None = None, author: str | None = None,
                      year: int | str | None = None) -> DocumentInfo:
        """Set a document's title, author or year as the user wants them cited. None leaves a field as it is;
        "" drops the user's edit of it (back to what the catalog or the file says). Saved in
        <index>/metadata.json, so re-ingesting keeps it; the index is rewritten (no re-embedding) and reloaded."""
        with self._lock:
            if file not in self.index.manifest["files"]:
                raise BadInput(f"{file} is not in the library; add it first")
            edits = read_metadata_edits(self.settings.index_dir)
            mine = edits.setdefault(file, {})
            for name, value in (("title", title), ("author", author), ("year", _year(year))):
                if value is None:
                    continue
                if value == "":
                    mine.pop(name, None)
                else:
                    mine[name] = value.strip() if isinstance(value, str) else value
            if not mine:
                del edits[file]
            write_metadata_edits(self.settings.index_dir, edits)
            report = ingest([], self.settings, self.settings.index_dir, self.embedder, remove_missing=False)
            if report.changed:
                self.reload()
            return next(p.doc for p in self.index.passages if p.doc.file == file)

    def reload(self) -> None:
        """Load the index again from disk (after another process or call changed it)."""
        index = load_index(self.settings.index_dir, self.settings)
        if index.adaptation != self.index.adaptation:  # the model changed (`rag ingest --adapt` elsewhere)
            self.embedder = Embedder(self.settings.embedding, model_dir=index.model_dir)
        self.index = index
        self.retriever = Retriever(self.index, self.embedder, self.settings.retrieval)


def _year(value: float | str | None) -> int | str | None:
    """A year as a user typed it: None (leave as is), "" (drop the edit) or a year from 1000 to 2999; else BadInput."""
    if value is None:
        return None
    text = str(int(value)) if isinstance(value, (int, float)) and float(value).is_integer() else str(value).strip()
    if not text:
        return ""
    if not re.fullmatch(r"[12]\d{3}", text):
        raise BadInput(f"the year must be a number such as 1957, not {text[:40]!r}")
    return int(text)


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
