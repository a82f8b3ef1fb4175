"""`rag search` and `rag retrieve --eval`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rag.api import Engine
from rag.cli import add_index_option, add_rerank_option
from rag.display import readable
from rag.evaluation import load_items


def register(sub) -> None:
    p = sub.add_parser("search", help="ranked passages for a question, with citations")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_index_option(p)
    add_rerank_option(p)
    p.set_defaults(func=run_search)

    p = sub.add_parser("retrieve", help="run the questions of an eval file and write ranked passages as JSONL")
    p.add_argument("--eval", type=Path, required=True, dest="eval_file")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", type=Path, required=True)
    add_index_option(p)
    add_rerank_option(p)
    p.set_defaults(func=run_retrieve)


def run_search(args: argparse.Namespace, settings) -> int:
    results = Engine(settings).search(args.question, args.k, rerank=settings.retrieval.rerank)
    if args.json:
        print(json.dumps([r.to_json_dict() for r in results], ensure_ascii=False, indent=1))
        return 0
    for rank, r in enumerate(results, start=1):
        print(f"[{rank}] {r.score:.4f}  {r.passage.citation}\n    {r.passage.location}")
        print("    " + " ".join(readable(r.passage.text).split())[:600] + "\n")  # as people read it; --json verbatim
    if not results:
        print("no passages found")
    return 0


def retrieve_all(engine: Engine, items: list[dict], k: int, rerank: bool = False) -> list[dict]:
    rows = []
    for item in items:
        t0 = time.perf_counter()
        results = engine.search(item["question"], k, rerank=rerank)
        rows.append({"id": item["id"], "ranked": [r.to_json_dict() for r in results],
                     "latency_ms": round((time.perf_counter() - t0) * 1e3, 2)})
    return rows


def run_retrieve(args: argparse.Namespace, settings) -> int:
    rows = retrieve_all(Engine(settings), load_items(args.eval_file, "question"), args.k, settings.retrieval.rerank)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} items to {args.out}")
    return 0
