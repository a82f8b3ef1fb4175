"""Warm answer latency of the default (extractive) chain over the dev questions, on a quiet machine and
with a second process burning a core: total per answer, and the retrieval and draft stages inside it.

.venv/bin/python benchmarks/answer.py [--eval FILE] [--index DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import describe_machine, one_core_burning, p50_p95

from rag.api import Engine
from rag.chain import answer, make_generator
from rag.cli.search_commands import DEFAULT_EVAL
from rag.evaluation import load_items
from rag.settings import Settings

TARGET_P50_MS = 300.0


def measure(engine: Engine, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Per answer (ms): the whole chain, its retrieval, and the generator's draft on the same passages.
    The draft is timed again outside the chain (same input, same work); the rest of the total is
    question cleanup and quote verification."""
    generator = make_generator(engine, engine.settings)
    shown = engine.settings.answer.passages_in_prompt
    for q in questions:  # warm-up
        answer(engine, q, generator=generator)
    timings: dict[str, list[float]] = {"retrieval": [], "draft": [], "total": []}
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            result = answer(engine, q, generator=generator)
            timings["total"].append((time.perf_counter() - t0) * 1e3)
            timings["retrieval"].append(engine.retriever.last_timings["total"])
            t1 = time.perf_counter()
            generator.draft(result.standalone_question, result.passages[:shown])
            timings["draft"].append((time.perf_counter() - t1) * 1e3)
    return timings


def table(title: str, timings: dict[str, list[float]]) -> str:
    lines = [f"{title} ({len(timings['total'])} answers)", f"{'stage':<10}{'p50 ms':>9}{'p95 ms':>9}"]
    for stage, values in timings.items():
        p50, p95 = p50_p95(values)
        lines.append(f"{stage:<10}{p50:>9.1f}{p95:>9.1f}")
    p50 = p50_p95(timings["total"])[0]
    lines.append(f"answer p50 {p50:.0f} ms: {'within' if p50 < TARGET_P50_MS else 'OVER'} the {TARGET_P50_MS:.0f} ms target")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    parser.add_argument("--index", type=Path, help="index folder (default: index/default)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds over the questions, after one warm-up round")
    args = parser.parse_args()

    settings = Settings()
    if args.index:
        settings.index_dir = args.index
    questions = [i["question"] for i in load_items(args.eval_file, "question")]
    engine = Engine(settings)
    print(describe_machine())
    print(f"index {settings.index_dir}: {len(engine.index.passages)} passages; generator {settings.answer.generator}; "
          f"{len(questions)} questions x {args.rounds} rounds\n")
    print(table("without the burner", measure(engine, questions, args.rounds)))
    with one_core_burning() as pid:
        print(f"\nburning one core in pid {pid}")
        print(table("one core busy", measure(engine, questions, args.rounds)))


if __name__ == "__main__":
    main()
