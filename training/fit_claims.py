"""Fit the claim verdict's decision model on our own training claims (never on eval data or the bundled corpus).

Every claim of training/train/items.jsonl is judged as `rag verify` judges it: evidence retrieved from an index
of training/train's documents, cut into sentences aligned with the claim, and rag.claims.DECISION_FEATURES
computed over the best-aligned ones (coverage of the claim's words and numbers, conflicting numbers, dates,
trends and negations, cosine and alignment, and the contradiction model's log-odds, rag.contradiction). A multinomial logistic regression learns the verdict from them.
Its `support_min` is the lowest P(supported) at which, in leave-one-out predictions on those claims, at most
MAX_WRONG_SUPPORT of the claims that are not supported would be called supported, the most accurate such
floor: a false "supported" is the costliest error. The model, with the hashes of its inputs, is written to
rag/claim_model.json, which rag.claims reads.

    .venv/bin/python training/fit_claims.py [--check training/heldout]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.api import Engine
from rag.claims import DECISION_FEATURES, MODEL_FILE, VERDICTS, decision_features, gather
from rag.contradiction import PACKAGE as CONTRADICTION_PACKAGE
from rag.evaluation import load_items
from rag.ingest import ingest
from rag.settings import Settings

C = 3.0  # inverse L2 strength of the logistic regression
MAX_WRONG_SUPPORT = 0.05  # share of not-supported train claims that may be called supported (leave-one-out)
TRAIN_DOCS = ROOT / "training" / "train"


def fit_inputs(docs: Path = TRAIN_DOCS) -> dict[str, str]:
    """sha256 of every file the fit reads (the train split's documents and items), and the version of the
    contradiction model whose scores it weighs."""
    files = sorted(p for p in docs.iterdir() if p.is_file())
    inputs = {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    return inputs | {CONTRADICTION_PACKAGE: importlib.metadata.version(CONTRADICTION_PACKAGE)}


def logistic(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=5000).fit(x, y)


def claim_rows(docs: Path) -> tuple[np.ndarray, np.ndarray]:
    """DECISION_FEATURES and label index of every claim of docs/items.jsonl, judged against an index of docs."""
    items = load_items(docs / "items.jsonl", "claim")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp))
        ingest([docs], settings, Path(tmp))
        engine = Engine(settings)
        x = []
        for item in items:
            core, _, units = gather(engine, item["claim"])
            x.append(decision_features(core, units) if units else np.zeros(len(DECISION_FEATURES)))
    return np.array(x), np.array([VERDICTS.index(item["label"]) for item in items])


def verdicts(p: np.ndarray, support_min: float) -> np.ndarray:
    """Verdict index per row of decision probabilities, as rag.claims decides."""
    out = np.where(p.argmax(1) == 1, 1, 2)
    return np.where((p.argmax(1) == 0) & (p[:, 0] >= support_min), 0, out)


def support_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The P(supported) floor that keeps wrong "supported" within MAX_WRONG_SUPPORT and, within that, is most accurate."""
    best = (-1.0, 1.0)
    for t in sorted({0.0, *np.round(p[:, 0], 4).tolist()}):
        v = verdicts(p, t)
        wrong = np.mean(v[y != 0] == 0)
        if wrong <= MAX_WRONG_SUPPORT and (acc := float(np.mean(v == y))) > best[0]:
            best = (acc, t)
    return best[1]


def leave_one_out(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros((len(y), len(VERDICTS)))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        out[i] = logistic(x[keep], y[keep]).predict_proba(x[i : i + 1])[0]
    return out


def report(name: str, v: np.ndarray, y: np.ndarray) -> str:
    return (f"{name}: accuracy {np.mean(v == y):.3f}, not-supported claims called supported "
            f"{int(np.sum((v == 0) & (y != 0)))}/{int(np.sum(y != 0))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", type=Path, help="a folder like training/heldout to measure the fitted model on")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True, help="write rag/claim_model.json")
    args = parser.parse_args()

    x, y = claim_rows(TRAIN_DOCS)
    held = leave_one_out(x, y)
    support_min = support_threshold(held, y)
    fitted = logistic(x, y)
    print(f"decision model: {len(y)} train claims, support_min {support_min:.3f}")
    for label, w in zip(VERDICTS, fitted.coef_):
        print(f"  {label:<14}" + " ".join(f"{n} {v:+.2f}" for n, v in zip(DECISION_FEATURES, w)))
    print("  " + report("leave-one-out", verdicts(held, support_min), y))
    if args.check:
        xc, yc = claim_rows(args.check)
        print("  " + report(args.check.name, verdicts(fitted.predict_proba(xc), support_min), yc))
    if args.write:
        model = {"features": list(DECISION_FEATURES), "coef": np.round(fitted.coef_, 5).tolist(),
                 "intercept": np.round(fitted.intercept_, 5).tolist(), "support_min": round(support_min, 4),
                 "inputs": fit_inputs(), "fitted_by": "training/fit_claims.py"}
        MODEL_FILE.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
