"""The embedded default: a FAISS index (exact, or HNSW above settings.store.approximate_above passages) and a
bm25s index, as files in the generation folder.

HNSW over IVF-PQ: on 1M synthetic passages (benchmarks/scale.py) HNSW32 keeps the vectors whole, so its recall@10
against exact search stays near 1 for a query cost of a millisecond or two, while IVF-PQ trades recall for memory this
machine does not need to save at this size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.backends.base import PassageStore, Searcher
from rag.lexical import bm25_tokenize
from rag.types import Passage


class FaissSearcher(Searcher):
    """Dense search by FAISS, lexical search by bm25s."""

    def __init__(self, dense_index, bm25):
        self.faiss_index = dense_index
        self.bm25 = bm25
        self.size = dense_index.ntotal
        self.dimension = dense_index.d

    def dense(self, vector: np.ndarray, n: int) -> tuple[list[int], list[float]]:
        scores, ids = self.faiss_index.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1), n)
        keep = ids[0] >= 0
        return ids[0][keep].tolist(), scores[0][keep].tolist()

    def lexical(self, terms: list[str], n: int) -> tuple[list[int], list[float]]:
        if self.bm25 is None or not terms:
            return [], []
        ids, scores = self.bm25.retrieve([terms], k=min(n, self.size), show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return ids[0][keep].tolist(), scores[0][keep].tolist()


class FaissStore(PassageStore):
    """faiss.index and bm25/ in the generation folder."""

    name = "faiss"

    def write(self, root: Path, generation: Path, passages: list[Passage], embeddings: np.ndarray, texts: list[str],
              folder: Path) -> dict:
        import bm25s
        import faiss

        s = self.settings.store
        dimension = embeddings.shape[1] if len(passages) else 384
        if self.approximate(len(passages)):
            dense = faiss.IndexHNSWFlat(dimension, s.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            dense.hnsw.efConstruction = s.hnsw_ef_construction
            record = {"backend": self.name, "dense": "hnsw", "hnsw_m": s.hnsw_m, "ef_construction": s.hnsw_ef_construction}
        else:
            dense = faiss.IndexFlatIP(dimension)
            record = {"backend": self.name, "dense": "flat"}
        if len(passages):
            dense.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        faiss.write_index(dense, str(folder / "faiss.index"))
        if passages:
            bm25 = bm25s.BM25()
            bm25.index(bm25_tokenize(texts), show_progress=False)
            bm25.save(str(folder / "bm25"))
        return record

    def open(self, root: Path, generation: Path, manifest: dict) -> FaissSearcher:
        import bm25s
        import faiss

        dense = faiss.read_index(str(generation / "faiss.index"))
        if isinstance(dense, faiss.IndexHNSW):
            dense.hnsw.efSearch = self.settings.store.hnsw_ef_search
        bm25 = bm25s.BM25.load(str(generation / "bm25")) if manifest["counts"]["passages"] else None
        return FaissSearcher(dense, bm25)
