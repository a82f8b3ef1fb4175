"""`rag verify`: one claim, or every claim of an eval file."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import get_args

from rag.api import Engine
from rag.claims import ClaimResult, verify_claim
from rag.cli import add_index_option
from rag.display import readable
from rag.errors import BadInput
from rag.evaluation import load_items
from rag.settings import AnswerSettings
from rag.types import span_label

GENERATORS = get_args(AnswerSettings.model_fields["generator"].annotation)


def register(sub) -> None:
    p = sub.add_parser("verify", help="check a claim against the documents: supported, refuted or not in the corpus")
    p.add_argument("claim", nargs="?", help="the statement to check (omit with --eval)")
    p.add_argument("--generator", choices=GENERATORS, help="who judges: extractive (default, no LLM) or an LLM")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--eval", type=Path, dest="eval_file", help="verify every `type: claim` item of this JSONL file")
    p.add_argument("--out", type=Path, help="with --eval: write one JSON line per claim here")
    add_index_option(p)
    p.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace, settings) -> int:
    if args.eval_file:
        if not args.out:
            raise BadInput("--eval needs --out FILE for the verdicts")
        items, results = verify_items(Engine(settings), args.eval_file, settings)
        lines = [json.dumps({"id": item["id"], **result_line(r)}, ensure_ascii=False) + "\n" for item, r in zip(items, results)]
        args.out.write_text("".join(lines), encoding="utf-8")
        print(f"wrote {len(lines)} verdicts to {args.out}")
        return 0
    if args.claim is None:
        raise BadInput('give a claim to check, e.g. rag verify "Gosplan was headed by Molotov in 1931"')
    result = verify_claim(Engine(settings), args.claim, settings)
    print(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=1) if args.json else format_result(result))
    return 0


def result_line(result: ClaimResult) -> dict:
    """One line of `rag verify --eval` output (without the id)."""
    data = result.to_json_dict()
    return {k: data[k] for k in ("verdict", "quotes", "reason")}


def verify_items(engine: Engine, eval_file: Path, settings) -> tuple[list[dict], list[ClaimResult]]:
    """The claim items of an eval file and the verdict on each."""
    items = load_items(eval_file, "claim")
    if not items:
        raise BadInput(f"{eval_file} has no items of type claim")
    return items, [_verdict_or_reason(engine, item["claim"], settings) for item in items]


def _verdict_or_reason(engine: Engine, claim: str, settings) -> ClaimResult:
    """The verdict on one claim of a file; an item that is no claim (empty, a question) is "not in corpus" with the
    reason, so that one bad item does not cost the file its other verdicts."""
    try:
        return verify_claim(engine, claim, settings)
    except BadInput as e:
        return ClaimResult(claim=str(claim), verdict="not_in_corpus", reason=str(e))


def format_result(result: ClaimResult, width: int = 100) -> str:
    """A verdict for people: verdict, reason, quotations with citations, conflicting spans side by side."""
    lines = [f"verdict: {result.verdict.replace('_', ' ').upper()}", f"reason: {readable(result.reason)}"]
    for n, q in enumerate(result.quotes, start=1):  # as people read them; --json keeps them verbatim
        lines.append(textwrap.fill(f"[{n}] \u201c{readable(q.text)}\u201d", width, subsequent_indent="    "))
        lines.append(f"    \u2014 {q.citation} ({span_label(q.doc, q.start, q.end)})")
    if result.conflicts:
        half = (width - 7) // 2
        lines.append(f"\n  {'the claim says':<{half}} | the source says")
        for c in result.conflicts:
            left = textwrap.wrap(c.claim_span, half) or [""]
            right = textwrap.wrap(c.source_span, half) or [""]
            for i in range(max(len(left), len(right))):
                a = left[i] if i < len(left) else ""
                b = right[i] if i < len(right) else ""
                lines.append(f"  {a:<{half}} | {b}")
    if result.dropped_quotes:
        lines.append(f"({result.dropped_quotes} quotation(s) dropped: not found in the cited document)")
    return "\n".join(lines)
