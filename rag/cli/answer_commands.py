"""`rag ask`, `rag chat` and `rag answer --eval`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.api import Engine
from rag.chain import History, answer, as_history, make_generator, stream_answer
from rag.cli import add_index_option
from rag.display import readable
from rag.errors import BadInput, RagError
from rag.evaluation import load_items
from rag.types import Answer, span_label

GENERATORS = ["extractive", "openai", "ollama", "llamacpp"]


def register(sub) -> None:
    p = sub.add_parser("ask", help="answer a question with verified quotations")
    p.add_argument("question")
    p.add_argument("--generator", choices=GENERATORS, help="answer generator (default: extractive, or RAG_ANSWER__GENERATOR)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--history", type=Path, metavar="FILE",
                   help="the conversation so far, read as a follow-up of it: JSON [[question, answer], ...] or the "
                        "JSON lines of `rag chat --json`")
    add_index_option(p)
    p.set_defaults(func=run_ask)

    p = sub.add_parser("chat", help="a conversation: one question per line on standard input, follow-ups read in context")
    p.add_argument("--generator", choices=GENERATORS, help="answer generator (default: extractive, or RAG_ANSWER__GENERATOR)")
    p.add_argument("--json", action="store_true", help="print each answer as one line of JSON")
    p.add_argument("--history", type=Path, metavar="FILE", help="start from this conversation (as for `rag ask`)")
    add_index_option(p)
    p.set_defaults(func=run_chat)

    p = sub.add_parser("answer", help="answer every question of an eval file and write JSONL")
    p.add_argument("--eval", type=Path, required=True, dest="eval_file")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--generator", choices=GENERATORS)
    add_index_option(p)
    p.set_defaults(func=run_answer)


def format_answer(result: Answer) -> str:
    """The answer as a person reads it in a terminal: text (footnote markers as superscripts, no markup: --json
    keeps the verbatim quotations), then numbered references."""
    lines = [readable(result.text), ""]
    for n, q in enumerate(result.quotes, start=1):
        lines.append(f"[{n}] {q.citation}; {span_label(q.doc, q.start, q.end)}")
    return "\n".join(lines).rstrip()


def run_ask(args: argparse.Namespace, settings) -> int:
    engine = Engine(settings)
    history = read_history(args.history) if args.history else []
    reply(engine, args.question, history, settings, args.json)
    return 0


def run_chat(args: argparse.Namespace, settings) -> int:
    """Answer each line of standard input in turn; "/new" starts a new conversation. Works piped, too."""
    engine = Engine(settings)
    generator = make_generator(engine, settings)
    history = read_history(args.history) if args.history else []
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask about the documents; /new starts a new conversation, Ctrl-D ends.", file=sys.stderr)
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        question = line.strip()
        if question == "/new":
            history = []
        elif question:
            try:
                result = reply(engine, question, history, settings, args.json, generator, json_lines=True)
            except RagError as e:  # one bad question does not end the conversation
                print(f"error: {e}", file=sys.stderr)
                continue
            history.append((result.question, result.text))
            if not args.json:
                print()


def reply(engine: Engine, question: str, history: History, settings, as_json: bool, generator=None,
          json_lines: bool = False) -> Answer:
    """Answer one question of a conversation and print it: as JSON (one line each with json_lines), or as text
    (live LLM tokens on stderr) with the question as it was searched when that differs from the one asked."""
    if as_json:
        result = answer(engine, question, history, generator=generator, settings=settings)
        print(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=None if json_lines else 1), flush=True)
        return result
    result = None
    for piece in stream_answer(engine, question, history, generator=generator, settings=settings):
        if isinstance(piece, Answer):
            result = piece
        else:
            print(piece, end="", file=sys.stderr, flush=True)  # live tokens; the verified answer follows
    asked, searched = " ".join(question.split()), result.standalone_question
    if len(asked) > settings.retrieval.max_question_chars and asked.startswith(searched):  # cut, not reworded
        print(f"(a long question: its first {settings.retrieval.max_question_chars:,} of {len(asked):,} characters "
              "were searched)")
    elif searched != asked:
        print(f"(searched as: {searched})")
    print(format_answer(result), flush=True)
    return result


def read_history(path: Path) -> History:
    """A conversation from a file: a JSON list of [question, answer] pairs or of answer objects, or JSON lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read the history file {path}: {getattr(e, 'strerror', None) or e}") from e
    try:
        turns = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise BadInput(f"the history file {path} is not JSON ({e.msg}, line {e.lineno})") from e
    return as_history(turns)


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
