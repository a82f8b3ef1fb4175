"""The library API that the CLI and the UI call: build an index, search, ask, verify."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from rag.adapt import adapt_model
from rag.embed import Embedder, base_model_path
from rag.errors import BadInput, RagError
from rag.extractive import ExtractiveGenerator
from rag.ingest import IngestReport, Progress, ingest, remove_documents
from rag.loaders import read_metadata_edits, write_metadata_edits
from rag.reader import Reader
from rag.rerank import rerank
from rag.retrieve import Retriever, passages_wanted
from rag.settings import Settings
from rag.store import Index, current_generation, load_index
from rag.types import DocumentInfo, ScoredPassage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One index generation with the model its vectors were made with and a retriever over both: swapped whole."""

    index: Index
    embedder: Embedder
    retriever: Retriever


class Engine:
    """A loaded index with its embedding model and retriever, shared by every request.

    When the index's CURRENT pointer names a new generation (an ingest here or in another process,
    or adapt()), the next search loads it and swaps it in as one object, so a request never mixes
    the index of one generation with the model of another. (Not for an engine given its index.)"""

    def __init__(self, settings: Settings, index: Index | None = None, embedder: Embedder | None = None):
        self.settings = settings
        self._follows_disk = index is None  # an index handed in (a test's, another store's) stays as given
        index = index or load_index(settings.index_dir, settings)
        # the model the index's vectors were made with: its adapted one (rag.adapt) or the settings' one
        embedder = embedder or Embedder(settings.embedding, model_dir=index.model_dir)
        self._loaded = Loaded(index, embedder, Retriever(index, embedder, settings.retrieval))
        self._lock = threading.RLock()
        self._reader: Reader | None = None
        self._reader_lock = threading.Lock()

    @property
    def index(self) -> Index:
        return self._loaded.index

    @property
    def embedder(self) -> Embedder:
        return self._loaded.embedder

    @property
    def retriever(self) -> Retriever:
        return self._loaded.retriever

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
                self._reader = Reader(self.settings.reader, documents=lambda: self.index.texts.values())
            return self._reader

    def search(self, question: str, k: int | None = None, rerank: bool = False) -> list[ScoredPassage]:
        """Ranked passages for a question (from the newest index generation); with `rerank`, the first ones
        reordered by the reading model (rag.rerank)."""
        self.refresh()
        k = passages_wanted(k, self.settings.retrieval.k)
        if not rerank:
            return self.retriever.search(question, k)
        found = self.retriever.search(question, max(k, self.settings.retrieval.rerank_depth))
        return self.rerank(question, found)[:k]

    def rerank(self, question: str, passages: list[ScoredPassage]) -> list[ScoredPassage]:
        """The passages with the first ones reordered by how well their best sentences answer the question."""
        loaded = self._loaded
        reading = ExtractiveGenerator(loaded.embedder, self.settings.answer, reader=self.reader, index=loaded.index)
        return rerank(question, passages, reading, self.settings.retrieval)

    def refresh(self) -> bool:
        """Load the index again if its CURRENT pointer names another generation; True if it did. A generation
        that cannot be loaded (half removed by a newer one) is skipped: the one in use goes on serving."""
        try:
            if not self._follows_disk or current_generation(Path(self.settings.index_dir)) in (None, self.index.generation):
                return False
            with self._lock:
                if current_generation(Path(self.settings.index_dir)) == self.index.generation:
                    return False  # another request loaded it meanwhile
                self.reload()
                return True
        except RagError as e:
            log.warning("keeping index %s: %s", self.index.generation.name, e)
            return False

    @property
    def adapted(self) -> bool:
        """True when the index's model was adapted (rag.adapt) to exactly the documents it now holds."""
        files = {name: entry["sha256"] for name, entry in self.index.manifest["files"].items()}
        return bool(files) and (self.index.adaptation or {}).get("files") == files

    def adapt(self, progress: Progress | None = None) -> bool:
        """Adapt the embedding model to the indexed documents (rag.adapt) while this engine goes on serving,
        then embed every passage with it and swap the adapted index in. False if the model already was.
        Training (minutes) runs without the lock, so uploads go on meanwhile; embedding and writing hold it."""
        index = self.index
        files = {name: entry["sha256"] for name, entry in index.manifest["files"].items()}
        if not files or self.adapted:
            return False
        with tempfile.TemporaryDirectory(prefix="rag-adapt-") as work:
            model = Path(work) / "model"
            record = adapt_model(base_model_path(self.settings.embedding), index.passages, model, self.settings.adapt, progress)
            with self._lock:
                ingest([], self.settings, self.settings.index_dir, progress=progress, remove_missing=False,
                       trained=(model, {**record, "files": files}))
                self.reload()
        return True

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
        embedder = self.embedder
        if index.adaptation != self.index.adaptation:  # the model changed (`rag ingest --adapt` elsewhere)
            embedder = Embedder(self.settings.embedding, model_dir=index.model_dir)
        self._loaded = Loaded(index, embedder, Retriever(index, embedder, self.settings.retrieval))


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
                rebuild: bool = False, embedder: Embedder | None = None, adapt: bool | None = None) -> IngestReport:
    """Build or update the index at settings.index_dir from `paths` (default: the bundled corpus), with the
    embedding model adapted to the documents if `adapt` (default: settings.adapt.enabled)."""
    return ingest(paths or [settings.corpus_dir], settings, settings.index_dir, embedder, rebuild=rebuild,
                  progress=progress, adapt=settings.adapt.enabled if adapt is None else adapt)


def ensure_index(settings: Settings, progress: Progress | None = None) -> IngestReport | None:
    """Build the default index from the bundled corpus if none exists, without adapting the model (that takes
    minutes: Engine.adapt does it while the index serves); None if one was there."""
    if current_generation(Path(settings.index_dir)) is not None:
        return None
    return build_index(settings, progress=progress, adapt=False)
