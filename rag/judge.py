"""The learned claim judge: does a source text support a claim, contradict it, or not say?

A cross-encoder (all-MiniLM-L6-v2's weights with a 3-way head) reads "premise [SEP] claim" and gives
the probabilities of `supported`, `refuted` and `not_in_corpus`. It is trained on premise / claim
triples written by hand for this project on texts *other* than any indexed collection
(training/claims/pairs.jsonl: faithful paraphrases, reversals inside paraphrases, negations, wrong
numbers, dates, actors and places, related but unverifiable statements). The claims of
training/train/items.jsonl are kept out of it: they fit the decision layer of rag/claims.py on retrieved
evidence (training/fit_claims.py), which needs a judge that has not seen them. Nothing here depends on the
indexed documents, so one trained judge serves every index.

The judge is trained on first use (a few minutes on 2 cores, seeded) and cached by the hash of what
made it: the training files, the seed, the recipe version and the base weights. Its folder holds a
manifest of those inputs, checked when it loads; changing any of them trains a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.embed import bundled_model_path, default_cache_dir
from rag.errors import ModelMissing
from rag.settings import PROJECT_ROOT

LABELS = ("supported", "refuted", "not_in_corpus")
TRAINING_DIR = PROJECT_ROOT / "training"
PAIRS_FILE = TRAINING_DIR / "claims" / "pairs.jsonl"
RECIPE_VERSION = 2  # bump when the recipe below changes, so cached judges are trained again
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Recipe:
    """How the judge is trained; every field is part of the cache key."""

    seed: int = 0
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 4e-5
    warmup_share: float = 0.1
    max_tokens: int = 160
    context_share: float = 0.3  # premises that get an unrelated neighbouring sentence, as retrieved pairs do
    foreign_neutrals: int = 1  # per premise: one of its claims paired with another topic's premise


@dataclass(frozen=True)
class Triple:
    premise: str
    claim: str
    label: str


# ---------------------------------------------------------------- training data


def read_groups(path: Path | None = None) -> list[dict]:
    """The hand-written groups: one premise with its supported, refuted and not_in_corpus claims."""
    lines = (path or PAIRS_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def training_triples(groups: list[dict], recipe: Recipe) -> list[Triple]:
    """Every written pair, plus seeded variants: unrelated context around some premises, and claims
    paired with another group's premise as `not_in_corpus`."""
    rng = random.Random(recipe.seed)
    premises = [g["premise"] for g in groups]
    out: list[Triple] = []
    for i, group in enumerate(groups):
        for label in LABELS:
            for claim in group.get(label, []):
                premise = group["premise"]
                if rng.random() < recipe.context_share:
                    other = rng.choice(premises[:i] + premises[i + 1 :])
                    premise = f"{premise} {other}" if rng.random() < 0.5 else f"{other} {premise}"
                out.append(Triple(premise, claim, label))
        claims = [c for label in LABELS for c in group.get(label, [])]
        for _ in range(recipe.foreign_neutrals):
            out.append(Triple(rng.choice(premises[:i] + premises[i + 1 :]), rng.choice(claims), "not_in_corpus"))
    rng.shuffle(out)
    return out


def training_inputs() -> list[Path]:
    """The files the judge is trained from."""
    return [PAIRS_FILE]


# ---------------------------------------------------------------- training


def length_batches(triples: list[Triple], size: int, rng: random.Random) -> list[list[Triple]]:
    """Batches in random order, each of triples of similar length (little padding to compute)."""
    shuffled = rng.sample(triples, len(triples))
    window = size * 8
    batches = []
    for i in range(0, len(shuffled), window):
        chunk = sorted(shuffled[i : i + window], key=lambda t: len(t.premise) + len(t.claim))
        batches += [chunk[j : j + size] for j in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def train_judge(out_dir: Path, recipe: Recipe, triples: list[Triple], threads: int = 0,
                progress: Progress | None = None) -> dict:
    """Fine-tune the bundled MiniLM with a 3-way head on the triples; save model and tokenizer to out_dir."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    began = time.perf_counter()
    torch.manual_seed(recipe.seed)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    base = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=len(LABELS), local_files_only=True,
        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
    per_epoch = -(-len(triples) // recipe.batch_size)
    steps = per_epoch * recipe.epochs
    warmup = max(1, int(steps * recipe.warmup_share))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    rng = random.Random(recipe.seed)
    losses = []
    model.train()
    try:
        for _ in range(recipe.epochs):
            for batch in length_batches(triples, recipe.batch_size, rng):
                encoded = tokenizer([t.premise for t in batch], [t.claim for t in batch], truncation="only_first",
                                    max_length=recipe.max_tokens, padding=True, return_tensors="pt")
                labels = torch.tensor([LABELS.index(t.label) for t in batch])
                loss = model(**encoded, labels=labels).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
                if progress:
                    progress("training the claim judge", len(losses), steps)
    finally:
        torch.set_num_threads(previous_threads)
    model.eval()
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    tail = losses[-20:]
    return {"triples": len(triples), "steps": steps, "final_loss": round(sum(tail) / len(tail), 4),
            "seconds": round(time.perf_counter() - began, 1)}


def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for path in paths:
        with open(path, "rb") as f:
            out[path.name] = hashlib.file_digest(f, "sha256").hexdigest()
    return out


def judge_inputs(recipe: Recipe) -> dict:
    """What the trained judge depends on: training files (by content), recipe, version, base weights."""
    with open(bundled_model_path() / "model.safetensors", "rb") as f:
        base = hashlib.file_digest(f, "sha256").hexdigest()
    return {"training": _digest(training_inputs()), "recipe": recipe.__dict__, "version": RECIPE_VERSION, "base": base}


def judge_key(inputs: dict) -> str:
    """A short hash of the judge's inputs: the name of its cache folder."""
    return hashlib.sha1(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


_train_lock = threading.Lock()


def judge_dir(recipe: Recipe | None = None, cache: Path | None = None) -> Path:
    """The folder of the judge for these inputs, trained into the cache first if it is not there."""
    recipe = recipe or Recipe()
    inputs = judge_inputs(recipe)
    cache = cache or default_cache_dir()
    target = cache / f"claim-judge-{judge_key(inputs)}"
    with _train_lock:
        if not (target / "judge.json").exists():
            cache.mkdir(parents=True, exist_ok=True)
            triples = training_triples(read_groups(), recipe)
            tmp = Path(tempfile.mkdtemp(dir=cache))
            try:
                report = train_judge(tmp, recipe, triples)
                (tmp / "judge.json").write_text(json.dumps({"inputs": inputs, "training": report}, indent=1))
                with contextlib.suppress(OSError):  # another process finished first: keep its copy
                    os.rename(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    manifest = json.loads((target / "judge.json").read_text())
    if manifest["inputs"] != inputs:
        raise ModelMissing(f"the claim judge at {target} was trained from other inputs; delete it to retrain")
    return target


# ---------------------------------------------------------------- scoring


class ClaimJudge:
    """Probabilities of supported / refuted / not_in_corpus for (premise, claim) pairs."""

    def __init__(self, model_dir: Path | None = None, threads: int = 2):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.dir = Path(model_dir) if model_dir else judge_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.dir), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(self.dir), local_files_only=True).eval()
        self.threads = threads
        self.max_tokens = Recipe().max_tokens
        self._lock = threading.Lock()

    def probabilities(self, premises: list[str], claim: str) -> np.ndarray:
        """(len(premises), 3) probabilities of one claim against each premise, columns in LABELS order."""
        return self.pair_probabilities(premises, [claim] * len(premises))

    def pair_probabilities(self, premises: list[str], claims: list[str]) -> np.ndarray:
        """(n, 3) probabilities of claims[i] against premises[i]."""
        import torch

        if not premises:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        encoded = self.tokenizer(premises, claims, truncation="only_first", max_length=self.max_tokens,
                                 padding=True, return_tensors="pt")
        with self._lock, torch.inference_mode():  # torch's thread count is process-wide
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                logits = self.model(**encoded).logits
            finally:
                torch.set_num_threads(previous)
        return torch.softmax(logits, dim=-1).numpy()


@lru_cache(maxsize=1)
def shared_judge() -> ClaimJudge:
    """One judge per process, shared by every request."""
    return ClaimJudge()
