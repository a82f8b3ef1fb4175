"""Retrieval on the dev questions with the embedding model as shipped and as adapted to the corpus (rag/adapt.py).

The adapted side is index/default (make setup adapts it); the other is built here, in a temporary folder,
from the same corpus without adaptation (about 75 s). With --train, the adaptation is also run again here
(about 11 minutes on 2 cores) with --seed, to see how much the figures move with the seed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import describe_machine, score_report

from rag.api import Engine, build_index
from rag.cli.search_commands import retrieve_all
from rag.evaluation import DEFAULT_EVAL, load_items
from rag.settings import Settings


def scores_of(engine: Engine, items: list[dict], title: str) -> None:
    rows = retrieve_all(engine, items, 10)
    print(f"== {title} ==")
    print(score_report(items, {r["id"]: r["ranked"] for r in rows})[2] + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    parser.add_argument("--train", action="store_true", help="also adapt a model here (about 11 minutes)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the adaptation run with --train")
    args = parser.parse_args()
    print(describe_machine())
    items = load_items(args.eval_file, "question")
    settings = Settings()
    adapted = Engine(settings)
    info = adapted.index.adaptation
    if info:
        print(f"index/default: adapted by {info['method']}, {info['pairs']} pairs, {info['steps']} steps of "
              f"{info['batch_size']}, seed {info['seed']}, {info['seconds']:.0f} s of training\n")
    else:
        print("index/default was built without adaptation (run `make setup`)\n")
    with tempfile.TemporaryDirectory() as tmp:
        plain_settings = settings.model_copy(update={"index_dir": Path(tmp) / "plain"})
        build_index(plain_settings, adapt=False)
        scores_of(Engine(plain_settings), items, "model as shipped")
        scores_of(adapted, items, f"model adapted to the corpus (seed {info['seed'] if info else '-'})")
        if args.train:
            trained = settings.model_copy(update={"index_dir": Path(tmp) / "trained",
                                                  "adapt": settings.adapt.model_copy(update={"seed": args.seed})})
            report = build_index(trained, adapt=True)
            print(f"adapted again in {report.timings['adapt']:.0f} s")
            scores_of(Engine(trained), items, f"model adapted again here (seed {args.seed}, {trained.adapt.epochs} epochs)")
    print(describe_machine())


if __name__ == "__main__":
    main()
