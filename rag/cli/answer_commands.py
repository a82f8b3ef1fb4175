"""`rag ask`, `rag answer --eval` and `rag eval answers`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.api import Engine
from rag.chain import answer, make_generator, stream_answer
from rag.cli import add_index_option
from rag.evaluation import answer_scores, load_items
from rag.types import Answer

GENERATORS = ["extractive", "openai", "ollama", "llamacpp"]


def register(sub) -> None:
    p = sub.add_parser("ask", help="answer a question with verified quotations")
    p.add_argument("question")
    p.add_argument("--generator", choices=GENERATORS, help="answer generator (default: extractive, or RAG_ANSWER__GENERATOR)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    add_index_option(p)
    p.set_defaults(func=run_ask)

    p = sub.add_parser("answer", help="answer every question of an eval file and write JSONL")
    p.add_argument("--eval", type=Path, required=True, dest="eval_file")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--generator", choices=GENERATORS)
    add_index_option(p)
    p.set_defaults(func=run_answer)


def format_answer(result: Answer) -> str:
    """The answer as a person reads it in a terminal: text, then numbered references."""
    lines = [result.text, ""]
    for n, q in enumerate(result.quotes, start=1):
        lines.append(f"[{n}] {q.citation}; {q.doc}, chars {q.start}-{q.end}")
    return "\n".join(lines).rstrip()


def run_ask(args: argparse.Namespace, settings) -> int:
    engine = Engine(settings)
    if args.json:
        print(json.dumps(answer(engine, args.question, settings=settings).to_json_dict(), ensure_ascii=False, indent=1))
        return 0
    final = None
    for piece in stream_answer(engine, args.question, settings=settings):
        if isinstance(piece, Answer):
            final = piece
        else:
            print(piece, end="", file=sys.stderr, flush=True)  # live tokens; the verified answer follows
    print(format_answer(final))
    return 0


def answer_all(engine: Engine, items: list[dict], settings) -> list[dict]:
    generator = make_generator(engine, settings)
    rows = []
    for item in items:
        t0 = time.perf_counter()
        result = answer(engine, item["question"], generator=generator, settings=settings)
        row = {"id": item["id"], **{k: v for k, v in result.to_json_dict().items() if k in ("answer", "quotes", "abstained")}}
        row["latency_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
        rows.append(row)
    return rows


def run_answer(args: argparse.Namespace, settings) -> int:
    rows = answer_all(Engine(settings), load_items(args.eval_file, "question"), settings)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} answers to {args.out}")
    return 0


def run_eval_answers(args: argparse.Namespace, settings) -> int:
    engine = Engine(settings)
    items = load_items(args.eval_file, "question")
    rows = answer_all(engine, items, settings)
    scores = answer_scores(items, {r["id"]: r for r in rows}, engine.index.document_text)
    latencies = sorted(r["latency_ms"] for r in rows)
    for name, value in scores.items():
        print(f"{name:<22}{value:.3f}" if isinstance(value, float) else f"{name:<22}{value}")
    print(f"{'latency_p50_ms':<22}{latencies[len(latencies) // 2]:.1f}")
    return 0
