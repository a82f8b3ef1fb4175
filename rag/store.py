"""The index on disk: FAISS + BM25 over the same passages, under one manifest, swapped atomically.

Layout: <index_dir>/CURRENT names a generation folder; each generation holds manifest.json,
passages.jsonl, embeddings.npy, faiss.index, bm25/, texts/ (the documents as indexed, for
quote verification) and, when the embedding model was adapted to the documents, model/ (the
model its vectors were made with; see rag.adapt). A new generation is written aside and CURRENT
is replaced in one rename, so a killed ingest leaves the previous index in use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt, IndexNotFound, ManifestMismatch
from rag.settings import Settings
from rag.types import Passage

FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with `rag ingest corpus/ --index {dir} --rebuild`"


def index_fingerprint(settings: Settings) -> dict:
    """What an index must agree on with the settings that load it."""
    return {"format": FORMAT_VERSION, "embedding_model": settings.embedding.model_name,
            "embedding_backend": settings.embedding.backend, "quantized": settings.embedding.quantize,
            "chunker_version": settings.chunking.version,
            "max_tokens": settings.chunking.max_tokens, "overlap_sentences": settings.chunking.overlap_sentences}


def embedding_text(passage: Passage) -> str:
    """The text embedded and searched for a passage: its section heading, then its text."""
    return f"{passage.section}\n{passage.text}" if passage.section else passage.text


def bm25_tokenize(texts: list[str], stopwords: str | list[str] = "en"):
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords=stopwords, stemmer=Stemmer.Stemmer("english"), show_progress=False)


@dataclass
class Index:
    """A loaded index: passages, their embeddings, the FAISS and BM25 searchers, and document texts."""

    root: Path
    generation: Path
    manifest: dict
    passages: list[Passage]
    embeddings: np.ndarray
    faiss_index: object
    bm25: object
    texts: dict[str, str] = field(default_factory=dict)

    def document_text(self, file: str) -> str:
        """The text of a document exactly as it was indexed."""
        if file not in self.texts:
            raise IndexCorrupt(f"document {file!r} is not in the index at {self.root}")
        return self.texts[file]

    def passages_of(self, file: str) -> list[Passage]:
        return [p for p in self.passages if p.doc.file == file]

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
        raise IndexCorrupt(f"the index pointer {pointer} is unreadable ({e}); {REBUILD_HINT.format(dir=root)}") from e
    if name and not re.fullmatch(r"gen-[\w-]+", name):
        raise IndexCorrupt(f"the index pointer {pointer} is damaged; {REBUILD_HINT.format(dir=root)}")
    return root / name if name else None


def load_index(root: Path, settings: Settings) -> Index:
    """Load and check an index; raise a RagError naming the problem and the fix."""
    import bm25s
    import faiss

    root = Path(root)
    gen = current_generation(root)
    hint = REBUILD_HINT.format(dir=root)
    if gen is None:
        raise IndexNotFound(f"no index at {root}; build it with `rag ingest corpus/ --index {root}`")
    try:
        manifest = json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"index manifest at {gen} is missing or unreadable ({e}); {hint}") from e
    if not isinstance(manifest, dict) or not {"fingerprint", "files", "checksums", "counts"} <= manifest.keys():
        raise IndexCorrupt(f"index manifest at {gen} is incomplete; {hint}")
    expected = index_fingerprint(settings)
    built = manifest.get("fingerprint", {})
    diffs = [f"{k}: index has {built.get(k)!r}, settings want {v!r}" for k, v in expected.items() if built.get(k) != v]
    if diffs:
        raise ManifestMismatch(f"index at {root} was built differently ({'; '.join(diffs)}); {hint}")
    try:
        for name, digest in manifest["checksums"].items():
            if _sha256(gen / name) != digest:
                raise IndexCorrupt(f"index file {name} at {gen} is damaged (checksum differs); {hint}")
        with open(gen / "passages.jsonl", encoding="utf-8") as f:
            passages = [Passage.model_validate_json(line) for line in f if line.strip()]
        embeddings = np.load(gen / "embeddings.npy")
        faiss_index = faiss.read_index(str(gen / "faiss.index"))
        bm25 = bm25s.BM25.load(str(gen / "bm25")) if passages else None
        texts = {name: (gen / "texts" / name).read_text(encoding="utf-8") for name in manifest["files"]}
    except IndexCorrupt:
        raise
    except Exception as e:  # any unreadable piece means the same thing to the user
        raise IndexCorrupt(f"index at {gen} is incomplete or damaged ({type(e).__name__}: {e}); {hint}") from e
    if not (len(passages) == embeddings.shape[0] == faiss_index.ntotal == manifest["counts"]["passages"]):
        raise IndexCorrupt(f"index at {gen} disagrees with its manifest (passage counts differ); {hint}")
    if any(p.doc.file not in texts for p in passages):
        raise IndexCorrupt(f"index at {gen} disagrees with its manifest (passages of unlisted documents); {hint}")
    return Index(root, gen, manifest, passages, embeddings, faiss_index, bm25, texts)


def write_index(root: Path, settings: Settings, files: dict[str, dict], passages: list[Passage],
                embeddings: np.ndarray, texts: dict[str, str], model_dir: Path | None = None,
                adaptation: dict | None = None) -> Path:
    """Write a new generation aside, then point CURRENT at it. Returns the generation folder.

    model_dir and adaptation: the adapted model the embeddings were made with, and how it was trained.
    """
    import bm25s
    import faiss

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    gen = root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = root / (gen.name + ".partial")
    tmp.mkdir()
    with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
        f.writelines(p.model_dump_json() + "\n" for p in passages)
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(len(passages), -1)
    np.save(tmp / "embeddings.npy", embeddings)
    flat = faiss.IndexFlatIP(embeddings.shape[1] if len(passages) else 384)
    if len(passages):
        flat.add(embeddings)
    faiss.write_index(flat, str(tmp / "faiss.index"))
    if passages:
        bm25 = bm25s.BM25()
        bm25.index(bm25_tokenize([embedding_text(p) for p in passages]), show_progress=False)
        bm25.save(str(tmp / "bm25"))
    (tmp / "texts").mkdir()
    for name, text in texts.items():
        (tmp / "texts" / name).write_text(text, encoding="utf-8")
    if model_dir is not None:
        # hard links where possible: generations never change, so they can share the model's files
        shutil.copytree(model_dir, tmp / "model", copy_function=_link_or_copy)
    # every file, so a damaged BM25 part or document text is caught at load, not at question time
    checksums = {path.relative_to(tmp).as_posix(): _sha256(path) for path in sorted(tmp.rglob("*")) if path.is_file()}
    manifest = {"fingerprint": index_fingerprint(settings), "files": files, "checksums": checksums,
                "counts": {"files": len(files), "passages": len(passages)},
                "dimension": int(embeddings.shape[1]) if len(passages) else 0,
                "adaptation": adaptation if model_dir is not None else None,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    _fsync_tree(tmp)
    os.rename(tmp, gen)
    pointer_tmp = root / f"CURRENT.{uuid.uuid4().hex[:6]}.tmp"
    pointer_tmp.write_text(gen.name)
    os.replace(pointer_tmp, root / "CURRENT")
    _remove_stale(root, keep=gen)
    return gen


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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
