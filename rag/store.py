"""The index on disk: dense + BM25 search over the same passages, under one manifest, swapped atomically.

Layout: <index_dir>/CURRENT names a generation folder; each generation holds manifest.json,
passages.jsonl, embeddings.npy, the store's search data (rag.backends: faiss.index and bm25/ for the
embedded default; a Milvus collection named in the manifest otherwise), sentences.jsonl and sentence_embeddings.npy
(every sentence of every passage, once, with its span in the original file and its vector),
texts/ (the documents as indexed, for quote verification) and, when the embedding model was
adapted to the documents, model/ (the model its vectors were made with; see rag.adapt). A new
generation is written aside and CURRENT is replaced in one rename, so a killed ingest leaves the
previous index in use.

Sentences, for readers that pick sentences out of retrieved passages with no embedding at question
time (`Index.sentences_in`):

    for s in index.sentences_in(passage.doc.file, passage.start, passage.end):
        s.start, s.end   # span in the original file (as Passage.start/end)
        s.text           # cleaned text, a substring of passage.text
        s.vector         # unit-length embedding by the index's model: compare with embed_query(question)

A sentence's vector is read in the context of its passage (late chunking, see
Embedder.embed_with_spans), so it is made in the same model run as the passage's vector.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.backends.base import Searcher, store_for
from rag.errors import BadInput, IndexCorrupt, IndexNotFound, ManifestMismatch, RagError
from rag.settings import Settings
from rag.types import Passage, Sentence

FORMAT_VERSION = 2  # 2: sentences.jsonl and sentence_embeddings.npy
MAX_HINT_SOURCES = 3  # more source files or folders than this are not spelled out in a one-line hint


def rebuild_hint(root: Path, manifest: dict | None = None) -> str:
    """How to rebuild the index at `root` from what its manifest says its documents came from (a fixed `corpus/`
    would rebuild an index of other documents from the wrong ones): the files themselves when there are a few (a
    file ingested alone from a folder of others must not bring the others in), else their folders, else a
    placeholder."""
    files, folders = source_files(manifest), source_folders(manifest)
    sources = files if 0 < len(files) <= MAX_HINT_SOURCES else folders if 0 < len(folders) <= MAX_HINT_SOURCES else []
    named = " ".join(shlex.quote(str(s)) for s in sources) or "DOCUMENTS"
    return f"rebuild it with `rag ingest {named} --index {shlex.quote(str(root))} --rebuild`"


def source_files(manifest: dict | None) -> list[Path]:
    """The source paths an index's manifest records for its documents, sorted; [] when it records none (or is
    malformed)."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    entries = files.values() if isinstance(files, dict) else []
    return sorted({Path(e["source"]) for e in entries if isinstance(e, dict) and isinstance(e.get("source"), str)})


def source_folders(manifest: dict | None) -> list[Path]:
    """The folders an index's documents were ingested from: each document's folder, less those inside another."""
    parents = {f.parent for f in source_files(manifest)}
    return sorted(p for p in parents if not any(p != q and p.is_relative_to(q) for q in parents))


def index_fingerprint(settings: Settings) -> dict:
    """What an index must agree on with the settings that load it."""
    return {"format": FORMAT_VERSION, "embedding_model": settings.embedding.model_name,
            "embedding_backend": settings.embedding.backend, "quantized": settings.embedding.quantize,
            "chunker_version": settings.chunking.version,
            "max_tokens": settings.chunking.max_tokens, "overlap_sentences": settings.chunking.overlap_sentences}


def passage_context(passage: Passage) -> str:
    """What is written before a passage's text when it is embedded and BM25-indexed (never shown or
    quoted): its section heading. The work's title and author were measured there too (contextual
    retrieval): on the dev questions they lowered recall@5 from 0.829 to 0.707 with the model as shipped,
    since words shared by every passage of a work make its passages alike to both searches."""
    return f"{passage.section}\n" if passage.section else ""


def embedding_text(passage: Passage) -> str:
    """The text embedded and searched for a passage: its context, then its text."""
    return passage_context(passage) + passage.text


@dataclass
class Index:
    """A loaded index: passages, their embeddings, the store's searcher over them, and document texts."""

    root: Path
    generation: Path
    manifest: dict
    passages: list[Passage]
    embeddings: np.ndarray
    searcher: Searcher
    texts: dict[str, str] = field(default_factory=dict)
    sentences: list[Sentence] = field(default_factory=list, repr=False)  # grouped by file, in document order
    sentence_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 384), dtype=np.float32), repr=False)

    def __post_init__(self):
        self._sentence_rows: dict[str, tuple[int, int]] = {}  # file -> its rows in sentences
        for row, sentence in enumerate(self.sentences):
            lo, _ = self._sentence_rows.get(sentence.file, (row, row))
            self._sentence_rows[sentence.file] = (lo, row + 1)
        self._sentence_starts = np.array([s.start for s in self.sentences], dtype=np.int64)

    def sentences_in(self, file: str, start: int, end: int) -> list[Sentence]:
        """The sentences of a document lying inside [start, end) of its original text, in order, with
        their vectors: for a passage, exactly the sentences its text is made of."""
        lo, hi = self.sentence_rows(file, start, end)
        return self.sentences[lo:hi]

    def sentence_rows(self, file: str, start: int, end: int) -> tuple[int, int]:
        """Rows [lo, hi) of sentences (and sentence_embeddings) lying inside [start, end) of a document."""
        first, last = self._sentence_rows.get(file, (0, 0))
        lo = first + int(np.searchsorted(self._sentence_starts[first:last], start, side="left"))
        hi = lo
        while hi < last and self.sentences[hi].end <= end:
            hi += 1
        return lo, hi

    def document_text(self, file: str) -> str:
        """The text of a document exactly as it was indexed."""
        if file not in self.texts:
            raise IndexCorrupt(f"document {file!r} is not in the index at {self.root}")
        return self.texts[file]

    def changed_sources(self, files: Iterable[str]) -> list[str]:
        """Of these indexed documents, those whose source file has changed since it was indexed: their citations'
        lines and characters count the indexed text, which that file no longer holds. A source that cannot be read
        (moved with the index to another machine, on a mount that is offline) is not reported: nothing is known of it.
        A file is hashed again only when its size, times or inode change."""
        changed = []
        for file in dict.fromkeys(files):
            entry = self.manifest.get("files", {}).get(file, {})
            digest = _source_digest(entry["source"]) if entry.get("source") else None
            if digest is not None and digest != entry.get("sha256"):
                changed.append(file)
        return changed

    def passages_of(self, file: str) -> list[Passage]:
        return [p for p in self.passages if p.doc.file == file]

    def sentences_of(self, file: str) -> tuple[list[Sentence], np.ndarray]:
        """All sentences of a document and their vectors (rows of sentence_embeddings)."""
        lo, hi = self._sentence_rows.get(file, (0, 0))
        return self.sentences[lo:hi], self.sentence_embeddings[lo:hi]

    @property
    def faiss_index(self):
        """The FAISS index of the embedded store (None with another store)."""
        return getattr(self.searcher, "faiss_index", None)

    @property
    def bm25(self):
        """The bm25s index of the embedded store (None with another store, or with no passages)."""
        return getattr(self.searcher, "bm25", None)

    @property
    def model_dir(self) -> Path | None:
        """The embedding model adapted to this index's documents, if it has one (else the base model applies)."""
        return self.generation / "model" if self.manifest.get("adaptation") else None

    @property
    def adaptation(self) -> dict | None:
        """How the model in model_dir was trained (rag.adapt), with the files it was trained on."""
        return self.manifest.get("adaptation")


def current_generation(root: Path) -> Path | None:
    pointer = root / "CURRENT"
    if not pointer.exists():
        return None
    try:
        name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as e:
        raise IndexCorrupt(f"the index pointer {pointer} is unreadable ({e}); {rebuild_hint(root)}") from e
    if name and not re.fullmatch(r"gen-[\w-]+", name):
        raise IndexCorrupt(f"the index pointer {pointer} is damaged; {rebuild_hint(root)}")
    return root / name if name else None


def check_index_folder(root: Path) -> None:
    """Raise BadInput if an index cannot be written at `root` because it, or a folder it would be made in, is a file:
    an ingest checks before it spends minutes embedding."""
    for folder in (root, *root.parents):
        if folder.is_dir():
            return
        if folder.exists() and folder == root:
            raise BadInput(f"{root} is a file, not an index folder")
        if folder.exists():
            raise BadInput(f"cannot make the index folder {root}: {folder} is a file")


def load_index(root: Path, settings: Settings) -> Index:
    """Load and check an index; raise a RagError naming the problem and the fix."""
    root = Path(root)
    gen = current_generation(root)
    hint = rebuild_hint(root)
    if gen is None:
        raise IndexNotFound(f"no index at {root}; build it with `rag ingest corpus/ --index {root}`")
    try:
        manifest = json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"index manifest at {gen} is missing or unreadable ({e}); {hint}") from e
    hint = rebuild_hint(root, manifest)
    if not isinstance(manifest, dict) or not {"fingerprint", "files", "checksums", "counts"} <= manifest.keys():
        raise IndexCorrupt(f"index manifest at {gen} is incomplete; {hint}")
    expected = index_fingerprint(settings)
    built = manifest.get("fingerprint", {})
    diffs = [f"{k}: index has {built.get(k)!r}, settings want {v!r}" for k, v in expected.items() if built.get(k) != v]
    store = store_for(settings)
    if other := store.mismatch(manifest.get("store") or {}):
        diffs.append(other)
    if diffs:
        raise ManifestMismatch(f"index at {root} was built differently ({'; '.join(diffs)}); {hint}")
    try:
        for name, digest in manifest["checksums"].items():
            if _sha256(gen / name) != digest:
                raise IndexCorrupt(f"index file {name} at {gen} is damaged (checksum differs); {hint}")
        with open(gen / "passages.jsonl", encoding="utf-8") as f:
            passages = [Passage.model_validate_json(line) for line in f if line.strip()]
        embeddings = np.load(gen / "embeddings.npy")
        texts = {name: (gen / "texts" / name).read_text(encoding="utf-8") for name in manifest["files"]}
        sentence_embeddings = np.load(gen / "sentence_embeddings.npy")
        with open(gen / "sentences.jsonl", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        sentences = [Sentence(file, start, end, text, sentence_embeddings[i]) for i, (file, start, end, text) in enumerate(rows)]
    except IndexCorrupt:
        raise
    except Exception as e:  # any unreadable piece means the same thing to the user
        raise IndexCorrupt(f"index at {gen} is incomplete or damaged ({type(e).__name__}: {e}); {hint}") from e
    searcher = _open_searcher(store, root, gen, manifest, hint)
    if not (len(passages) == embeddings.shape[0] == searcher.size == manifest["counts"]["passages"]):
        raise IndexCorrupt(f"index at {gen} disagrees with its manifest (passage counts differ); {hint}")
    if any(p.doc.file not in texts for p in passages):
        raise IndexCorrupt(f"index at {gen} disagrees with its manifest (passages of unlisted documents); {hint}")
    if not len(sentences) == sentence_embeddings.shape[0] == manifest["counts"].get("sentences"):
        raise IndexCorrupt(f"index at {gen} disagrees with its manifest (sentence counts differ); {hint}")
    return Index(root, gen, manifest, passages, embeddings, searcher, texts, sentences, sentence_embeddings)


def _open_searcher(store, root: Path, gen: Path, manifest: dict, hint: str) -> Searcher:
    """The store's searcher over a generation; a store error of its own kind (RagError) passes through."""
    try:
        return store.open(root, gen, manifest)
    except RagError:
        raise
    except Exception as e:
        raise IndexCorrupt(f"index at {gen} is incomplete or damaged ({type(e).__name__}: {e}); {hint}") from e


def previous_model(root: Path) -> tuple[Path | None, dict | None]:
    """The adapted model of the current generation and how it was trained, for when the index itself cannot
    be loaded (built by another format or chunker version) but the model is whole (its files match the
    manifest's checksums): the model depends on the documents, not on the index layout, so a rebuild keeps
    it instead of training again. (None, None) when there is no such model."""
    try:
        gen = current_generation(Path(root))
        manifest = json.loads((gen / "manifest.json").read_text()) if gen else {}
        model_files = {name: digest for name, digest in manifest.get("checksums", {}).items() if name.startswith("model/")}
        if not manifest.get("adaptation") or not model_files:
            return None, None
        if any(_sha256(gen / name) != digest for name, digest in model_files.items()):
            return None, None
    except (OSError, ValueError, AttributeError, IndexCorrupt):
        return None, None
    return gen / "model", manifest["adaptation"]


def write_index(root: Path, settings: Settings, files: dict[str, dict], passages: list[Passage],
                embeddings: np.ndarray, texts: dict[str, str], sentences: list[Sentence],
                sentence_embeddings: np.ndarray, model_dir: Path | None = None, adaptation: dict | None = None) -> Path:
    """Write a new generation aside, then point CURRENT at it. Returns the generation folder.

    sentences: grouped by file in the order of the passages, each file's in document order.
    model_dir and adaptation: the adapted model the embeddings were made with, and how it was trained.
    """
    root = Path(root)
    check_index_folder(root)
    root.mkdir(parents=True, exist_ok=True)
    store = store_for(settings)
    gen = root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = root / (gen.name + ".partial")
    with _removed_on_failure(tmp):
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
            f.writelines(p.model_dump_json() + "\n" for p in passages)
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(len(passages), embeddings.shape[-1])
        np.save(tmp / "embeddings.npy", embeddings)
        # the store is given the generation's final name: a Milvus collection is named after it
        store_record = store.write(root, gen, passages, embeddings, [embedding_text(p) for p in passages], folder=tmp)
        with open(tmp / "sentences.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps([x.file, x.start, x.end, x.text], ensure_ascii=False) + "\n" for x in sentences)
        np.save(tmp / "sentence_embeddings.npy", np.ascontiguousarray(sentence_embeddings, dtype=np.float32)
                .reshape(len(sentences), embeddings.shape[1]))
        (tmp / "texts").mkdir()
        for name, text in texts.items():
            (tmp / "texts" / name).write_text(text, encoding="utf-8")
        if model_dir is not None:
            # hard links where possible: generations never change, so they can share the model's files
            shutil.copytree(model_dir, tmp / "model", copy_function=_link_or_copy)
        # every file, so a damaged BM25 part or document text is caught at load, not at question time
        checksums = {path.relative_to(tmp).as_posix(): _sha256(path) for path in sorted(tmp.rglob("*")) if path.is_file()}
        manifest = {"fingerprint": index_fingerprint(settings), "files": files, "checksums": checksums,
                    "counts": {"files": len(files), "passages": len(passages), "sentences": len(sentences)},
                    "dimension": int(embeddings.shape[1]) if len(passages) else 0,
                    "adaptation": adaptation if model_dir is not None else None, "store": store_record,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        _fsync_tree(tmp)
        os.rename(tmp, gen)
    pointer_tmp = root / f"CURRENT.{uuid.uuid4().hex[:6]}.tmp"
    pointer_tmp.write_text(gen.name)
    os.replace(pointer_tmp, root / "CURRENT")
    _remove_stale(root, keep=gen)
    store.discard(root, keep=gen)
    return gen


@contextmanager
def _removed_on_failure(folder: Path):
    """Make `folder` for a generation being written, and remove it again if writing fails: a failed write leaves
    nothing behind (the next write would remove it, but until then it looks like a killed ingest's leftover)."""
    folder.mkdir()
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _remove_stale(root: Path, keep: Path) -> None:
    """Drop older generations and leftovers of killed ingests (and of adaptations, rag.adapt)."""
    for child in root.iterdir():
        if child != keep and child.name.startswith(("gen-", "CURRENT.", "model.partial-")):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def _source_digest(source: str) -> str | None:
    """The SHA-256 of a source file as it is now, None if it cannot be read."""
    try:
        stat = os.stat(source)
        return _digest_of(source, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    except OSError:  # not cached: the file may be back at the next question
        return None


@functools.lru_cache(maxsize=1024)
def _digest_of(source: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    """_sha256 of a file in the state its stat describes (an edit that keeps size and modification time changes ctime)."""
    return _sha256(Path(source))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
