"""The index at 100k and 1M passages: FAISS flat, FAISS approximate (HNSW) and Milvus Lite, built through the
project's own store interface (rag.store.write_index), then searched by the project's retriever (hybrid: dense +
BM25 fused by rank).

.venv/bin/python benchmarks/scale.py [--sizes 100000 1000000] [--backends faiss-flat faiss-hnsw milvus-lite]
                                     [--queries 200] [--sample 2000] [--work DIR]

The text is generated here: documents of 100 passages of about 80 words, each passage drawn from one of 2,000
topics (a topic is a Zipf-weighted set of 60 words out of a 30,000-word made-up vocabulary, mixed with common
words). Vectors: the first --sample passages are embedded by the real model; the rest (embedding a million
passages here would take about 4 hours) get random-but-normalized vectors: the real vector of a sampled passage
of the same topic plus Gaussian noise, normalized, so the collection has the topic structure real embeddings have.
Questions are made of words of sampled passages and embedded by the real model.

Each (size, backend) is built and measured in a fresh process, so memory figures do not mix: build time (all of
write_index: passages, vectors, the dense index, BM25, checksums), peak and loaded resident memory (the Milvus Lite
server process included), size on disk, warm query p50/p95 of Retriever.search, and recall@10 against flat: of
the dense search alone (the approximate index's own loss) and of the hybrid top 10 passages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PASSAGES_PER_DOC = 100
WORDS_PER_PASSAGE = 80
TOPICS = 2000
VOCABULARY = 30000
COMMON = ["the", "of", "and", "to", "in", "was", "a", "for", "that", "by", "with", "as", "on", "were", "from", "which", "it",
          "at", "his", "their", "this", "had", "an", "be", "not", "also", "but", "its", "they", "into", "after", "more",
          "than", "new", "other", "first", "over", "when", "all", "under", "two", "years", "state", "these"]


def make_words(rng: np.random.Generator) -> list[str]:
    """A made-up vocabulary: pronounceable, distinct, not English stop words."""
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables, size=rng.integers(2, 4))))
    return sorted(words)


def generate(size: int, sample: int, folder: Path, seed: int = 0) -> None:
    """passages.npy-free data for `size` passages: texts.jsonl (one passage per line, with its topic), vectors.npy,
    questions.json (text and vector). Embeds the sample and the questions with the real model."""
    from rag.embed import Embedder
    from rag.settings import Settings

    rng = np.random.default_rng(seed)
    words = np.array(make_words(rng))
    topic_words = [rng.choice(len(words), size=60, replace=False) for _ in range(TOPICS)]
    zipf = 1 / np.arange(1, 61) ** 0.9
    zipf /= zipf.sum()
    topics = rng.integers(0, TOPICS, size)
    texts = []
    for t in topics:
        own = words[topic_words[t][rng.choice(60, WORDS_PER_PASSAGE // 2, p=zipf)]]
        filler = rng.choice(COMMON, WORDS_PER_PASSAGE - len(own))
        mixed = np.concatenate([own, filler])
        rng.shuffle(mixed)
        sentence = " ".join(mixed)
        texts.append(sentence[0].upper() + sentence[1:] + ".")
    folder.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(Settings().embedding)
    t0 = time.perf_counter()
    real = embedder.embed_documents(texts[:sample])
    per_passage = (time.perf_counter() - t0) / sample
    vectors = np.empty((size, real.shape[1]), dtype=np.float32)
    vectors[:sample] = real
    by_topic: dict[int, list[int]] = {}
    for i in range(sample):
        by_topic.setdefault(int(topics[i]), []).append(i)
    anchors = rng.normal(size=(TOPICS, real.shape[1])).astype(np.float32)  # topics no sampled passage has
    for t, rows in by_topic.items():
        anchors[t] = real[rows].mean(axis=0)
    anchors /= np.linalg.norm(anchors, axis=1, keepdims=True)
    for lo in range(sample, size, 100_000):
        hi = min(size, lo + 100_000)
        block = anchors[topics[lo:hi]] + 0.045 * rng.normal(size=(hi - lo, real.shape[1])).astype(np.float32)
        vectors[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    np.save(folder / "vectors.npy", vectors)
    with open(folder / "texts.jsonl", "w") as f:
        f.writelines(json.dumps(t) + "\n" for t in texts)
    questions = []
    for i in rng.choice(sample, 200, replace=False):
        picked = [w for w in texts[i].rstrip(".").split() if w.lower() not in COMMON]
        questions.append("What about " + " ".join(rng.choice(picked, 4, replace=False)) + "?")
    (folder / "questions.json").write_text(json.dumps(questions))
    (folder / "info.json").write_text(json.dumps({"size": size, "sample": sample, "seconds_per_embedded_passage": per_passage}))


def passages_of(texts: list[str]):
    """Documents of PASSAGES_PER_DOC passages: Passage records with exact spans, and the documents' texts."""
    from rag.types import DocumentInfo, Passage

    passages, documents = [], {}
    for d in range(0, len(texts), PASSAGES_PER_DOC):
        name = f"doc{d // PASSAGES_PER_DOC:06d}.txt"
        info = DocumentInfo(doc_id=name[:-4], file=name, title=f"Synthetic work {d // PASSAGES_PER_DOC}", author="A. Writer")
        pieces, at = [], 0
        for j, text in enumerate(texts[d : d + PASSAGES_PER_DOC]):
            passages.append(Passage(passage_id=f"{d + j:x}", doc=info, start=at, end=at + len(text), line_start=2 * j + 1,
                                    line_end=2 * j + 1, text=text, page=j // 3 + 1, page_status="estimated"))
            pieces.append(text)
            at += len(text) + 2
        documents[name] = "\n\n".join(pieces)
    return passages, documents


def settings_for(backend: str, index_dir: Path):
    from rag.settings import Settings

    settings = Settings(index_dir=index_dir)
    settings.store.backend = "milvus" if backend.startswith("milvus") else "faiss"
    settings.store.uri = str(index_dir / "milvus.db") if backend == "milvus-lite" else ""
    settings.store.approximate_above = 0 if backend in ("faiss-hnsw", "milvus-lite-hnsw") else 10**12
    return settings


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process and its children (the Milvus Lite server), MB."""
    import psutil

    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def measure_one(backend: str, data: Path, index_dir: Path, queries: int, build_it: bool = True) -> dict:
    """Build (unless not build_it: an index kept by --keep), load and query one index in this process; the figures."""
    import gc

    from rag.api import Engine
    from rag.embed import Embedder
    from rag.store import write_index

    settings = settings_for(backend, index_dir)
    build = peak_build = float("nan")
    if build_it:
        with open(data / "texts.jsonl") as f:
            texts = [json.loads(line) for line in f]
        vectors = np.load(data / "vectors.npy", mmap_mode="r")
        passages, documents = passages_of(texts)
        del texts
        files = {name: {"sha256": "-", "source": name, "encoding": "utf-8", "doc_id": name[:-4],
                        "passages": PASSAGES_PER_DOC} for name in documents}
        gc.collect()
        t0 = time.perf_counter()
        write_index(index_dir, settings, files, passages, np.asarray(vectors), documents, [],
                    np.zeros((0, vectors.shape[1]), np.float32))
        build = time.perf_counter() - t0
        peak_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del passages, documents
        gc.collect()
    embedder = Embedder(settings.embedding)
    t0 = time.perf_counter()
    engine = Engine(settings, embedder=embedder)
    load = time.perf_counter() - t0
    questions = json.loads((data / "questions.json").read_text())[:queries]
    for q in questions[:20]:
        engine.search(q)
    latencies, dense_top, hybrid_top = [], [], []
    stages: dict[str, list[float]] = {}
    for q in questions:
        t0 = time.perf_counter()
        results = engine.search(q, 10)
        latencies.append((time.perf_counter() - t0) * 1e3)
        for stage, ms in engine.retriever.last_timings.items():
            stages.setdefault(stage, []).append(ms)
        hybrid_top.append([r.passage.passage_id for r in results])
        ids, _ = engine.index.searcher.dense(embedder.embed_query(q), 10)
        dense_top.append(ids)
    disk = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 2**20
    sweep = {}
    if engine.index.faiss_index is not None and hasattr(engine.index.faiss_index, "hnsw"):  # recall against speed
        vectors = [embedder.embed_query(q) for q in questions]
        for ef in (32, 64, 128, 256, 512):
            engine.index.faiss_index.hnsw.efSearch = ef
            times, tops = [], []
            for v in vectors:
                t0 = time.perf_counter()
                tops.append(engine.index.searcher.dense(v, 10)[0])
                times.append((time.perf_counter() - t0) * 1e3)
            sweep[ef] = {"dense_top": tops, "p50_ms": float(np.percentile(times, 50))}
    return {"backend": backend, "passages": len(engine.index.passages), "build_s": build, "load_s": load,
            "peak_build_mb": peak_build, "loaded_rss_mb": rss_mb(), "disk_mb": disk,
            "p50_ms": float(np.percentile(latencies, 50)), "p95_ms": float(np.percentile(latencies, 95)),
            "stages_p50_ms": {stage: float(np.percentile(v, 50)) for stage, v in stages.items()},
            "dense_top": dense_top, "hybrid_top": hybrid_top, "store": engine.index.manifest["store"], "ef_sweep": sweep}


def measure_ivfpq(data: Path, queries: int, nlist: int = 1024, m: int = 48) -> list[dict]:
    """The other approximate index the issue names, dense search alone: IVF-PQ (nlist lists, m-byte codes) trained on
    the collection's vectors, against exact search, for a few nprobe; with its build time and size."""
    import faiss

    from rag.embed import Embedder
    from rag.settings import Settings

    vectors = np.load(data / "vectors.npy")
    embedder = Embedder(Settings().embedding)
    questions = np.stack([embedder.embed_query(q) for q in json.loads((data / "questions.json").read_text())[:queries]])
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(questions, 10)
    del exact
    t0 = time.perf_counter()
    index = faiss.index_factory(vectors.shape[1], f"IVF{nlist},PQ{m}", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    index.train(vectors[rng.choice(len(vectors), min(len(vectors), 64 * nlist), replace=False)])
    index.add(vectors)
    build = time.perf_counter() - t0
    size_mb = faiss.serialize_index(index).nbytes / 2**20
    rows = []
    for nprobe in (8, 32, 128):
        index.nprobe = nprobe
        times, found = [], []
        for q in questions:
            t0 = time.perf_counter()
            found.append(index.search(q[None, :], 10)[1][0].tolist())
            times.append((time.perf_counter() - t0) * 1e3)
        rows.append({"nprobe": nprobe, "recall": recall(found, truth.tolist()), "p50_ms": float(np.percentile(times, 50)),
                     "build_s": build, "size_mb": size_mb})
    return rows


def recall(found: list[list], exact: list[list]) -> float:
    return float(np.mean([len(set(f) & set(e)) / max(1, len(e)) for f, e in zip(found, exact)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["faiss-flat", "faiss-hnsw", "milvus-lite"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sample", type=int, default=2000, help="passages embedded by the real model")
    parser.add_argument("--work", type=Path, help="keep generated data here (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep every index built in --work, not only the flat one")
    parser.add_argument("--load-only", action="store_true", help="measure the indexes kept in --work by an earlier --keep run "
                        "again (with the current search settings) instead of building them")
    parser.add_argument("--ivfpq", action="store_true", help="also measure IVF-PQ, dense search alone (the store builds HNSW)")
    parser.add_argument("--one", nargs=3, metavar=("BACKEND", "DATA", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        backend, data, index_dir = args.one
        print("RESULT " + json.dumps(measure_one(backend, Path(data), Path(index_dir), args.queries, not args.load_only)))
        return
    from common import describe_machine

    print(describe_machine())
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    rows = []
    for size in args.sizes:
        data = work / f"data-{size}"
        if not (data / "info.json").exists():
            t0 = time.perf_counter()
            generate(size, min(args.sample, size), data)
            print(f"generated {size} passages in {time.perf_counter() - t0:.0f} s", flush=True)
        info = json.loads((data / "info.json").read_text())
        exact = None
        for backend in args.backends:
            index_dir = work / f"index-{size}-{backend}"
            if not args.load_only:
                shutil.rmtree(index_dir, ignore_errors=True)
            out = subprocess.run([sys.executable, __file__, "--queries", str(args.queries), "--one", backend, str(data),
                                  str(index_dir), *(["--load-only"] if args.load_only else [])],
                                 capture_output=True, text=True, check=False)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{backend} at {size}: failed\n{out.stderr[-2000:]}", flush=True)
                continue
            row = json.loads(line[7:])
            if backend == "faiss-flat":
                exact = row
            row["dense_recall"] = recall(row["dense_top"], exact["dense_top"]) if exact else float("nan")
            row["hybrid_recall"] = recall(row["hybrid_top"], exact["hybrid_top"]) if exact else float("nan")
            rows.append(row)
            print(format_row(row), flush=True)
            for ef, run in row.get("ef_sweep", {}).items():
                run["recall"] = recall(run.pop("dense_top"), exact["dense_top"]) if exact else float("nan")
                print(f"    HNSW efSearch {ef:>4}: dense recall@10 {run['recall']:.3f}, dense p50 {run['p50_ms']:.2f} ms", flush=True)
            with open(work / "results.jsonl", "a") as f:  # every figure, for docs/scale.md
                f.write(json.dumps({k: v for k, v in row.items() if not k.endswith("_top")}) + "\n")
            if backend != "faiss-flat" and not args.keep and not args.load_only:
                shutil.rmtree(index_dir, ignore_errors=True)
        if args.ivfpq:
            for run in measure_ivfpq(data, args.queries):
                print(f"    IVF1024,PQ48 nprobe {run['nprobe']:>4}: dense recall@10 {run['recall']:.3f}, dense p50 "
                      f"{run['p50_ms']:.2f} ms (built in {run['build_s']:.0f} s, {run['size_mb']:.0f} MB)", flush=True)
        print(f"  ({info['sample']} passages embedded by the model, {info['seconds_per_embedded_passage'] * 1e3:.1f} ms each:"
              f" all {size} would take {info['seconds_per_embedded_passage'] * size / 3600:.1f} h here)")
    print("\nbuild: write_index, all of it; peak: resident memory while building; RSS: once loaded; p50/p95: Retriever.search"
          "\n(hybrid, k=10, question embedding included); dense, bm25: p50 of those stages; R@10: against faiss-flat\n")
    print(HEADER)
    for row in rows:
        print(format_row(row))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


HEADER = (f"{'passages':>9} {'backend':<12} {'index':<6} {'build s':>8} {'load s':>7} {'peak MB':>8} {'RSS MB':>8} "
          f"{'disk MB':>8} {'p50 ms':>7} {'p95 ms':>7} {'dense':>6} {'bm25':>6} {'R@10 dense':>10} {'R@10 hybrid':>11}")


def format_row(row: dict) -> str:
    """One line of the table: build, memory (peak while building, resident once loaded), disk, query p50/p95 and the
    p50 of its dense and BM25 stages (ms), recall@10 against flat."""
    stages = row.get("stages_p50_ms", {})
    return (f"{row['passages']:>9} {row['backend']:<12} {row['store']['dense']:<6} {row['build_s']:>8.1f} {row['load_s']:>7.1f} "
            f"{row['peak_build_mb']:>8.0f} {row['loaded_rss_mb']:>8.0f} {row['disk_mb']:>8.0f} {row['p50_ms']:>7.1f} "
            f"{row['p95_ms']:>7.1f} {stages.get('dense', float('nan')):>6.1f} {stages.get('bm25', float('nan')):>6.1f} "
            f"{row['dense_recall']:>10.3f} {row['hybrid_recall']:>11.3f}")


if __name__ == "__main__":
    main()
