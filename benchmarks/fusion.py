"""Ways of fusing the dense and BM25 rankings, compared on the dev questions with two embedding models.

Each question is scored once per model (dense cosine and BM25 over every chunk, as the retriever does);
each fusion then orders the chunks and the retriever's own step (Retriever.distinct_passages) turns the
order into passages, so only the fusion differs. The models are the adapted one of index/default and the
one as shipped (an index built here, in a temporary folder, about 75 s). A fusion worth shipping should
win with both: a gain with one model only is a fit to these 41 questions, not a better method.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import describe_machine

from rag.api import Engine, build_index
from rag.evaluation import DEFAULT_EVAL, load_items, retrieval_scores
from rag.retrieve import Retriever, query_terms
from rag.settings import RetrievalSettings, Settings

# (dense scores, BM25 scores, works by an author the question names) over all chunks -> fused scores
Fusion = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
CANDIDATES = RetrievalSettings().candidates  # taken from each list
AUTHOR_BONUS = RetrievalSettings().author_bonus  # in units of a top rank in one list


def reciprocal_ranks(scores: np.ndarray, k: int) -> np.ndarray:
    """1 / (k + rank) for the top candidates with a positive score, 0 for the others."""
    top = [i for i in np.argsort(-scores)[:CANDIDATES] if scores[i] > 0]
    out = np.zeros(len(scores))
    out[top] = 1.0 / (k + 1 + np.arange(len(top)))
    return out


def rrf(k: int = 60, dense_weight: float = 1.0) -> Fusion:
    def fuse(dense: np.ndarray, bm25: np.ndarray, named: np.ndarray) -> np.ndarray:
        fused = dense_weight * reciprocal_ranks(dense, k) + reciprocal_ranks(bm25, k)
        return fused + named * (fused > 0) * AUTHOR_BONUS / (k + 1)

    return fuse


def convex(alpha: float, normalize: str) -> Fusion:
    """alpha * dense + (1 - alpha) * BM25, each normalized over the candidates (min-max or z-score)."""

    def fuse(dense: np.ndarray, bm25: np.ndarray, named: np.ndarray) -> np.ndarray:
        candidates = np.zeros(len(dense), dtype=bool)
        candidates[np.argsort(-dense)[:CANDIDATES]] = True
        candidates[np.argsort(-bm25)[:CANDIDATES]] = True

        def scaled(x: np.ndarray) -> np.ndarray:
            c = x[candidates]
            if normalize == "min-max":
                return (x - c.min()) / (np.ptp(c) + 1e-9)
            return (x - c.mean()) / (c.std() + 1e-9)

        fused = alpha * scaled(dense) + (1 - alpha) * scaled(bm25)
        fused = np.where(candidates, fused - fused[candidates].min() + 1e-6, 0.0)  # candidates > 0, the rest 0
        top_of_one_list = max(alpha, 1 - alpha) * (fused.max() - fused[candidates].min())
        return fused + named * candidates * AUTHOR_BONUS * top_of_one_list

    return fuse


FUSIONS: dict[str, Fusion] = {
    "RRF k=60 (the retriever's)": rrf(),
    "RRF k=20": rrf(k=20),
    "RRF k=30": rrf(k=30),
    "RRF, dense weight 1.5": rrf(dense_weight=1.5),
    "convex min-max, alpha 0.5": convex(0.5, "min-max"),
    "convex min-max, alpha 0.7": convex(0.7, "min-max"),
    "convex z-score, alpha 0.5": convex(0.5, "z-score"),
    "convex z-score, alpha 0.7": convex(0.7, "z-score"),
}


def compare(engine: Engine, items: list[dict], title: str) -> None:
    retriever: Retriever = engine.retriever
    index = retriever.index
    scored = []
    for item in items:
        named_files, topic = retriever.named_authors(item["question"])
        dense = index.embeddings @ engine.embedder.embed_query(topic)
        words = query_terms(item["question"])
        bm25 = index.bm25.get_scores(words) if words else np.zeros(len(index.passages))
        named = np.array([p.doc.file in named_files for p in index.passages])
        scored.append((item, dense, bm25, named))
    print(f"== {title} ==")
    print(f"{'fusion':32} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7}")
    for name, fuse in FUSIONS.items():
        ranked_by_id = {}
        for item, dense, bm25, named in scored:
            fused = fuse(dense, bm25, named)
            order = [int(i) for i in np.argsort(-fused)[: 4 * CANDIDATES] if fused[i] > 0]
            ranked_by_id[item["id"]] = [{"text": p.text, "doc": p.doc.file} for _, p in retriever.distinct_passages(order, 10)]
        row = retrieval_scores(items, ranked_by_id)["all"]
        print(f"{name:32} {row['recall@1']:6.3f} {row['recall@5']:6.3f} {row['recall@10']:6.3f} {row['mrr@10']:7.3f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    args = parser.parse_args()
    print(describe_machine())
    items = [i for i in load_items(args.eval_file, "question") if i.get("evidence")]
    settings = Settings()
    compare(Engine(settings), items, "model adapted to the corpus (index/default)")
    with tempfile.TemporaryDirectory() as tmp:
        shipped = settings.model_copy(update={"index_dir": Path(tmp) / "shipped"})
        build_index(shipped, adapt=False)
        compare(Engine(shipped), items, "model as shipped")


if __name__ == "__main__":
    main()
