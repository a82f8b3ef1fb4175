"""Warm query latency of our retriever, by stage, on a quiet machine and with a second process burning a core.

.venv/bin/python benchmarks/retrieval.py [--eval FILE] [--index DIR] [--rounds 5]
"""

from __future__ import annotations

from common import describe_machine, engine_and_questions, print_quiet_and_busy

from rag.api import Engine

STAGES = ["embed", "dense", "bm25", "fusion", "total"]
TARGET_P50_MS = 30.0


def measure(engine: Engine, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Stage timings (ms) of every search: one warm-up round, then `rounds` rounds over all questions."""
    for q in questions:
        engine.search(q)
    timings: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(rounds):
        for q in questions:
            engine.search(q)
            for s in STAGES:
                timings[s].append(engine.retriever.last_timings[s])
    return timings


def main() -> None:
    import faiss
    import torch

    engine, questions, rounds = engine_and_questions(__doc__.split("\n\n")[0], default_rounds=5)
    print(describe_machine())
    print(f"index {engine.settings.index_dir}: {len(engine.index.passages)} passages; {len(questions)} questions x {rounds} rounds")
    emb = engine.embedder.settings
    print(
        f"threads for question embedding: {emb.query_threads} ({getattr(emb, 'backend', 'torch')} backend, "
        f"int8: {emb.quantize}); torch default {torch.get_num_threads()}; faiss OpenMP threads {faiss.omp_get_max_threads()}\n"
    )
    print_quiet_and_busy(lambda: measure(engine, questions, rounds), "searches", TARGET_P50_MS)


if __name__ == "__main__":
    main()
