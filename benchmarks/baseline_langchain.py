"""The plain LangChain recipe beside our system, on the same questions and the same scoring.

Plain recipe: RecursiveCharacterTextSplitter(1000, 200) over the raw corpus files,
HuggingFaceEmbeddings(all-MiniLM-L6-v2), FAISS.from_documents, similarity_search top 10.
Ours: rag.api.Engine over the default index (or --index). Prints ingest time, scores by kind,
cross-doc coverage and query latency for both.

    .venv/bin/python benchmarks/baseline_langchain.py [--eval FILE] [--index DIR] [--cache DIR] [--ingest-ours]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from common import describe_machine, index_size, p50_p95, score_report

from rag.api import Engine, build_index
from rag.cli.search_commands import retrieve_all
from rag.embed import Embedder, bundled_model_path
from rag.evaluation import DEFAULT_EVAL, load_items
from rag.settings import Settings

K = 10
METRICS = ["recall@1", "recall@3", "recall@5", "recall@10", "mrr@10"]


def build_baseline(corpus: Path, embeddings, cache: Path | None):
    """The plain recipe's FAISS store, its chunks, and its ingest seconds (None when loaded from the cache)."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    if cache and (cache / "index.faiss").exists():
        # The cache is LangChain's own format (a pickled docstore) that this script wrote itself.
        store = FAISS.load_local(str(cache), embeddings, allow_dangerous_deserialization=True)
        return store, list(store.docstore._dict.values()), None
    t0 = time.perf_counter()
    docs = [
        Document(page_content=path.read_text(encoding="utf-8"), metadata={"doc": path.name})
        for path in sorted(corpus.glob("*.txt"))
    ]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = FAISS.from_documents(chunks, embeddings)
    seconds = time.perf_counter() - t0
    if cache:
        store.save_local(str(cache))
    return store, chunks, seconds


def search_baseline(store, items: list[dict]) -> tuple[dict[str, list[dict]], list[float]]:
    """Top-10 passages per question, in the scoring shape, and per-question latency in ms."""
    ranked, latencies = {}, []
    for item in items:
        t0 = time.perf_counter()
        found = store.similarity_search(item["question"], k=K)
        latencies.append((time.perf_counter() - t0) * 1e3)
        ranked[item["id"]] = [{"doc": d.metadata["doc"], "text": d.page_content} for d in found]
    return ranked, latencies


def side_by_side(runs: dict[str, dict]) -> str:
    """Each group's scores, one line per run (the baseline first)."""
    lines = [f"{'group':<12}{'':<10}{'n':>4}" + "".join(f"{m:>11}" for m in METRICS)]
    for group in sorted(runs["baseline"], key=lambda g: (g != "all", g)):
        for n, (name, scores) in enumerate(runs.items()):
            row = scores.get(group)
            if row:
                label = group if n == 0 else ""
                lines.append(f"{label:<12}{name:<10}{row['n']:>4}" + "".join(f"{row[m]:>11.3f}" for m in METRICS))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, dest="eval_file")
    parser.add_argument("--index", type=Path, help="our index (default: index/default)")
    parser.add_argument("--cache", type=Path, help="keep the baseline FAISS store here and reuse it (skips the cold ingest)")
    parser.add_argument("--ingest-ours", action="store_true", help="also build our index cold in a temp folder and time it")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # langchain-community's sunset notice and similar

    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    settings = Settings()
    if args.index:
        settings.index_dir = args.index
    items = load_items(args.eval_file, "question")
    print(describe_machine())
    print(f"eval: {args.eval_file} ({len(items)} questions)\n")

    print("== plain LangChain recipe ==")
    t0 = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=str(bundled_model_path()))
    print(f"model load {time.perf_counter() - t0:.1f} s; torch threads {torch.get_num_threads()}")
    store, chunks, ingest_s = build_baseline(settings.corpus_dir, embeddings, args.cache)
    if ingest_s is None:
        print(f"loaded from cache {args.cache}: {len(chunks)} chunks (no ingest timing)")
    else:
        print(f"ingest {ingest_s:.1f} s for {len(chunks)} chunks: {len(chunks) / ingest_s:.1f} chunks/s")
    base_ranked, base_lat = search_baseline(store, items)
    base_scores, base_cov, text = score_report(items, base_ranked)
    print(text)
    print("query latency p50 {:.1f} ms, p95 {:.1f} ms\n".format(*p50_p95(base_lat)))

    print("== ours (rag.api.Engine) ==")
    if args.ingest_ours:
        with tempfile.TemporaryDirectory() as tmp:
            cold = Settings(index_dir=Path(tmp), embedding=settings.embedding, chunking=settings.chunking)
            # without adapting the model, which make setup does once (its minutes are printed below)
            report = build_index(cold, rebuild=True, embedder=Embedder(settings.embedding), adapt=False)
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items())
            print(
                f"cold ingest {report.seconds:.1f} s for {report.passages} passages ({parts}): "
                f"{report.passages / report.seconds:.1f} passages/s"
                + (f"; {report.seconds / ingest_s:.2f}x the baseline's time" if ingest_s else "")
            )
            print(f"index on disk: {index_size(Path(tmp))}")
    engine = Engine(settings)
    embedder = engine.embedder
    adaptation = engine.index.adaptation
    print(f"index {settings.index_dir}: {len(engine.index.passages)} passages; embedding model "
          + (f"adapted to the corpus ({adaptation['method']}, {adaptation['pairs']} pairs, {adaptation['steps']} steps, "
             f"{adaptation['seconds']:.0f} s)" if adaptation else "as shipped (not adapted)"))
    rows = retrieve_all(engine, items, K)
    our_scores, our_cov, text = score_report(items, {r["id"]: r["ranked"] for r in rows})
    print(text)
    print("query latency p50 {:.1f} ms, p95 {:.1f} ms\n".format(*p50_p95([r["latency_ms"] for r in rows])))

    print("== ours, the first passages reranked by reading (rag.rerank; rag search's default) ==")
    reread = retrieve_all(engine, items, K, rerank=True)
    reread_scores, _, text = score_report(items, {r["id"]: r["ranked"] for r in reread})
    print(text)
    print("query latency p50 {:.1f} ms, p95 {:.1f} ms\n".format(*p50_p95([r["latency_ms"] for r in reread])))

    over = sum(n > embedder.max_seq_length for n in embedder.count_tokens([c.page_content for c in chunks]))
    print(
        f"baseline chunks longer than the model's {embedder.max_seq_length} tokens (embedding silently truncated): "
        f"{over}/{len(chunks)}\n"
    )
    print("== side by side ==")
    print(side_by_side({"baseline": base_scores, "ours": our_scores, "reranked": reread_scores}))
    print(
        f"cross-doc coverage (every gold document in the top 10): baseline {base_cov[0]}/{base_cov[1]}, "
        f"ours {our_cov[0]}/{our_cov[1]}"
    )
    print(describe_machine())


if __name__ == "__main__":
    main()
