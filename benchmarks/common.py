"""Helpers shared by the benchmark scripts: machine description, percentiles, a core burner, score tables."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# The scripts run as `python benchmarks/x.py`; make the project importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.evaluation import cross_doc_coverage, format_scores, retrieval_scores


def busy_processes(min_percent: float = 10.0, sample_s: float = 1.0) -> list[tuple[int, float, str]]:
    """Other processes using at least `min_percent` of a core over a short sample: (pid, percent, command)."""
    import psutil

    me = os.getpid()
    procs = [p for p in psutil.process_iter(["pid"]) if p.pid != me]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    busy = []
    for p in procs:
        try:
            percent = p.cpu_percent(None)
            if percent >= min_percent:
                busy.append((p.pid, percent, " ".join(" ".join(p.cmdline()).split())[:100] or p.name()))
        except psutil.Error:
            continue
    return sorted(busy, key=lambda b: -b[1])


def describe_machine() -> str:
    """Cores, load average and the other busy processes right now: the context every figure needs."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [f"machine: {os.cpu_count()} cores, load average {load} (1/5/15 min)"]
    busy = busy_processes()
    lines += [f"  also running: pid {pid} at {percent:.0f}% of a core: {cmd}" for pid, percent, cmd in busy]
    if not busy:
        lines.append("  no other process above 10% of a core")
    return "\n".join(lines)


def p50_p95(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile."""
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def _spin() -> None:
    while True:
        pass


@contextmanager
def one_core_burning():
    """Run a busy loop in a second process for the duration of the block, then stop it."""
    burner = multiprocessing.Process(target=_spin, daemon=True)
    burner.start()
    time.sleep(0.5)  # let it get scheduled before measuring
    try:
        yield burner.pid
    finally:
        burner.terminate()
        burner.join()


def score_report(items: list[dict], ranked_by_id: dict[str, list[dict]]) -> tuple[dict, tuple[int, int], str]:
    """Retrieval scores, cross-doc coverage, and both printed as the `rag eval retrieval` table."""
    scores = retrieval_scores(items, ranked_by_id)
    coverage = cross_doc_coverage(items, ranked_by_id)
    text = (
        format_scores(scores)
        + f"\ncross-doc questions with evidence from every gold document in the top 10: {coverage[0]}/{coverage[1]}"
    )
    return scores, coverage, text


def latency_table(title: str, timings: dict[str, list[float]], what: str, target_ms: float) -> str:
    """p50/p95 per stage (ms), and whether the total's p50 is under the target."""
    lines = [f"{title} ({len(timings['total'])} {what})", f"{'stage':<10}{'p50 ms':>9}{'p95 ms':>9}"]
    for stage, values in timings.items():
        p50, p95 = p50_p95(values)
        lines.append(f"{stage:<10}{p50:>9.2f}{p95:>9.2f}")
    p50 = p50_p95(timings["total"])[0]
    lines.append(f"total p50 {p50:.1f} ms: {'within' if p50 < target_ms else 'OVER'} the {target_ms:.0f} ms target")
    return "\n".join(lines)


def engine_and_questions(description: str, default_rounds: int):
    """Parse --eval/--index/--rounds, then load the engine and the eval file's questions."""
    import argparse

    from rag.api import Engine
    from rag.evaluation import DEFAULT_EVAL, load_items
    from rag.settings import Settings

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    parser.add_argument("--index", type=Path, help="index folder (default: index/default)")
    parser.add_argument("--rounds", type=int, default=default_rounds, help="measured rounds over the questions, after one warm-up round")
    args = parser.parse_args()
    settings = Settings()
    if args.index:
        settings.index_dir = args.index
    questions = [i["question"] for i in load_items(args.eval_file, "question")]
    return Engine(settings), questions, args.rounds


def print_quiet_and_busy(measure, what: str, target_ms: float) -> None:
    """Run `measure()` as the machine is, then again with a second process burning a core; print both tables."""
    print(latency_table("without the burner", measure(), what, target_ms))
    with one_core_burning() as pid:
        print(f"\nburning one core in pid {pid}")
        print(latency_table("one core busy", measure(), what, target_ms))


def index_size(index_dir: Path) -> str:
    """Size on disk of an index's current generation, in all and by part, in MB."""
    from rag.store import current_generation

    generation = current_generation(Path(index_dir))
    parts: dict[str, int] = {}
    for path in generation.rglob("*"):
        if path.is_file():
            part = path.relative_to(generation).parts[0]
            parts[part] = parts.get(part, 0) + path.stat().st_size
    shown = ", ".join(f"{name} {size / 2**20:.1f}" for name, size in sorted(parts.items(), key=lambda kv: -kv[1]))
    return f"{sum(parts.values()) / 2**20:.1f} MB ({shown})"
