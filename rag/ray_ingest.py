"""Bulk ingest on Ray Data (`rag ingest DIR --index X --ray ADDRESS`).

rag.ingest.ingest keeps the bookkeeping (what changed, what to keep, the manifest); this module does its heavy
work on Ray: files are read, cleaned and chunked by Ray tasks (rag.ingest.prepare_file, in groups of
settings.ray.files_per_task), then their passages and sentences are embedded by `map_batches` over a pool of
actors, each of which loads the (adapted) model once and runs the model on the very batches the in-process
path makes (rag.ingest.embed_passages with a Ray encoder). The vectors come back to the driver, which pools the
sentences' vectors and writes them to the store.

"local" starts a Ray on this machine with settings.ray.local_cpus CPUs; another address joins that cluster
(ray.init(address=...)). On a cluster the files must be readable at the same path on every node (a shared
folder); an adapted model is shipped to the actors through Ray's object store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np

from rag.errors import RagError, StoreUnavailable
from rag.settings import EmbeddingSettings, Settings


def _ray():
    try:
        import ray
    except ImportError as e:
        raise StoreUnavailable("ingest on Ray needs ray[data]: pip install -e '.[scale]'") from e
    return ray


class RayPipeline:
    """A connection to Ray (started here for "local") and the two stages of an ingest that run on it."""

    def __init__(self, address: str, settings: Settings):
        ray = _ray()
        self.settings = settings
        self.started = False
        for name in ("ray", "ray.data"):  # its notices would break into the ingest's progress bar
            logging.getLogger(name).setLevel(logging.ERROR)
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                       "configure_logging": True}
            try:
                if address == "local":
                    ray.init(num_cpus=settings.ray.local_cpus or os.cpu_count() or 1, **options)
                else:
                    ray.init(address=address, **options)
            except Exception as e:  # ConnectionError, or Ray's own when nothing answers there
                raise StoreUnavailable(f"cannot start or join Ray at {address!r} ({type(e).__name__}: {str(e)[:160]}); "
                                       "use --ray local, or the address of a running Ray head (ray://host:10001 or "
                                       "host:6379) and check that it is reachable") from e
            self.started = True
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False  # ingest shows its own progress, as without Ray
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # again: ray.data sets up its logger when imported

    def close(self) -> None:
        """Stop Ray if this pipeline started it."""
        if self.started:
            _ray().shutdown()
            self.started = False

    def prepare(self, files: list[Path], indexed: dict[str, str], edits: dict[str, dict], model_dir: Path | None,
                progress=None) -> dict[Path, object]:
        """Each file read, cleaned and chunked by Ray tasks (rag.ingest.Prepared), unless its content is indexed already
        (indexed: file name -> sha256 of its content)."""
        from rag.embed import base_model_path

        ray = _ray()
        if not files:
            return {}
        tokenizer = ((model_dir or base_model_path(self.settings.embedding)) / "tokenizer.json").read_bytes()
        job = {"tokenizer": tokenizer, "chunking": self.settings.chunking.model_dump(), "edits": edits, "indexed": indexed}
        items = [{"path": str(path)} for path in files]
        data = ray.data.from_items(items, override_num_blocks=max(1, len(items) // self.settings.ray.files_per_task))
        out = data.map_batches(_prepare_batch, fn_kwargs={"job": ray.put(job)}, batch_size=self.settings.ray.files_per_task,
                               batch_format="numpy")
        prepared: dict[Path, object] = {}
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            for path, blob in zip(batch["path"], batch["prepared"]):
                prepared[Path(path)] = pickle.loads(blob)
            if progress:
                progress("reading and chunking", len(prepared), len(files))
        return prepared

    def encoder(self, model_dir: Path | None, progress=None):
        """An encode(texts, spans) for rag.ingest.embed_passages that runs Embedder.embed_with_spans on a pool of
        actors, each loading the model once. The batches are the in-process ones (texts sorted by token count, cut
        every settings.embedding.batch_size): the model's int8 activations are quantized per batch, so other batches
        would give other vectors (cosine 0.98-0.99 instead of 1)."""
        from rag.embed import base_model_path

        counter = _counter(((model_dir or base_model_path(self.settings.embedding)) / "tokenizer.json").read_bytes())

        def encode(texts: list[str], spans: list[list[tuple[int, int]]] | None) -> tuple[np.ndarray, list[np.ndarray]]:
            return self._encode(texts, spans, counter, model_dir, progress)

        return encode

    def _encode(self, texts, spans, counter, model_dir, progress) -> tuple[np.ndarray, list[np.ndarray]]:
        ray = _ray()
        if not texts:
            return np.zeros((0, 0), np.float32), []
        s = self.settings.ray
        cpus = max(1, s.cpus_per_actor)
        actors = s.actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
        size = self.settings.embedding.batch_size
        order = np.argsort([-n for n in counter(texts)], kind="stable")  # as Embedder._encode
        batches = [order[i : i + size] for i in range(0, len(texts), size)]
        items = [{"rows": pickle.dumps((rows, [texts[j] for j in rows], None if spans is None else [spans[j] for j in rows]))}
                 for rows in batches]
        embedding = self.settings.embedding.model_copy(update={"ingest_threads": cpus})
        model = ray.put(_model_files(model_dir)) if model_dir else None
        per_call = max(1, s.batches_per_call)
        data = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * actors)))
        out = data.map_batches(_EmbedActor, fn_constructor_kwargs={"embedding": embedding.model_dump(), "model": model},
                               batch_size=per_call, batch_format="numpy", num_cpus=cpus,
                               compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(actors, len(items))))
        vectors: np.ndarray | None = None
        span_vectors: list = [None] * len(texts)
        done = 0
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            for blob in batch["vectors"]:
                rows, found, found_spans = pickle.loads(blob)
                if vectors is None:
                    vectors = np.zeros((len(texts), found.shape[1]), dtype=np.float32)
                vectors[rows] = found
                for j, v in zip(rows, found_spans):
                    span_vectors[j] = v
                done += len(rows)
            if progress and spans is not None:
                progress("embedding", done, len(texts))
        if vectors is None or done != len(texts):
            raise RagError("Ray returned no vectors for some passages; run the ingest again")
        return vectors, span_vectors if spans is not None else []


def _counter(tokenizer_json: bytes):
    """Tokens per text, as Embedder.count_tokens counts them (no truncation, no padding)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count_tokens(texts: list[str]) -> list[int]:
        return [len(e.ids) for i in range(0, len(texts), 2048) for e in tokenizer.encode_batch_fast(texts[i : i + 2048])]

    return count_tokens


def _prepare_batch(batch: dict[str, np.ndarray], job) -> dict[str, np.ndarray]:
    """Ray task: read, clean and chunk a few files (rag.ingest.prepare_file)."""
    from rag.ingest import prepare_file
    from rag.loaders import read_catalog
    from rag.settings import ChunkingSettings

    job = job if isinstance(job, dict) else _ray().get(job)
    count_tokens = _counter(job["tokenizer"])

    chunking = ChunkingSettings.model_validate(job["chunking"])
    catalogs: dict[Path, dict] = {}
    out = []
    for path in map(Path, batch["path"]):
        folder = path.parent.resolve()
        if folder not in catalogs:
            catalogs[folder] = read_catalog(folder)
        prepared = prepare_file(path, catalogs[folder], job["edits"].get(path.name), chunking, count_tokens,
                                job["indexed"].get(path.name))
        out.append(pickle.dumps(prepared))
    return {"path": batch["path"], "prepared": np.array(out, dtype=object)}


class _EmbedActor:
    """Ray actor: the embedding model, loaded once, embedding a few batches of passages per call (each as one model
    batch, as in process)."""

    def __init__(self, embedding: dict, model):
        from rag.embed import Embedder

        model_dir = _materialize(_ray().get(model) if model is not None and not isinstance(model, dict) else model)
        self.embedder = Embedder(EmbeddingSettings.model_validate(embedding), model_dir=model_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = []
        for blob in batch["rows"]:
            rows, texts, spans = pickle.loads(blob)
            vectors, span_vectors = self.embedder.embed_with_spans(texts, spans)
            out.append(pickle.dumps((rows, vectors, span_vectors)))
        return {"vectors": np.array(out, dtype=object)}


def _model_files(model_dir: Path) -> dict[str, bytes]:
    """An adapted model's files, to ship to actors that may run on other machines."""
    return {path.relative_to(model_dir).as_posix(): path.read_bytes()
            for path in sorted(Path(model_dir).rglob("*")) if path.is_file()}


def _materialize(files: dict[str, bytes] | None) -> Path | None:
    """A shipped model written to a folder named by its content (so actors on one machine share it)."""
    if not files:
        return None
    digest = hashlib.sha256(b"".join(name.encode() + hashlib.sha256(data).digest() for name, data in files.items()))
    folder = Path(tempfile.gettempdir()) / f"rag-model-{digest.hexdigest()[:16]}"
    if not (folder / ".complete").exists():
        partial = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        for name, data in files.items():
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            (partial / name).write_bytes(data)
        (partial / ".complete").write_bytes(b"")
        try:
            os.rename(partial, folder)
        except OSError:  # another actor finished first
            pass
    return folder
