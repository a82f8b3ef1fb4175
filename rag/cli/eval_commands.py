"""`rag eval retrieval|answers|claims`: score the pipeline on an eval file (by default the shared dev set)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.api import Engine
from rag.cli import add_index_option, add_rerank_option
from rag.cli.answer_commands import answer_all
from rag.cli.search_commands import retrieve_all
from rag.cli.verify_commands import verify_items
from rag.evaluation import (
    DEFAULT_EVAL,
    answer_scores,
    claim_scores,
    cross_doc_coverage,
    format_scores,
    load_items,
    retrieval_scores,
)
from rag.text import normalize


def register(sub) -> None:
    p = sub.add_parser("eval", help="score retrieval, answers or claims on an eval file")
    p.add_argument("what", choices=["retrieval", "answers", "claims"])
    p.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--generator", help="answer generator (answers and claims)")
    add_index_option(p)
    add_rerank_option(p)
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace, settings) -> int:
    return {"retrieval": run_eval_retrieval, "answers": run_eval_answers, "claims": run_eval_claims}[args.what](args, settings)


def run_eval_retrieval(args: argparse.Namespace, settings) -> int:
    items = load_items(args.eval_file, "question")
    rows = retrieve_all(Engine(settings), items, max(args.k, 10), settings.retrieval.rerank)
    ranked = {r["id"]: r["ranked"] for r in rows}
    print(format_scores(retrieval_scores(items, ranked)))
    done, total = cross_doc_coverage(items, ranked)
    print(f"cross-doc questions with evidence from every gold document in the top 10: {done}/{total}")
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


def run_eval_claims(args: argparse.Namespace, settings) -> int:
    """`rag eval claims`: features and verdict per claim, accuracy per label, quotation precision."""
    engine = Engine(settings)
    items, results = verify_items(engine, args.eval_file, settings)
    print(f"{'id':<12}{'label':<15}{'verdict':<15}{'cosine':>7}{'cover':>7}{'align':>7}  conflict")
    for item, r in zip(items, results):
        s = r.scores
        conflict = f"{r.conflicts[0].claim_span} <> {r.conflicts[0].source_span}" if r.conflicts else ""
        mark = " " if r.verdict == item["label"] else "x"
        print(
            f"{item['id']:<12}{item['label']:<15}{r.verdict:<14}{mark}{s.get('cosine', 0):>7.3f}"
            f"{s.get('coverage', 0):>7.3f}{s.get('align', 0):>7.3f}  {conflict[:70]}"
        )

    print()
    print(format_scores(claim_scores(items, {item["id"]: {"verdict": r.verdict} for item, r in zip(items, results)})))
    quotes = [q for r in results for q in r.quotes]
    verbatim = sum(normalize(q.text) in normalize(engine.index.document_text(q.doc)) for q in quotes)
    print(f"quotation precision: {verbatim / len(quotes) if quotes else 1.0:.3f} ({verbatim}/{len(quotes)})")
    wrong = sum(1 for item, r in zip(items, results) if item["label"] == "not_in_corpus" and r.verdict == "supported")
    print(f"not_in_corpus claims judged supported: {wrong}")
    refuted_bare = sum(1 for r in results if r.verdict == "refuted" and not (r.quotes and r.conflicts))
    print(f"refuted verdicts without conflicting source text: {refuted_bare}")
    return 0
