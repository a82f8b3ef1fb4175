"""Cold ingest of the bundled corpus into a temp index, split by stage, then a no-op re-ingest.

Each run is a fresh process (imports and model loading count, as for `rag ingest`); model loading
falls in "cleaning", where ingest first needs the tokenizer. The one-off ONNX export (first use of
the model on a machine) is done and timed beforehand, apart from the runs.

    .venv/bin/python benchmarks/ingest.py [--repeat 3] [--backend onnx|torch] [--threads N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import describe_machine, index_size

ROOT = Path(__file__).resolve().parent.parent


def child(index_dir: str) -> None:
    """Run one ingest in this process and print its report as JSON."""
    from rag.ingest import ingest
    from rag.settings import Settings

    settings = Settings(index_dir=Path(index_dir))
    report = ingest([settings.corpus_dir], settings, settings.index_dir)
    print(json.dumps({"size": index_size(settings.index_dir), "seconds": report.seconds, "timings": report.timings, "passages": report.passages,
                      "embedded": report.embedded, "changed": report.changed, "skipped": report.skipped}))


def run_child(index_dir: Path, env: dict) -> dict:
    """One ingest in a fresh process, timed from process start to exit, with the CPU it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", str(index_dir)], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"ingest failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["startup"] = wall - result["seconds"]  # interpreter start, imports, exit
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="cold ingests to run (the median is reported)")
    parser.add_argument("--backend", choices=["onnx", "torch"], help="embedding backend (default: the settings')")
    parser.add_argument("--threads", type=int, help="ingest threads (default: the settings', 0 = all cores)")
    parser.add_argument("--batch-size", type=int, help="texts per embedding batch (default: the settings')")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)

    env = dict(os.environ)
    for option, name in ((args.backend, "BACKEND"), (args.threads, "INGEST_THREADS"), (args.batch_size, "BATCH_SIZE")):
        if option is not None:
            env[f"RAG_EMBEDDING__{name}"] = str(option)
    os.environ.update(env)
    from rag.embed import Embedder
    from rag.settings import Settings

    settings = Settings()
    print(describe_machine())
    print(f"embedding: backend {settings.embedding.backend}, int8 {settings.embedding.quantize}, "
          f"batch {settings.embedding.batch_size}, ingest threads {settings.embedding.ingest_threads or os.cpu_count()}")
    t0 = time.perf_counter()
    embedder = Embedder(settings.embedding)
    print(f"model ready in {time.perf_counter() - t0:.1f} s"
          + (f" ({embedder.onnx_path.name}; exported on first use only)" if settings.embedding.backend == "onnx" else ""))
    del embedder

    runs, noops = [], []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
            cold = run_child(Path(tmp), env)
            assert cold["changed"] and not cold["skipped"], cold
            noop = run_child(Path(tmp), env)
            assert not noop["changed"] and noop["embedded"] == 0, noop
        runs.append(cold)
        noops.append(noop)
        t = cold["timings"]
        print(f"run {n + 1}: cold {cold['wall']:.1f} s (startup {cold['startup']:.1f}, cleaning {t['clean']:.1f}, "
              f"embedding {t['embed']:.1f}, indexing {t['index']:.1f}; {cold['cpu']:.0f} CPU s; load after "
              f"{cold['load']:.1f}), no-op re-ingest {noop['wall']:.1f} s", flush=True)

    def median(key, stage=None):
        return statistics.median(r["timings"][stage] if stage else r[key] for r in runs)

    passages = runs[0]["passages"]
    cold_s = median("wall")
    print(f"\ncold ingest of {ROOT / 'corpus'} ({passages} passages), median of {len(runs)}:")
    print(f"  total      {cold_s:6.1f} s   (process start to exit)")
    print(f"  startup    {median('startup'):6.1f} s   (interpreter, imports, exit)")
    print(f"  cleaning   {median(None, 'clean'):6.1f} s   (load, clean, chunk; includes loading the model)")
    print(f"  embedding  {median(None, 'embed'):6.1f} s   ({passages / median(None, 'embed'):.1f} passages/s)")
    print(f"  indexing   {median(None, 'index'):6.1f} s   (FAISS, BM25, write, swap)")
    print(f"  chunks/s   {passages / cold_s:6.1f}     (passages / total)")
    print(f"  CPU        {median('cpu'):6.0f} s   (user+system of the ingest process)")
    print(f"  on disk    {runs[0]['size']}")
    print(describe_machine())
    print(f"no-op re-ingest: {statistics.median(r['wall'] for r in noops):.1f} s (process start to exit)")


if __name__ == "__main__":
    main()
