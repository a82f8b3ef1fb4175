"""The `rag` command line: a thin layer over rag.api. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from rag.errors import RagError
from rag.settings import Settings

# Modules that each define `register(subparsers)`; commands set `func(args, settings) -> int`.
COMMAND_MODULES = ["rag.cli.index_commands", "rag.cli.search_commands", "rag.cli.answer_commands",
                   "rag.cli.verify_commands", "rag.cli.eval_commands"]


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command line's --index and --generator on top."""
    settings = Settings()
    if getattr(args, "index", None):
        settings.index_dir = Path(args.index)
    if getattr(args, "generator", None):
        settings.answer.generator = args.generator
    if getattr(args, "rerank", None) is not None:
        settings.retrieval.rerank = args.rerank
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Answer questions about a document collection with verified quotations.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    try:
        try:
            return run(argv)
        finally:
            sys.stdout.flush()  # here, so that a closed pipe is met inside this try (after --help too)
    except BrokenPipeError:  # the reader went away (`rag ... | head -1`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail again
        return 141


def run(argv: list[str] | None) -> int:
    """Parse the command line and run the command; a RagError becomes one line on stderr and exit code 1."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, settings_from(args))
    except RagError as e:
        if os.environ.get("RAG_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", help="index folder (default: index/default in the project, or RAG_INDEX_DIR)")


def add_rerank_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                        help="reorder the first passages by reading them (about 1 s a question; default: on, "
                        "or RAG_RETRIEVAL__RERANK); --no-rerank searches in milliseconds")


if __name__ == "__main__":
    sys.exit(main())
