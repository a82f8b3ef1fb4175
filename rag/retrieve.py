"""Hybrid retrieval: dense (FAISS) and lexical (BM25) search over the same passages, fused by rank."""

from __future__ import annotations

import re
import time
import unicodedata

from rag.embed import Embedder
from rag.errors import BadInput
from rag.settings import RetrievalSettings
from rag.store import Index, bm25_tokenize
from rag.types import ScoredPassage


def clean_question(question: str, max_chars: int) -> str:
    """A question fit for search: control characters removed, whitespace collapsed, length bounded."""
    if not isinstance(question, str):
        raise BadInput("the question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise BadInput("the question is empty; type a question about the documents")
    return text[:max_chars]


class Retriever:
    """Finds the passages that answer a question. `last_timings` holds the stages of the last search (ms)."""

    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.last_timings: dict[str, float] = {}

    def search(self, question: str, k: int | None = None) -> list[ScoredPassage]:
        """The k best distinct passages for a question, best first."""
        s = self.settings
        k = k or s.k
        query = clean_question(question, s.max_question_chars)
        if not self.index.passages:
            return []
        n = min(s.candidates, len(self.index.passages))
        t0 = time.perf_counter()
        vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()
        dense_scores, dense_ids = self.index.faiss_index.search(vector[None, :], n)
        t2 = time.perf_counter()
        bm25_ids, bm25_scores = self._bm25(query, n)
        t3 = time.perf_counter()
        fused: dict[int, float] = {}
        for weight, ids in ((s.dense_weight, dense_ids[0]), (s.bm25_weight, bm25_ids)):
            for rank, i in enumerate(ids):
                if i >= 0:
                    fused[int(i)] = fused.get(int(i), 0.0) + weight / (s.rrf_k + rank + 1)
        dense = {int(i): float(v) for i, v in zip(dense_ids[0], dense_scores[0]) if i >= 0}
        lexical = {int(i): float(v) for i, v in zip(bm25_ids, bm25_scores)}
        ranked = sorted(fused, key=fused.get, reverse=True)
        results = self._distinct(ranked, k)
        t4 = time.perf_counter()
        self.last_timings = {"embed": (t1 - t0) * 1e3, "dense": (t2 - t1) * 1e3, "bm25": (t3 - t2) * 1e3,
                             "fusion": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3}
        return [ScoredPassage(passage=self.index.passages[i], score=fused[i], dense_score=dense.get(i),
                              bm25_score=lexical.get(i)) for i in results]

    def _bm25(self, query: str, n: int) -> tuple[list[int], list[float]]:
        if self.index.bm25 is None:
            return [], []
        tokens = bm25_tokenize([query])
        if not tokens.ids or not tokens.ids[0]:
            return [], []
        inverse = {v: k for k, v in tokens.vocab.items()}
        words = [[inverse[t] for t in tokens.ids[0]]]
        ids, scores = self.index.bm25.retrieve(words, k=n, show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return ids[0][keep].tolist(), scores[0][keep].tolist()

    def _distinct(self, ranked: list[int], k: int) -> list[int]:
        """Drop passages mostly covered by a better-ranked passage of the same document."""
        chosen: list[int] = []
        for i in ranked:
            p = self.index.passages[i]
            if any(_overlap(p, self.index.passages[j]) > 0.5 for j in chosen):
                continue
            chosen.append(i)
            if len(chosen) == k:
                break
        return chosen


def _overlap(a, b) -> float:
    if a.doc.file != b.doc.file:
        return 0.0
    shared = min(a.end, b.end) - max(a.start, b.start)
    return max(shared, 0) / max(a.end - a.start, 1)


def tokens_of(text: str) -> list[str]:
    """Lower-case word tokens, for lexical overlap measures."""
    return re.findall(r"[a-z0-9]+", text.lower())

