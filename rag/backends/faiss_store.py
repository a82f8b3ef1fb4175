"""The embedded default: a FAISS index (exact, or HNSW above settings.store.approximate_above passages) and a
bm25s index, as files in the generation folder.

HNSW over IVF-PQ, measured by benchmarks/scale.py (docs/scale.md): on the same synthetic vectors HNSW32 found more of
exact search's top 10 (0.99 at 100k, 0.70 at 1M with efSearch 512, 2.4-3.7 ms) than IVF1024,PQ48 (0.59 and 0.46 at
nprobe 128), whose 48-byte codes save memory this machine does not need to save at a million passages."""

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
        """bm25s's scores, summed over the postings of the query's terms only: bm25s.retrieve ranks a score for every
        passage, most of them 0, and numpy's argpartition over a million such scores took 50-65 ms here, where the
        few thousand postings of a question take a fraction of a millisecond."""
        if self.bm25 is None or not terms:
            return [], []
        token_ids = self.bm25.get_tokens_ids(terms)  # repeated terms count again, as in bm25s
        if not token_ids:
            return [], []
        data, indices, indptr = (self.bm25.scores[key] for key in ("data", "indices", "indptr"))
        rows = np.concatenate([indices[indptr[t] : indptr[t + 1]] for t in token_ids])
        values = np.concatenate([data[indptr[t] : indptr[t + 1]] for t in token_ids])
        if not len(rows):
            return [], []
        passages, where = np.unique(rows, return_inverse=True)
        scores = np.zeros(len(passages), dtype=np.float32)
        np.add.at(scores, where, values)  # in float32 and term order, as bm25s sums them
        best = np.argpartition(-scores, min(n, len(scores)) - 1)[:n] if len(scores) > n else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        best = best[scores[best] > 0]
        return passages[best].tolist(), scores[best].tolist()


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
