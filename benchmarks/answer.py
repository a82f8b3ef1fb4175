"""Warm answer latency of the default (extractive) chain over the dev questions, in its read mode (quotations chosen
by the reading model, rag.reader) and its fast mode, on a quiet machine and with a second process burning a core:
total per answer, and the retrieval and reading stages inside it.

.venv/bin/python benchmarks/answer.py [--eval FILE] [--index DIR] [--rounds 3]
"""

from __future__ import annotations

import time

from common import describe_machine, engine_and_questions, print_quiet_and_busy

from rag.api import Engine
from rag.chain import answer, make_generator
from rag.reader import use_bfloat16

TARGET_P50_MS = {"read": 1500.0, "fast": 300.0}


def measure(engine: Engine, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Per answer (ms): the whole chain, and its retrieval (dense and BM25 search) inside it. The rest is reading:
    choosing the quotations (in the read mode, by the reading model), then verifying them."""
    generator = make_generator(engine, engine.settings)
    for q in questions:  # warm-up
        answer(engine, q, generator=generator)
    timings: dict[str, list[float]] = {"retrieval": [], "reading": [], "total": []}
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            answer(engine, q, generator=generator)
            timings["total"].append((time.perf_counter() - t0) * 1e3)
            timings["retrieval"].append(engine.retriever.last_timings["total"])
            timings["reading"].append(timings["total"][-1] - timings["retrieval"][-1])
    return timings


def main() -> None:
    engine, questions, rounds = engine_and_questions(__doc__.split("\n\n")[0], default_rounds=3)
    print(describe_machine())
    precision = "bfloat16" if use_bfloat16(engine.settings.reader.precision) else "float32"
    print(f"reading model in {precision} ({engine.settings.answer.sentences_read} sentences read an answer)")
    for mode, target in TARGET_P50_MS.items():
        engine.settings.answer.mode = mode
        print(f"\n{mode} mode. index {engine.settings.index_dir}: {len(engine.index.passages)} passages; generator "
              f"{engine.settings.answer.generator}; {len(questions)} questions x {rounds} rounds\n")
        print_quiet_and_busy(lambda: measure(engine, questions, rounds), f"answers ({mode} mode)", target)


if __name__ == "__main__":
    main()
