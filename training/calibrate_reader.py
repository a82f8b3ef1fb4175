"""Calibrate the read mode's abstention threshold on our own training questions (never on eval data).

For every question of an items file (dev.jsonl format) over a folder of documents, the answer's evidence
is the reading model's best gain (rag.reader: log-likelihood per question token, with the best candidate
sentence against with an empty passage). The threshold is the gain that best separates answerable from
unanswerable questions (Youden's J: abstention on unanswerable plus answering on answerable); it is
written to rag/calibration.json, which the settings read.

    .venv/bin/python training/calibrate_reader.py [--docs training/train] [--items training/train/items.jsonl]
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
from rag.chain import make_generator, standalone_question
from rag.evaluation import load_items
from rag.ingest import ingest
from rag.settings import CALIBRATION_FILE, Settings


def best_gains(engine: Engine, items: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(best gain, answerable?) per question, as the read mode computes them."""
    settings = engine.settings
    generator = make_generator(engine, settings)
    gains, answerable = [], []
    for item in items:
        question = standalone_question(item["question"], [])
        passages = engine.search(question, settings.retrieval.k)[: settings.answer.passages_in_prompt]
        _, evidence = generator.select(question, passages)
        gains.append(evidence)
        answerable.append(bool(item.get("evidence")))
    return np.array(gains), np.array(answerable)


def youden_threshold(gains: np.ndarray, answerable: np.ndarray) -> tuple[float, float, float]:
    """The threshold maximizing abstention on unanswerable + answering on answerable, and those two rates."""
    candidates = np.unique(np.concatenate([gains, [gains.min() - 1]]))
    best = max(candidates, key=lambda t: (gains[~answerable] < t).mean() + (gains[answerable] >= t).mean())
    # midway to the next gain above it: the separating threshold, not a point on one question
    above = gains[gains > best]
    threshold = float((best + above.min()) / 2) if above.size and best > gains.min() else float(best)
    return threshold, float((gains[~answerable] < threshold).mean()), float((gains[answerable] < threshold).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "training" / "train")
    parser.add_argument("--items", type=Path, default=None)
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True, help="write rag/calibration.json")
    args = parser.parse_args()
    items = load_items(args.items or args.docs / "items.jsonl", "question")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp))
        settings.answer.mode = "read"
        report = ingest([args.docs], settings, Path(tmp))
        if report.skipped:
            raise SystemExit(f"could not index {report.skipped}")
        gains, answerable = best_gains(Engine(settings), items)
    threshold, abstention, wrong = youden_threshold(gains, answerable)
    print(f"{answerable.sum()} answerable, {(~answerable).sum()} unanswerable questions from {args.docs}")
    for t in sorted({round(threshold, 2), *np.round(np.linspace(gains.min(), gains.max(), 9), 2)}):
        print(f"  threshold {t:+.2f}: abstention {(gains[~answerable] < t).mean():.2f}, "
              f"wrong abstention {(gains[answerable] < t).mean():.2f}")
    print(f"chosen {threshold:+.3f}: abstention {abstention:.2f}, wrong abstention {wrong:.2f}")
    if args.write:
        data = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.exists() else {}
        data["read_abstain_threshold"] = {"value": round(threshold, 4), "abstention": round(abstention, 3),
                                          "wrong_abstention": round(wrong, 3), "questions": len(items),
                                          "source": f"training/calibrate_reader.py on {args.docs.relative_to(ROOT)}"}
        CALIBRATION_FILE.write_text(json.dumps(data, indent=1) + "\n")
        print(f"written to {CALIBRATION_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
