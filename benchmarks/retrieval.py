"""Warm query latency of our retriever, by stage, on a quiet machine and with a second process burning a core.

.venv/bin/python benchmarks/retrieval.py [--eval FILE] [--index DIR] [--rounds 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import describe_machine, one_core_burning, p50_p95

from rag.api import Engine
from rag.cli.search_commands import DEFAULT_EVAL
from rag.evaluation import load_items
from rag.settings import Settings

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


def table(title: str, timings: dict[str, list[float]]) -> str:
    lines = [f"{title} ({len(timings['total'])} searches)", f"{'stage':<8}{'p50 ms':>9}{'p95 ms':>9}"]
    for s in STAGES:
        p50, p95 = p50_p95(timings[s])
        lines.append(f"{s:<8}{p50:>9.2f}{p95:>9.2f}")
    p50 = p50_p95(timings["total"])[0]
    lines.append(f"total p50 {p50:.1f} ms: {'within' if p50 < TARGET_P50_MS else 'OVER'} the {TARGET_P50_MS:.0f} ms target")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    parser.add_argument("--index", type=Path, help="index folder (default: index/default)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds over the questions, after one warm-up round")
    args = parser.parse_args()

    import faiss
    import torch

    settings = Settings()
    if args.index:
        settings.index_dir = args.index
    questions = [i["question"] for i in load_items(args.eval_file, "question")]
    engine = Engine(settings)
    print(describe_machine())
    print(f"index {settings.index_dir}: {len(engine.index.passages)} passages; {len(questions)} questions x {args.rounds} rounds")
    emb = engine.embedder.settings
    print(
        f"threads for question embedding: {emb.query_threads} ({getattr(emb, 'backend', 'torch')} backend, "
        f"int8: {emb.quantize}); torch default {torch.get_num_threads()}; faiss OpenMP threads {faiss.omp_get_max_threads()}\n"
    )
    print(table("without the burner", measure(engine, questions, args.rounds)))
    with one_core_burning() as pid:
        print(f"\nburning one core in pid {pid}")
        print(table("one core busy", measure(engine, questions, args.rounds)))


if __name__ == "__main__":
    main()
