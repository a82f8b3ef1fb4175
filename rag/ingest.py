"""Ingest: load, clean, chunk and embed files, updating only what changed, then swap the index in."""

from __future__ import annotations

import bisect
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.adapt import adapt_model
from rag.backends.base import store_for
from rag.chunking import chunk_document, parse_document
from rag.embed import Embedder, base_model_path
from rag.errors import BadInput, IndexCorrupt, IndexNotFound, ManifestMismatch, RagError
from rag.loaders import (
    EDITABLE_FIELDS,
    SUPPORTED,
    LoadedFile,
    document_info,
    load_file,
    read_catalog,
    read_metadata_edits,
    with_edits,
)
from rag.settings import Settings
from rag.store import Index, check_index_folder, embedding_text, load_index, passage_context, previous_model, write_index
from rag.types import DocumentInfo, Passage, Sentence

Progress = Callable[[str, int, int], None]  # (stage/file, done, total)

# A corpus folder's own data, not documents: its catalog and the eval items written over it.
FOLDER_SIDECARS = {"catalog.toml", "items.jsonl"}


@dataclass
class Prepared:
    """A file read, cleaned and chunked (or why it could not be): what ingest needs of each file before embedding.
    passages and sentences are None when the file was not chunked (its content is already indexed)."""

    loaded: LoadedFile | None = None
    error: str | None = None
    found: DocumentInfo | None = None  # the facts its file and catalog gave
    passages: list[Passage] | None = None
    sentences: list[Sentence] | None = None


def load_checked(path: Path) -> LoadedFile:
    """A file loaded and cleaned, after the checks every ingest makes; RagError when it cannot be used."""
    if path.suffix.lower() not in SUPPORTED:
        raise RagError(f"unsupported file type {path.suffix or '(none)'}; use .txt, .md, .html or .pdf")
    if shown(path.name) != path.name:  # the name goes into JSON and citations, which need UTF-8
        raise RagError("the file name is not valid UTF-8; rename the file")
    return load_file(path)


def chunk_loaded(loaded: LoadedFile, catalog: dict, edit: dict | None, chunking, count_tokens
                 ) -> tuple[DocumentInfo, list[Passage], list[Sentence]]:
    """The facts a file and its catalog give, and its passages and sentences (with the user's metadata edits)."""
    found = document_info(loaded, catalog)
    parsed = parse_document(loaded, with_edits(found, edit))
    passages, sentences = chunk_document(parsed, count_tokens, chunking)
    return found, passages, sentences


def prepare_file(path: Path, catalog: dict, edit: dict | None, chunking, count_tokens, indexed_sha: str | None = None) -> Prepared:
    """Read, clean and chunk one file (not chunked if its content's sha256 is `indexed_sha`): the per-file work of an
    ingest, which rag.ray_ingest runs on a Ray cluster."""
    try:
        loaded = load_checked(path)
    except RagError as e:
        return Prepared(error=str(e))
    if loaded.sha256 == indexed_sha:
        return Prepared(loaded)
    found, passages, sentences = chunk_loaded(loaded, catalog, edit, chunking, count_tokens)
    return Prepared(loaded, None, found, passages, sentences)


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


def _indexed_from_elsewhere(entry: dict | None, path: Path, sha256: str) -> str | None:
    """Why a file must not replace the indexed document of its name (entry, from the manifest), or None. Documents are
    keyed by file name, so a file with other content from another folder would silently replace that document: it is
    kept while the file it came from exists. When that file is gone (its folder moved or renamed), this one updates it."""
    if not entry or entry.get("sha256") == sha256 or not entry.get("source"):
        return None
    source = Path(entry["source"])
    if source == path.resolve() or not source.exists():
        return None
    return f"another file named {path.name} is already in the index, from {shown(source)}; rename one of them"


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
           adapt: bool = False, trained: tuple[Path, dict] | None = None, ray: str | None = None) -> IngestReport:
    """Bring the index in line with the files under `paths`.

    Unchanged files keep their passages and embeddings; changed and new files are re-chunked and
    embedded; files that were ingested from these folders and are gone are removed (with
    remove_missing). Files indexed from elsewhere (uploads) are kept. Documents are keyed by file name: a file
    named like a document indexed from another file that still exists is skipped, not put in its place. With
    nothing to index and no index to update, BadInput says why.

    The index keeps embedding with the model it was built with. With `adapt`, a model adapted to
    the documents (rag.adapt) is trained unless the index already has one trained on exactly these
    files, and every passage is embedded again with it. `trained` is such a model made beforehand
    (folder, adapt_model's record with "files"): every passage is embedded with it, with no training here.

    With `ray` (a Ray address, or "local" to start Ray here), files are read, cleaned and chunked by Ray tasks and
    embedded by a pool of Ray actors, each loading the model once (rag.ray_ingest); the result is the same.
    """
    began = time.perf_counter()
    index_dir = Path(index_dir or settings.index_dir)
    report = IngestReport()
    check_index_folder(index_dir)
    files, report.skipped = collect_files(paths)
    store_for(settings).check(index_dir)
    old = None if rebuild else _previous_index(index_dir, settings)
    old_files = old.manifest["files"] if old else {}
    kept_files: dict[str, dict] = {}
    kept_passages: dict[str, list[Passage]] = {}
    kept_rows: dict[str, np.ndarray] = {}
    kept_sentences: dict[str, tuple[list[Sentence], np.ndarray | None]] = {}  # vectors None until embedded
    texts: dict[str, str] = {}
    seen_hashes: dict[str, str] = {}
    catalogs: dict[Path, dict] = {}
    edits = read_metadata_edits(index_dir)
    model_dir, adaptation = (old.model_dir, old.adaptation) if old else (None, None)
    if old is None and not rebuild:  # an index of another format or chunker: its adapted model still serves
        model_dir, adaptation = previous_model(index_dir)
    embedder_box = [embedder]

    def get_embedder() -> Embedder:
        if embedder_box[0] is None:
            embedder_box[0] = Embedder(settings.embedding, model_dir=model_dir)
        return embedder_box[0]

    pipeline = None
    if ray:
        from rag.ray_ingest import RayPipeline

        pipeline = RayPipeline(ray, settings)
        t0 = time.perf_counter()
        try:
            prepared = pipeline.prepare(files, {name: e["sha256"] for name, e in old_files.items()}, edits, model_dir, progress)
        except BaseException:
            pipeline.close()
            raise
        report.timings["clean"] += time.perf_counter() - t0
    for n, path in enumerate(files, start=1):
        if progress:
            progress(path.name, n - 1, len(files))
        t0 = time.perf_counter()
        ready = prepared[path] if pipeline else None
        try:
            if ready is not None and ready.error:
                raise RagError(ready.error)
            loaded = ready.loaded if ready is not None else load_checked(path)
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
        if clash := _indexed_from_elsewhere(old_files.get(name), path, loaded.sha256):
            report.skipped.append((str(path), clash))
            continue
        seen_hashes[loaded.sha256] = str(path)
        for note in loaded.notes:
            report.notes.append((name, note))
        texts[name] = loaded.text
        entry = {"sha256": loaded.sha256, "source": str(path.resolve()), "encoding": loaded.encoding}
        previous = old_files.get(name)
        if old and previous and previous["sha256"] == loaded.sha256:
            _keep_old(old, name, kept_passages, kept_rows, kept_sentences)
            kept_files[name] = {**entry, "doc_id": previous["doc_id"], "passages": len(kept_passages[name]),
                                "found": previous.get("found")}
            report.unchanged.append(name)
            report.timings["clean"] += time.perf_counter() - t0
            continue
        if ready is not None and ready.passages is not None:
            found, passages, sentences = ready.found, ready.passages, ready.sentences
        else:
            folder = path.parent.resolve()
            if folder not in catalogs:
                catalogs[folder] = read_catalog(folder)
            found, passages, sentences = chunk_loaded(loaded, catalogs[folder], edits.get(name), settings.chunking,
                                                      get_embedder().count_tokens)
        if not passages:
            report.skipped.append((str(path), "no text to index"))
            del texts[name]
            continue
        kept_passages[name] = passages
        kept_sentences[name] = (sentences, None)
        kept_files[name] = {**entry, "doc_id": passages[0].doc.doc_id, "passages": len(passages),
                            "found": found.model_dump(include=set(EDITABLE_FIELDS))}
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
            _keep_old(old, name, kept_passages, kept_rows, kept_sentences)
            texts[name] = old.document_text(name)

    edited = apply_edits(edits, kept_files, kept_passages, skip=set(report.indexed))
    report.changed = bool(report.indexed or report.removed or rebuild or old is None or edited)
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
        kept_sentences = {name: (sentences, None) for name, (sentences, _) in kept_sentences.items()}
        report.timings["adapt"] = time.perf_counter() - t0
        report.changed = True
    elif trained is not None and order:
        (model_dir, adaptation), embedder_box[0], to_embed, kept_rows = trained, None, order, {}
        kept_sentences = {name: (sentences, None) for name, (sentences, _) in kept_sentences.items()}
        report.changed = True
    try:
        if not kept_files and not old_files:  # an index emptied by removing its documents is written; a new one is not
            raise _nothing_to_index(paths, report.skipped)
        if report.changed:
            def embed(documents):
                if pipeline is not None:
                    return embed_passages(None, documents, pipeline.encoder(model_dir, progress))
                return embed_passages(get_embedder(), documents)

            _embed_and_write(index_dir, settings, report, embed, progress, order, to_embed, kept_files,
                             kept_passages, kept_rows, kept_sentences, texts, model_dir, adaptation)
    finally:
        if trained_dir is not None:
            shutil.rmtree(trained_dir, ignore_errors=True)  # the index now holds its own copy
        if pipeline is not None:
            pipeline.close()
    report.files = len(kept_files)
    report.passages = sum(len(kept_passages[n]) for n in kept_files)
    report.seconds = time.perf_counter() - began
    if progress:
        progress("done", len(files), len(files))
    return report


def _nothing_to_index(paths: Iterable[Path], skipped: list[tuple[str, str]]) -> BadInput:
    """The error of an ingest that found no document to index and had none indexed before, as one line."""
    if not skipped:
        return BadInput(f"nothing to index: no documents in {', '.join(shown(p) for p in paths)} "
                        "(.txt, .md, .html or .pdf)")
    path, reason = skipped[0]
    more = f" (and {len(skipped) - 1} more skipped)" if len(skipped) > 1 else ""
    return BadInput(f"nothing to index: {path}: {reason}{more}")


def apply_edits(edits: dict[str, dict], files: dict[str, dict], passages: dict[str, list[Passage]], skip: set[str]) -> bool:
    """Give the passages of each document (but those in `skip`) the facts its file and catalog gave (the manifest's
    "found") with the user's metadata edits on top; True if any document's facts changed."""
    changed = False
    for name, entry in files.items():
        if name in skip or not passages.get(name):
            continue
        current = passages[name][0].doc
        wanted = with_edits(current.model_copy(update=entry.get("found") or {}), edits.get(name))
        if wanted != current:
            passages[name] = [p.model_copy(update={"doc": wanted}) for p in passages[name]]
            changed = True
    return changed


def _keep_old(old: Index, name: str, kept_passages: dict, kept_rows: dict, kept_sentences: dict) -> None:
    """Carry a document's passages, sentences and their vectors over from the previous index."""
    kept_passages[name] = old.passages_of(name)
    kept_rows[name] = old.embeddings[[i for i, p in enumerate(old.passages) if p.doc.file == name]]
    kept_sentences[name] = old.sentences_of(name)


def _embed_and_write(index_dir: Path, settings: Settings, report: IngestReport, embed, progress, order: list[str],
                     to_embed: list[str], kept_files: dict, kept_passages: dict, kept_rows: dict, kept_sentences: dict,
                     texts: dict, model_dir: Path | None, adaptation: dict | None) -> None:
    """Embed the passages (and their sentences) of the files in `to_embed` (by `embed`, as embed_passages), then write
    the whole index as a new generation."""
    t0 = time.perf_counter()
    if progress:
        progress("embedding", 0, sum(len(kept_passages[name]) for name in to_embed))
    rows = dict(kept_rows)
    sentences = dict(kept_sentences)
    embedded = embed([(kept_passages[n], kept_sentences[n][0]) for n in to_embed]) if to_embed else []
    for name, (passage_vectors, sentence_vectors) in zip(to_embed, embedded):
        rows[name] = passage_vectors
        sentences[name] = (kept_sentences[name][0], sentence_vectors)
    report.timings["embed"] = time.perf_counter() - t0
    report.embedded = sum(len(kept_passages[name]) for name in to_embed)
    t0 = time.perf_counter()
    all_passages = [p for name in order for p in kept_passages[name]]
    dim = rows[order[0]].shape[1] if order else 384  # an empty index: no vector's length to check against
    embeddings = np.vstack([rows[name] for name in order]) if order else np.zeros((0, dim), dtype=np.float32)
    all_sentences = [x for name in order for x in sentences[name][0]]
    sentence_embeddings = np.vstack([sentences[name][1] for name in order]) if order else np.zeros((0, dim), np.float32)
    write_index(index_dir, settings, {n: kept_files[n] for n in order}, all_passages, embeddings,
                {n: texts[n] for n in order}, all_sentences, sentence_embeddings, model_dir, adaptation)
    report.timings["index"] = time.perf_counter() - t0


def embed_passages(embedder: Embedder | None, documents: list[tuple[list[Passage], list[Sentence]]],
                   encode=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(passage vectors, sentence vectors) of each document's passages (as embedding_text) and sentences, from
    the same model runs: a sentence's vector is pooled from its tokens in each passage holding it (late
    chunking, Embedder.embed_with_spans), averaged over them.

    encode(texts, spans) runs the model (default: embedder.embed_with_spans); rag.ray_ingest gives one that runs
    the same batches on Ray actors: with int8 activations quantized per batch, other batches give other vectors."""
    encode = encode or embedder.embed_with_spans
    texts, spans, members = [], [], []  # members: per passage, the rows of its sentences in all_sentences
    all_sentences: list[Sentence] = []
    for passages, sentences in documents:
        starts = [x.start for x in sentences]
        for p in passages:
            offset, cursor = len(passage_context(p)), 0
            inside = range(bisect.bisect_left(starts, p.start), bisect.bisect_right(starts, p.end - 1))
            members.append([len(all_sentences) + j for j in inside if sentences[j].end <= p.end])
            spans.append([])
            for j in inside:
                if sentences[j].end <= p.end:
                    at = p.text.index(sentences[j].text, cursor)
                    spans[-1].append((offset + at, offset + at + len(sentences[j].text)))
                    cursor = at + len(sentences[j].text)
            texts.append(embedding_text(p))
        all_sentences.extend(sentences)
    vectors, span_vectors = encode(texts, spans)
    pooled = np.zeros((len(all_sentences), vectors.shape[1]), dtype=np.float32)
    for rows, found in zip(members, span_vectors):
        pooled[rows] += found
    missing = np.flatnonzero(~pooled.any(axis=1))  # cut off by the model's window in every passage: alone
    if len(missing):
        pooled[missing] = encode([all_sentences[j].text for j in missing], None)[0]
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    out, p_at, s_at = [], 0, 0
    for passages, sentences in documents:
        out.append((vectors[p_at : p_at + len(passages)], pooled[s_at : s_at + len(sentences)]))
        p_at, s_at = p_at + len(passages), s_at + len(sentences)
    return out


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
        kept_sentences = [i for i, x in enumerate(old.sentences) if x.file in files]
        write_index(index_dir, settings, files, [old.passages[i] for i in keep], old.embeddings[keep],
                    {n: old.document_text(n) for n in files}, [old.sentences[i] for i in kept_sentences],
                    old.sentence_embeddings[kept_sentences], old.model_dir, old.adaptation)
        report.changed = True
    report.files = len(files)
    report.passages = sum(e["passages"] for e in files.values())
    report.seconds = time.perf_counter() - began
    return report
