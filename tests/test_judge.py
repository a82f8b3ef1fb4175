"""The learned claim judge's recipe: its hand-written training data, its seeded triples and its cache key."""

from __future__ import annotations

import json

import pytest

import rag.judge as judge_module
from rag.judge import LABELS, Recipe, judge_inputs, judge_key, read_groups, training_triples
from rag.settings import PROJECT_ROOT
from rag.text import normalize
from tests.conftest import CORPUS, EVAL_FILE


def test_training_groups_are_well_formed_and_claims_unique():
    groups = read_groups()
    assert len(groups) >= 80
    claims = [c for g in groups for label in LABELS for c in g.get(label, [])]
    assert len(claims) >= 700
    assert len(set(claims)) == len(claims)
    for g in groups:
        assert set(g) <= {"topic", "premise", *LABELS}, g["premise"]
        assert all(g.get(label) for label in LABELS), g["premise"]


def test_training_data_shares_no_text_with_the_corpus_the_eval_set_or_the_heldout_split():
    """Eight consecutive words of a training premise or claim never occur in a bundled corpus document, the
    dev eval set or the held-out split (which measures the judge on documents it was not trained on)."""
    heldout = PROJECT_ROOT / "training" / "heldout"
    files = [*CORPUS.glob("*.txt"), *(p for p in heldout.glob("*") if p.name != "catalog.toml"), EVAL_FILE]
    seen = " ".join(normalize(p.read_text(encoding="utf-8", errors="replace")).lower() for p in files if p.exists())
    for g in read_groups():
        for text in [g["premise"], *(c for label in LABELS for c in g[label])]:
            words = normalize(text).lower().split()
            for i in range(max(1, len(words) - 7)):
                assert " ".join(words[i : i + 8]) not in seen, text


def test_training_triples_are_seeded_and_add_neutral_pairs():
    groups = read_groups()
    a = training_triples(groups, Recipe(seed=1))
    assert a == training_triples(groups, Recipe(seed=1))
    assert a != training_triples(groups, Recipe(seed=2))
    written = sum(len(g[label]) for g in groups for label in LABELS)
    assert len(a) == written + len(groups)  # one foreign neutral per premise
    assert len(training_triples(groups, Recipe(foreign_neutrals=0))) == written


def test_cache_key_follows_the_training_data_and_recipe(tmp_path, monkeypatch):
    base = judge_inputs(Recipe())
    assert judge_inputs(Recipe(seed=1)) != base
    changed = tmp_path / "pairs.jsonl"
    groups = read_groups()
    changed.write_text("".join(json.dumps(g) + "\n" for g in groups[:-1]), encoding="utf-8")
    monkeypatch.setattr(judge_module, "PAIRS_FILE", changed)
    assert judge_inputs(Recipe())["training"] != base["training"]


def test_a_judge_from_other_inputs_is_refused(tmp_path, monkeypatch):
    from rag.errors import ModelMissing

    recipe = Recipe()
    inputs = judge_inputs(recipe)
    stale = tmp_path / f"claim-judge-{judge_key(inputs)}"
    stale.mkdir()
    (stale / "judge.json").write_text(json.dumps({"inputs": {**inputs, "version": -1}}))
    with pytest.raises(ModelMissing, match="other inputs"):
        judge_module.judge_dir(recipe, cache=tmp_path)
