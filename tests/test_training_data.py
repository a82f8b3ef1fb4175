"""Our hand-written training data (training/): well formed, and sharing no text with the corpus or the eval sets."""

from __future__ import annotations

import functools
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


@functools.cache
def _texts_seen_by_the_evaluation() -> str:
    """The bundled corpus, the dev eval set and the held-out split, normalized and lower-cased."""
    heldout = PROJECT_ROOT / "training" / "heldout"
    files = [*CORPUS.glob("*.txt"), *(p for p in heldout.glob("*") if p.name != "catalog.toml"), EVAL_FILE]
    return " ".join(normalize(p.read_text(encoding="utf-8", errors="replace")).lower() for p in files if p.exists())


def _shares_eight_words(text: str, seen: str) -> bool:
    """True if eight consecutive words of the text (all of it, if shorter) occur in `seen`."""
    words = normalize(text).lower().split()
    return any(" ".join(words[i : i + 8]) in seen for i in range(max(1, len(words) - 7)))


def test_claim_pairs_share_no_text_with_the_corpus_the_eval_set_or_the_heldout_split():
    """Eight consecutive words of a premise or claim never occur in a bundled corpus document, the dev eval set or
    the held-out split."""
    seen = _texts_seen_by_the_evaluation()
    for g in read_groups():
        for text in [g["premise"], *(c for label in LABELS for c in g[label])]:
            assert not _shares_eight_words(text, seen), text


def test_the_held_out_claim_split_shares_no_text_with_the_corpus_the_eval_set_or_the_heldout_split():
    """training/heldout_claims (documents and claims, measuring the claim judge) is our own writing: no eight
    consecutive words of it occur in a bundled corpus document, the dev eval set or the held-out split."""
    seen = _texts_seen_by_the_evaluation()
    folder = PROJECT_ROOT / "training" / "heldout_claims"
    documents = [p for p in folder.iterdir() if p.suffix in {".txt", ".md", ".html"}]
    assert len(documents) >= 6
    for path in documents:
        # a paragraph of fewer than eight words (a note number, a running head) is no text that could have been copied
        for paragraph in (p for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 8):
            assert not _shares_eight_words(paragraph, seen), f"{path.name}: {paragraph[:80]}"
    items = [json.loads(line) for line in (folder / "items.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {i["label"] for i in items} == set(LABELS) and len(items) >= 100
    for item in items:
        assert not _shares_eight_words(item["claim"], seen), item["id"]
