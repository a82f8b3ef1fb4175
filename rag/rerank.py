"""Reranking by reading: the first passages found for a question, reordered by how well their best sentences answer it.

Fused dense and BM25 search (rag.retrieve) puts a passage that answers among its first ten for most questions, but
often not first: it matches words and topics, it does not read. Here the reading model (rag.reader: query likelihood
under gemma-3-270m) reads the read mode's shortlist of sentences from the first `rerank_depth` passages
(ExtractiveGenerator.read_shortlist: the most promising by embedding similarity and word overlap). A passage's
reading rank is that of its best sentence (a passage none of whose sentences was read comes after those read), and
its new place comes from reciprocal rank fusion of its retrieval rank and its reading rank: reading reorders, it
does not overrule retrieval. Passages past the depth keep their order after the reread ones.

It serves `rag search` and `rag retrieve` (Engine.search with rerank). Answers do not rerank: quoting from the
reranked passages (with the reranking's sentence scores kept for the quotations, so that no sentence was read twice)
changed one answer for the better on dev and one for the worse on our train set, at 0.4 s more an answer.
"""

from __future__ import annotations

import numpy as np

from rag.extractive import ExtractiveGenerator
from rag.settings import RetrievalSettings
from rag.types import ScoredPassage


def rerank(question: str, passages: list[ScoredPassage], generator: ExtractiveGenerator,
           settings: RetrievalSettings) -> list[ScoredPassage]:
    """The passages, the first settings.rerank_depth of them reordered by reading (see the module docstring)."""
    head, tail = passages[: settings.rerank_depth], passages[settings.rerank_depth :]
    if len(head) < 2:
        return passages  # nothing to reorder: read nothing
    candidates, gains = generator.read_shortlist(question, head, settings.rerank_sentences)
    if not candidates:
        return passages
    best = np.full(len(head), -np.inf)  # by 0-based retrieval rank
    for candidate, gain in zip(candidates, gains):
        best[candidate.passage - 1] = max(best[candidate.passage - 1], gain)
    reading_rank = np.argsort(np.argsort(-best, kind="stable"), kind="stable")
    fused = [1 / (settings.rrf_k + r) + settings.rerank_weight / (settings.rrf_k + reading_rank[r]) for r in range(len(head))]
    order = sorted(range(len(head)), key=lambda r: -fused[r])
    reread = [head[r].model_copy(update={"score": fused[r], "reading_score": None if np.isinf(best[r]) else float(best[r])})
              for r in order]
    # the same fusion without a reading rank: below every reread passage, in retrieval order
    return reread + [sp.model_copy(update={"score": 1 / (settings.rrf_k + len(head) + r)}) for r, sp in enumerate(tail)]
