"""`rag ingest` and `rag remove`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from rag.cli import add_index_option
from rag.ingest import IngestReport, ingest


def register(sub) -> None:
    p = sub.add_parser("ingest", help="add, update or remove documents in the index")
    p.add_argument("paths", nargs="+", type=Path, help="files or folders (.txt, .md, .html, .pdf)")
    add_index_option(p)
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index and build from scratch")
    p.add_argument("--adapt", action="store_true",
                   help="adapt the embedding model to these documents first (self-supervised; minutes of CPU), "
                        "unless the index's model was already adapted to exactly these files")
    p.add_argument("--keep-missing", action="store_true", help="keep documents whose files are gone from these folders")
    p.add_argument("--ray", metavar="ADDRESS", help="read, chunk and embed on Ray Data: `local` starts Ray here, otherwise "
                   "the address of a Ray cluster (needs the scale extra)")
    p.set_defaults(func=run_ingest)


def run_ingest(args: argparse.Namespace, settings) -> int:
    bar = tqdm(total=0, unit="file", file=sys.stderr)

    def progress(stage: str, done: int, total: int) -> None:
        bar.unit = "step" if stage.startswith("adapting") else "passage" if stage == "embedding" else "file"
        bar.total = total
        bar.n = done
        bar.set_description(stage[:40])
        bar.refresh()

    try:
        report = ingest(args.paths, settings, settings.index_dir, rebuild=args.rebuild, progress=progress,
                        remove_missing=not args.keep_missing, adapt=args.adapt, ray=args.ray)
    finally:
        bar.close()  # before an error's line, so that line is the last
    print(format_report(report, settings.index_dir))
    return 1 if report.failed else 0


def format_report(report: IngestReport, index_dir: Path) -> str:
    """The closing summary of an ingest."""
    adapting = f", adapting the model {report.timings['adapt']:.1f} s" if "adapt" in report.timings else ""
    lines = [f"index: {index_dir}",
             (f"files: {report.files} in index ({len(report.indexed)} indexed, {len(report.unchanged)} unchanged, "
              f"{len(report.removed)} removed, {len(report.skipped)} skipped)"),
             f"passages: {report.passages} ({report.embedded} embedded)",
             (f"time: {report.seconds:.1f} s (cleaning {report.timings['clean']:.1f} s, embedding "
              f"{report.timings['embed']:.1f} s, indexing {report.timings['index']:.1f} s{adapting})")]
    if not report.changed:
        lines.append("nothing changed; the index was left as it was")
    for name, note in report.notes:
        lines.append(f"note: {name}: {note}")
    for path, reason in report.skipped:
        lines.append(f"skipped: {path}: {reason}")
    for name in report.removed:
        lines.append(f"removed: {name}")
    return "\n".join(lines)
