"""Fit the read mode's answerability model on our own training questions (never on eval data).

For every question of an items file (dev.jsonl format) over a folder of documents, the read mode computes
its reading features (rag.extractive.ExtractiveGenerator.read: the best sentence's gain in question
likelihood, the weakest part's, cosine, coverage of the question's words, retrieval similarity). A logistic
regression (balanced classes, standardized features) learns from them whether the documents answer; it is
written to rag/calibration.json, which rag.extractive.answerability reads.

    .venv/bin/python training/calibrate_reader.py [--docs training/train] [--check training/heldout]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.api import Engine
from rag.chain import make_generator
from rag.evaluation import load_items
from rag.ingest import ingest
from rag.settings import CALIBRATION_FILE, Settings

SEED = 0
MAX_WRONG_ABSTENTION = 0.08  # share of answerable questions the model may decline, on held-out folds


def reading_features(docs: Path, items_file: Path, saved: Path | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(feature names, features per question, answerable per question) for the questions about `docs`;
    read from `saved` if it exists (a previous run's), else computed and written there."""
    if saved is not None and saved.exists():
        rows, answerable = json.loads(saved.read_text())
        names = sorted(rows[0])
        return names, np.array([[r.get(n, 0.0) for n in names] for r in rows]), np.array(answerable)
    items = load_items(items_file, "question")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp))
        settings.answer.mode = "read"
        report = ingest([docs], settings, Path(tmp))
        if report.skipped and any(not p.endswith(".jsonl") for p, _ in report.skipped):
            raise SystemExit(f"could not index {report.skipped}")
        engine = Engine(settings)
        generator = make_generator(engine, settings)
        rows, answerable = [], []
        for item in items:
            passages = engine.search(item["question"])[: settings.answer.passages_in_prompt]
            _, features = generator.read(item["question"], passages)
            rows.append(features)
            answerable.append(bool(item.get("evidence")))
            print(f"  {item['id']}: " + ", ".join(f"{k} {v:+.2f}" for k, v in features.items()), flush=True)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps([rows, answerable]))
    names = sorted(rows[0])
    return names, np.array([[r.get(n, 0.0) for n in names] for r in rows]), np.array(answerable)


def rates(probability: np.ndarray, answerable: np.ndarray, threshold: float) -> str:
    says_no = probability < threshold
    return f"abstention {says_no[~answerable].mean():.2f}, wrong abstention {says_no[answerable].mean():.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "training" / "train")
    parser.add_argument("--check", type=Path, help="a held-out folder (with items.jsonl) to report on, not fitted")
    parser.add_argument("--features", type=Path, help="folder to keep the computed features in, to refit without reading again")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True, help="write rag/calibration.json")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    saved = (args.features / f"{args.docs.name}.json") if args.features else None
    names, x, y = reading_features(args.docs, args.docs / "items.jsonl", saved)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    fit = LogisticRegression(class_weight="balanced", random_state=SEED).fit(z, y)
    # the decision threshold: answering questions matters more than declining near misses, so decline only below
    # the probability that keeps wrong abstention within MAX_WRONG_ABSTENTION, judged on held-out folds
    folds = cross_val_predict(LogisticRegression(class_weight="balanced", random_state=SEED), z, y,
                              cv=StratifiedKFold(5, shuffle=True, random_state=SEED), method="predict_proba")[:, 1]
    threshold = min(0.5, float(np.quantile(folds[y], MAX_WRONG_ABSTENTION)))
    print(f"cross-validated on {args.docs}: {rates(folds, y, threshold)} at threshold {threshold:.3f}")
    model = {"weights": dict(zip(names, fit.coef_[0].round(4).tolist())), "bias": round(float(fit.intercept_[0]), 4),
             "threshold": round(threshold, 4),
             "mean": dict(zip(names, mean.round(4).tolist())), "scale": dict(zip(names, scale.round(4).tolist())),
             "source": f"training/calibrate_reader.py on {args.docs.name}: {y.sum()} answerable, "
                       f"{(~y).sum()} unanswerable questions"}
    print(f"weights {model['weights']}")
    if args.check:
        held = (args.features / f"{args.check.name}.json") if args.features else None
        _, hx, hy = reading_features(args.check, args.check / "items.jsonl", held)
        print(f"held out {args.check}: {rates(fit.predict_proba((hx - mean) / scale)[:, 1], hy, threshold)}")
    if args.write:
        data = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.exists() else {}
        data["answerability"] = model
        CALIBRATION_FILE.write_text(json.dumps(data, indent=1) + "\n")
        print(f"written to {CALIBRATION_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
