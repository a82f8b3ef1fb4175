"""How well the contradiction model (rag.contradiction) tells a refuted claim from a supported one, given the
evidence: area under the ROC curve of P(contradiction), refuted against supported, on our own hand-written data
(training/claims/pairs.jsonl: each premise with its supported and refuted claims) and on the claims of
training/train and training/heldout with their gold evidence as premise; then the time a pair takes.

.venv/bin/python benchmarks/contradiction.py
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import describe_machine

from rag.contradiction import shared_model
from rag.evaluation import load_items
from rag.settings import PROJECT_ROOT

TRAINING = PROJECT_ROOT / "training"


def pairs_from_groups() -> list[tuple[str, str, bool]]:
    """(premise, claim, refuted) from training/claims/pairs.jsonl."""
    out = []
    for line in (TRAINING / "claims" / "pairs.jsonl").read_text(encoding="utf-8").splitlines():
        group = json.loads(line)
        out += [(group["premise"], c, label == "refuted") for label in ("supported", "refuted") for c in group[label]]
    return out


def pairs_from_items(folder: str) -> list[tuple[str, str, bool]]:
    """(gold evidence, claim, refuted) for the supported and refuted claims of training/<folder>/items.jsonl."""
    items = load_items(TRAINING / folder / "items.jsonl", "claim")
    return [(" ".join(e["quote"] for e in it["evidence"]), it["claim"], it["label"] == "refuted")
            for it in items if it["label"] != "not_in_corpus"]


def main() -> None:
    from sklearn.metrics import roc_auc_score

    print(describe_machine())
    model = shared_model()
    print(f"{'data':<28}{'supported':>10}{'refuted':>9}{'AUC':>7}")
    timings = []
    for name, pairs in (("training/claims/pairs.jsonl", pairs_from_groups()), ("training/train claims", pairs_from_items("train")),
                        ("training/heldout claims", pairs_from_items("heldout"))):
        t0 = time.perf_counter()
        p = np.array([model.probabilities([premise], claim)[0] for premise, claim, _ in pairs])
        timings.append((time.perf_counter() - t0) / len(pairs))
        refuted = np.array([r for _, _, r in pairs])
        print(f"{name:<28}{int((~refuted).sum()):>10}{int(refuted.sum()):>9}{roc_auc_score(refuted, p):>7.3f}")
    print(f"one pair: {1e3 * float(np.median(timings)):.0f} ms")


if __name__ == "__main__":
    main()
