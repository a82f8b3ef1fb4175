"""Our hand-written training data (training/): well formed, and sharing no text with the corpus or the eval sets."""

from __future__ import annotations

import json

from rag.settings import PROJECT_ROOT
from rag.text import normalize
from tests.conftest import CORPUS, EVAL_FILE

PAIRS_FILE = PROJECT_ROOT / "training" / "claims" / "pairs.jsonl"
LABELS = ("supported", "refuted", "not_in_corpus")


def read_groups() -> list[dict]:
    return [json.loads(line) for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_claim_pairs_are_well_formed_and_unique():
    groups = read_groups()
    assert len(groups) >= 80
    claims = [c for g in groups for label in LABELS for c in g.get(label, [])]
    assert len(claims) >= 700
    assert len(set(claims)) == len(claims)
    for g in groups:
        assert set(g) <= {"topic", "premise", *LABELS}, g["premise"]
        assert all(g.get(label) for label in LABELS), g["premise"]


def test_claim_pairs_share_no_text_with_the_corpus_the_eval_set_or_the_heldout_split():
    """Eight consecutive words of a premise or claim never occur in a bundled corpus document, the dev eval set or
    the held-out split."""
    heldout = PROJECT_ROOT / "training" / "heldout"
    files = [*CORPUS.glob("*.txt"), *(p for p in heldout.glob("*") if p.name != "catalog.toml"), EVAL_FILE]
    seen = " ".join(normalize(p.read_text(encoding="utf-8", errors="replace")).lower() for p in files if p.exists())
    for g in read_groups():
        for text in [g["premise"], *(c for label in LABELS for c in g[label])]:
            words = normalize(text).lower().split()
            for i in range(max(1, len(words) - 7)):
                assert " ".join(words[i : i + 8]) not in seen, text
