"""Follow-up handling without an LLM: how often a second question is read the right way.

Each case is (kind, earlier question, second question): "alone" when the second question stands on its
own, "follow" when it continues the first. The cases are written for this benchmark over the bundled
corpus and tests/data (there are no multi-turn items in the eval sets). A reading is right when an
"alone" question is searched as itself and a "follow" question with the earlier one. Compared:
  never      the question is always searched as it is
  old rule   joined whenever it has a pronoun or two content words or fewer (before issue 14)
  cue only   joined whenever it has a pronoun, demonstrative or continuing opening (may_need_context)
  shipped    cue, then the better-supported of the two readings (rag.chain.resolve_question)

    .venv/bin/python benchmarks/followups.py [--index index/default]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from common import describe_machine

from rag.api import Engine
from rag.chain import may_need_context, resolve_question
from rag.extractive import content_words
from rag.ingest import ingest
from rag.settings import PROJECT_ROOT, Settings

CORPUS_CASES = [
    ("alone", "Why did workers go on strike during NEP?", "How often did Stalin's Politburo meet, and how were its decisions made?"),
    ("alone", "Why did workers strike under NEP?", "What did Gosplan do?"),
    ("alone", "Why did Khrushchev want the sovnarkhozy?", "How did Western historians explain Soviet industrialization?"),
    ("alone", "What did the obkom secretaries say about the reform?", "What was the scissors crisis?"),
    ("alone", "Who opposed the sovnarkhoz reform?", "How did Stalin communicate his orders to his subordinates?"),
    ("alone", "What happened to the kulaks?", "What is the argument of the preface about Stalinism?"),
    ("alone", "What was the sovnarkhoz reform?", "Why did it take so long for the Turksib to be built?"),
    ("alone", "How did the peasants respond to grain procurements in 1928?", "What were the sovnarkhozy?"),
    ("alone", "Why did Khrushchev want the sovnarkhozy?", "What did Bukharin say about the peasants?"),
    ("alone", "What did Gosplan do?", "How did Stakhanovism affect output?"),
    ("follow", "Why did Khrushchev want the sovnarkhozy?", "and why did they oppose it?"),
    ("follow", "What was the sovnarkhoz reform of 1957?", "Who opposed it?"),
    ("follow", "How did the Politburo make decisions under Stalin?", "How often did it meet?"),
    ("follow", "What was the scissors crisis?", "What caused it?"),
    ("follow", "How did the peasants respond to grain procurements in 1928?", "And what did the party do about it?"),
    ("follow", "What did the obkom secretaries of agricultural regions say about the reform?", "And those of industrial regions?"),
    ("follow", "What was dekulakization?", "How many families were deported?"),
    ("follow", "What did Gosplan do?", "Who headed it?"),
    ("follow", "What did Bukharin argue in 1928?", "Who opposed him?"),
    ("follow", "Why did the grain procurements fall in 1927?", "What did Stalin do about that?"),
]
SMALL_CASES = [
    ("alone", "When was the State Planning Commission created?", "When was the Turksib railway finished?"),
    ("alone", "What was rationed in the cities?", "How did peasants respond to the grain collection campaign?"),
    ("alone", "Where was the Turksib line joined?", "When was bread rationing introduced?"),
    ("alone", "When was bread rationing introduced in the cities?", "Where was the Turksib line joined?"),
    ("alone", "When was bread rationing introduced in the cities?", "Where was the Turksib line joined, and what did the press call it?"),
    ("follow", "When was the State Planning Commission created?", "What did it replace?"),
    ("follow", "When was the Turksib railway begun?", "Where was it joined?"),
    ("follow", "When was bread rationing introduced in the cities?", "How much did private traders charge?"),
    ("follow", "How did the peasants respond to the grain collection campaign?", "And in which year was it?"),
    ("follow", "When was the State Planning Commission created?", "What powers did it have at first?"),
]


OLD_PRONOUN_RULE = re.compile(r"^\s*(and|but|so|also|what about|how about|what of)\b|\b(it|its|they|them|their|this|that|"
                              r"these|those|he|she|him|his|her)\b", re.IGNORECASE)


def old_rule(question: str) -> bool:
    """Before issue 14: any pronoun, or two content words or fewer, glued the question to the previous one."""
    return bool(OLD_PRONOUN_RULE.search(question)) or len(content_words(question)) <= 2


def score(engine: Engine, cases: list[tuple[str, str, str]], label: str) -> None:
    right = {"never": 0, "old rule": 0, "cue only": 0, "shipped": 0}
    seconds = []
    for kind, earlier, question in cases:
        follows = kind == "follow"
        right["never"] += not follows
        right["old rule"] += old_rule(question) == follows
        right["cue only"] += may_need_context(question) == follows
        t0 = time.perf_counter()
        searched, _ = resolve_question(engine, question, [(earlier, "")], engine.settings.retrieval.k)
        seconds.append(time.perf_counter() - t0)
        joined = searched != question
        right["shipped"] += joined == follows
        print(f"  {'ok ' if joined == follows else 'BAD'} {kind:<7}{'joined' if joined else 'alone':<8}{question}")
    n_alone = sum(k == "alone" for k, _, _ in cases)
    print(f"{label}: {len(cases)} cases ({n_alone} alone, {len(cases) - n_alone} follow-ups); right readings:")
    for name, count in right.items():
        print(f"  {name:<10}{count:>3}/{len(cases)}")
    print(f"  shipped: median {sorted(seconds)[len(seconds) // 2] * 1e3:.0f} ms to read a second question")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=PROJECT_ROOT / "index" / "default")
    args = parser.parse_args()
    print(describe_machine())
    score(Engine(Settings(index_dir=args.index)), CORPUS_CASES, f"bundled corpus ({args.index})")
    small = Path("/tmp") / "rag-followups-small-index"
    ingest([PROJECT_ROOT / "tests" / "data" / "docs"], Settings(index_dir=small), small)
    score(Engine(Settings(index_dir=small)), SMALL_CASES, "tests/data")
    print(describe_machine())


if __name__ == "__main__":
    main()
