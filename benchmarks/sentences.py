"""Sentence vectors for readers: is an answering sentence among the best-cosine sentences of the top passages?

For each answerable question: `rag search` top 5 passages, all their sentences (Index.sentences_in), ranked
by cosine to the question with the stored vectors (pooled out of the passage's model run, late chunking)
and with every sentence embedded alone (what a reader would pay for at question time). A sentence answers
when it holds 8 consecutive words of a gold quote (the eval's hit rule) or is wholly inside one.

    .venv/bin/python benchmarks/sentences.py [--eval FILE] [--index DIR] [--top 12]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import describe_machine

from rag.api import Engine
from rag.cli.search_commands import DEFAULT_EVAL
from rag.evaluation import hits, load_items
from rag.settings import Settings
from rag.text import normalize


def answers(text: str, file: str, evidence: list[dict]) -> bool:
    inside = any(ev["doc"] == file and len(text.split()) >= 6 and normalize(text) in normalize(ev["quote"]) for ev in evidence)
    return inside or hits(text, file, evidence)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    parser.add_argument("--index", type=Path, help="index folder (default: index/default)")
    parser.add_argument("--top", type=int, default=12, help="sentences a reader would consider")
    args = parser.parse_args()
    print(describe_machine())
    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    engine = Engine(settings)
    items = [i for i in load_items(args.eval_file, "question") if i.get("evidence")]
    found = {"stored (pooled from the passage)": 0, "embedded alone": 0}
    reachable = candidates = 0
    alone_ms = []
    for item in items:
        question = engine.embedder.embed_query(item["question"])
        sentences = [s for sp in engine.search(item["question"], 5)
                     for s in engine.index.sentences_in(sp.passage.doc.file, sp.passage.start, sp.passage.end)]
        gold = np.array([answers(s.text, s.file, item["evidence"]) for s in sentences])
        candidates += len(sentences)
        reachable += bool(gold.any())
        t0 = time.perf_counter()
        alone = engine.embedder.embed_documents([s.text for s in sentences])
        alone_ms.append((time.perf_counter() - t0) * 1e3)
        for name, vectors in (("stored (pooled from the passage)", np.stack([s.vector for s in sentences])),
                              ("embedded alone", alone)):
            found[name] += bool(gold[np.argsort(-(vectors @ question))[: args.top]].any())
    print(f"{len(items)} answerable questions; {candidates / len(items):.0f} sentences in the top 5 passages on average; "
          f"an answering sentence among them for {reachable}")
    for name, n in found.items():
        print(f"  {name:34} answering sentence in the best {args.top}: {n}/{len(items)}")
    print(f"embedding them alone would take {np.median(alone_ms):.0f} ms a question (median)")


if __name__ == "__main__":
    main()
