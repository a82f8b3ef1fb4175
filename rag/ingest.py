"""Ingest: load, clean, chunk and embed files, updating only what changed, then swap the index in."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.adapt import adapt_model
from rag.chunking import chunk_document, parse_document
from rag.embed import Embedder, base_model_path
from rag.errors import IndexCorrupt, IndexNotFound, ManifestMismatch, RagError
from rag.loaders import SUPPORTED, document_info, load_file, read_catalog
from rag.settings import Settings
from rag.store import embedding_text, load_index, write_index
from rag.types import Passage

Progress = Callable[[str, int, int], None]  # (stage/file, done, total)

# A corpus folder's own data, not documents: its catalog and the eval items written over it.
FOLDER_SIDECARS = {"catalog.toml", "items.jsonl"}


@dataclass
class IngestReport:
    """What an ingest did, for the closing summary."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, note) e.g. encoding used
    files: int = 0
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: {"clean": 0.0, "embed": 0.0, "index": 0.0})
    changed: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.skipped)


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest under the given paths (folders recursively), and paths that cannot be used."""
    files, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.name in FOLDER_SIDECARS or f.name.startswith(".") or f.is_dir():
                    continue
                if f.is_file():
                    files.append(f)
                else:
                    problems.append((shown(f), _not_a_file(f)))
        elif path.is_file():
            files.append(path)
        else:
            problems.append((shown(path), _not_a_file(path)))
    return files, problems


def _not_a_file(path: Path) -> str:
    if path.is_symlink():
        return "broken link (its target does not exist)"
    if path.exists():
        return "not a regular file (a pipe, socket or device)"
    return "no such file or folder"


def shown(path: Path | str) -> str:
    """A path as it can be printed, even when its name is not valid UTF-8."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def ingest(paths: Iterable[Path], settings: Settings, index_dir: Path | None = None, embedder: Embedder | None = None,
           rebuild: bool = False, progress: Progress | None = None, remove_missing: bool = True,
           adapt: bool = False) -> IngestReport:
    """Bring the index in line with the files under `paths`.

    Unchanged files keep their passages and embeddings; changed and new files are re-chunked and
    embedded; files that were ingested from these folders and are gone are removed (with
    remove_missing). Files indexed from elsewhere (uploads) are kept.

    The index keeps embedding with the model it was built with. With `adapt`, a model adapted to
    the documents (rag.adapt) is trained unless the index already has one trained on exactly these
    files, and every passage is embedded again with it.
    """
    began = time.perf_counter()
    index_dir = Path(index_dir or settings.index_dir)
    report = IngestReport()
    files, report.skipped = collect_files(paths)
    old = None if rebuild else _previous_index(index_dir, settings)
    old_files = old.manifest["files"] if old else {}
    kept_files: dict[str, dict] = {}
    kept_passages: dict[str, list[Passage]] = {}
    kept_rows: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    seen_hashes: dict[str, str] = {}
    catalogs: dict[Path, dict] = {}
    model_dir = old.model_dir if old else None
    adaptation = old.adaptation if old else None
    embedder_box = [embedder]

    def get_embedder() -> Embedder:
        if embedder_box[0] is None:
            embedder_box[0] = Embedder(settings.embedding, model_dir=model_dir)
        return embedder_box[0]

    for n, path in enumerate(files, start=1):
        if progress:
            progress(path.name, n - 1, len(files))
        t0 = time.perf_counter()
        try:
            if path.suffix.lower() not in SUPPORTED:
                raise RagError(f"unsupported file type {path.suffix or '(none)'}; use .txt, .md, .html or .pdf")
            if shown(path.name) != path.name:  # the name goes into JSON and citations, which need UTF-8
                raise RagError("the file name is not valid UTF-8; rename the file")
            loaded = load_file(path)
        except RagError as e:
            report.skipped.append((shown(path), str(e)))
            continue
        name = path.name
        if loaded.sha256 in seen_hashes:
            report.skipped.append((str(path), f"same content as {seen_hashes[loaded.sha256]}; indexed once"))
            continue
        if name in kept_files:
            report.skipped.append((str(path), f"another file named {name} was already ingested in this run"))
            continue
        seen_hashes[loaded.sha256] = str(path)
        for note in loaded.notes:
            report.notes.append((name, note))
        texts[name] = loaded.text
        entry = {"sha256": loaded.sha256, "source": str(path.resolve()), "encoding": loaded.encoding}
        previous = old_files.get(name)
        if old and previous and previous["sha256"] == loaded.sha256:
            kept_passages[name] = old.passages_of(name)
            kept_rows[name] = old.embeddings[[i for i, p in enumerate(old.passages) if p.doc.file == name]]
            kept_files[name] = {**entry, "doc_id": previous["doc_id"], "passages": len(kept_passages[name])}
            report.unchanged.append(name)
            report.timings["clean"] += time.perf_counter() - t0
            continue
        folder = path.parent.resolve()
        if folder not in catalogs:
            catalogs[folder] = read_catalog(folder)
        info = document_info(loaded, catalogs[folder])
        parsed = parse_document(loaded, info)
        passages = chunk_document(parsed, get_embedder().count_tokens, settings.chunking)
        if not passages:
            report.skipped.append((str(path), "no text to index"))
            del texts[name]
            continue
        kept_passages[name] = passages
        kept_files[name] = {**entry, "doc_id": info.doc_id, "passages": len(passages)}
        report.indexed.append(name)
        report.timings["clean"] += time.perf_counter() - t0

    roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    explicit = {Path(p).resolve() for p in paths if Path(p).is_file()}
    for name, entry in old_files.items():
        if name in kept_files:
            continue
        source = Path(entry["source"])
        owned = any(source.is_relative_to(r) for r in roots) or source in explicit
        if remove_missing and owned:
            report.removed.append(name)
        else:
            kept_files[name] = entry
            kept_passages[name] = old.passages_of(name)
            kept_rows[name] = old.embeddings[[i for i, p in enumerate(old.passages) if p.doc.file == name]]
            texts[name] = old.document_text(name)

    report.changed = bool(report.indexed or report.removed or rebuild or old is None)
    order = sorted(kept_files)
    to_embed = list(report.indexed)
    trained_dir = None
    trained_on = {name: kept_files[name]["sha256"] for name in order}
    if adapt and order and (adaptation or {}).get("files") != trained_on:
        t0 = time.perf_counter()
        trained_dir = index_dir / f"model.partial-{uuid.uuid4().hex[:6]}"  # removed with other leftovers
        index_dir.mkdir(parents=True, exist_ok=True)
        adaptation = {**adapt_model(base_model_path(settings.embedding), [p for n in order for p in kept_passages[n]],
                                    trained_dir, settings.adapt, progress), "files": trained_on}
        model_dir, embedder_box[0], to_embed, kept_rows = trained_dir, None, order, {}
        report.timings["adapt"] = time.perf_counter() - t0
        report.changed = True
    try:
        if report.changed:
            _embed_and_write(index_dir, settings, report, get_embedder, progress, order, to_embed, kept_files,
                             kept_passages, kept_rows, texts, model_dir, adaptation)
    finally:
        if trained_dir is not None:
            shutil.rmtree(trained_dir, ignore_errors=True)  # the index now holds its own copy
    report.files = len(kept_files)
    report.passages = sum(len(kept_passages[n]) for n in kept_files)
    report.seconds = time.perf_counter() - began
    if progress:
        progress("done", len(files), len(files))
    return report


def _embed_and_write(index_dir: Path, settings: Settings, report: IngestReport, get_embedder, progress, order: list[str],
                     to_embed: list[str], kept_files: dict, kept_passages: dict, kept_rows: dict, texts: dict,
                     model_dir: Path | None, adaptation: dict | None) -> None:
    """Embed the passages of the files in `to_embed`, then write the whole index as a new generation."""
    t0 = time.perf_counter()
    passages = [p for name in to_embed for p in kept_passages[name]]
    if progress:
        progress("embedding", 0, len(passages))
    vectors = get_embedder().embed_documents([embedding_text(p) for p in passages]) if passages else None
    report.timings["embed"] = time.perf_counter() - t0
    report.embedded = len(passages)
    t0 = time.perf_counter()
    rows = dict(kept_rows)
    offset = 0
    for name in to_embed:
        count = len(kept_passages[name])
        rows[name] = vectors[offset : offset + count]
        offset += count
    all_passages = [p for name in order for p in kept_passages[name]]
    dim = get_embedder().dimension if vectors is not None or not order else rows[order[0]].shape[1]
    embeddings = np.vstack([rows[name] for name in order]) if order else np.zeros((0, dim), dtype=np.float32)
    write_index(index_dir, settings, {n: kept_files[n] for n in order}, all_passages, embeddings,
                {n: texts[n] for n in order}, model_dir, adaptation)
    report.timings["index"] = time.perf_counter() - t0


def _previous_index(index_dir: Path, settings: Settings):
    """The current index to update, or None when there is none or it cannot be reused."""
    try:
        return load_index(index_dir, settings)
    except IndexNotFound:
        return None
    except (ManifestMismatch, IndexCorrupt):
        return None  # rebuilt from scratch; the report says so through `changed`


def remove_documents(names: Iterable[str], settings: Settings, index_dir: Path | None = None) -> IngestReport:
    """Remove documents (by file name) from the index; names not in it are reported as skipped."""
    began = time.perf_counter()
    index_dir = Path(index_dir or settings.index_dir)
    old = load_index(index_dir, settings)
    report = IngestReport()
    for name in dict.fromkeys(names):
        if name in old.manifest["files"]:
            report.removed.append(name)
        else:
            report.skipped.append((name, "not in the index"))
    files = {n: e for n, e in old.manifest["files"].items() if n not in report.removed}
    if report.removed:
        keep = [i for i, p in enumerate(old.passages) if p.doc.file in files]
        write_index(index_dir, settings, files, [old.passages[i] for i in keep], old.embeddings[keep],
                    {n: old.document_text(n) for n in files}, old.model_dir, old.adaptation)
        report.changed = True
    report.files = len(files)
    report.passages = sum(e["passages"] for e in files.values())
    report.seconds = time.perf_counter() - began
    return report
