"""All settings in one object, read from defaults, then RAG_* environment variables (nested with __)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Thresholds calibrated by scripts on our own training data (training/), never typed in by hand
CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


def calibrated_model(name: str) -> dict | None:
    """A model calibrated by a script (rag/calibration.json), or None before the script has run."""
    try:
        return json.loads(CALIBRATION_FILE.read_text())[name]
    except (OSError, ValueError, KeyError):
        return None


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(_Group):
    model_path: str = Field(default="", description="Folder of a sentence-transformers model; empty = the bundled all-MiniLM-L6-v2")
    model_name: str = Field(default="all-MiniLM-L6-v2", description="Name recorded in the index manifest")
    batch_size: int = Field(default=32, description="Texts per embedding batch at ingest (32 measured fastest here)")
    ingest_threads: int = Field(default=0, description="Torch threads during ingest (0 = all cores)")
    query_threads: int = Field(default=1, description="Torch threads for question embedding; 1 stays fast under contention")
    quantize: bool = Field(default=True, description="int8 weights (dynamic quantization): about 1.6x less CPU than fp32")
    backend: Literal["onnx", "torch"] = Field(default="onnx", description="onnx: ONNX Runtime on an exported, fused model (fastest); torch: sentence-transformers")
    cache_dir: str = Field(default="", description="Where the exported ONNX model is kept; empty = $XDG_CACHE_HOME/rag or ~/.cache/rag")
    cache_keep: int = Field(default=8, description="Exported models kept in the cache; the least recently used beyond this are removed")


class AdaptSettings(_Group):
    """Self-supervised adaptation of the embedding model to the indexed documents (`rag ingest --adapt`)."""

    enabled: bool = Field(default=True, description="Adapt the model for the default index: app.py serves the index "
                          "unadapted first and adapts in the background, switching when done; `make adapt` does it up front")
    epochs: int = Field(default=1, description="Passes over the passages (one query sentence per passage per pass)")
    batch_size: int = Field(default=32, description="Pairs per step; the other passages of a batch are the negatives")
    learning_rate: float = Field(default=2e-5, description="AdamW learning rate")
    max_steps: int = Field(default=0, description="Stop after this many steps (0 = all)")
    min_sentence_words: int = Field(default=8, description="Shorter sentences are not used as queries")
    keep_sentence_share: float = Field(default=0.1, description="Share of pairs whose passage keeps the query sentence")
    query_max_tokens: int = Field(default=64, description="Query sentences are cut to this many tokens")
    seed: int = Field(default=0, description="Random seed (pair sampling, order, initialization)")
    threads: int = Field(default=0, description="Torch threads while training (0 = torch's default, all cores)")


class ChunkingSettings(_Group):
    max_tokens: int = Field(default=160, description="Target chunk size in model tokens (the model truncates at 256)")
    overlap_sentences: int = Field(default=1, description="Sentences repeated at the start of the next chunk")
    version: str = Field(default="10", description="Chunker version; an index built by another version must be rebuilt")


class StoreSettings(_Group):
    """Where the passages' vectors and BM25 index live (rag.backends)."""

    backend: Literal["faiss", "milvus"] = Field(default="faiss", description="faiss: FAISS + bm25s files in the index "
                                                "folder (embedded, the default); milvus: a Milvus collection at `uri`")
    uri: str = Field(default="", description="Milvus URI: a file path (Milvus Lite, embedded) or http://host:19530 (standalone "
                     "or cluster); empty = milvus.db in the index folder")
    token: str = Field(default="", description="Milvus token (user:password or API key), if the server wants one")
    timeout_s: float = Field(default=10.0, description="Seconds to wait for the Milvus server before giving up")
    approximate_above: int = Field(default=50_000, description="Passages above which the dense index is approximate "
                                   "(HNSW) instead of exact (flat): exact dense search took 45-55 ms at 100k here, so about half "
                                   "that at 50k (docs/scale.md)")
    hnsw_m: int = Field(default=32, description="HNSW links per vector")
    hnsw_ef_construction: int = Field(default=80, description="HNSW candidate list while building")
    hnsw_ef_search: int = Field(default=512, description="HNSW candidate list while searching: at 1M passages 3.7 ms of "
                                "dense search here, against 1.0 ms at 128 for much lower recall (docs/scale.md)")


class RaySettings(_Group):
    """Bulk ingest on Ray Data (`rag ingest --ray ADDRESS`, rag.ray_ingest)."""

    local_cpus: int = Field(default=0, description="CPUs a local Ray (`--ray local`) may use (0 = all)")
    actors: int = Field(default=0, description="Embedding actors, each holding the model once (0 = one per cpus_per_actor CPUs)")
    cpus_per_actor: int = Field(default=1, description="CPUs (and ONNX Runtime threads) of each embedding actor")
    files_per_task: int = Field(default=4, description="Files read, cleaned and chunked by one Ray task")
    batches_per_call: int = Field(default=4, description="Model batches (of embedding.batch_size passages, as in process) embedded per actor call")


class RetrievalSettings(_Group):
    k: int = Field(default=10, ge=1, description="Passages returned")
    candidates: int = Field(default=50, description="Candidates taken from each of dense and BM25 search before fusion")
    rrf_k: int = Field(default=60, description="Reciprocal rank fusion constant")
    dense_weight: float = Field(default=1.0, description="Weight of the dense ranking in fusion")
    bm25_weight: float = Field(default=1.0, description="Weight of the BM25 ranking in fusion")
    neighbours: int = Field(default=2, description="Chunks added on each side of a hit, for context")
    author_bonus: float = Field(default=1.0, description="Fusion bonus (in top-rank units) for works by an author the question names")
    max_question_chars: int = Field(default=2000, description="Longer questions are cut to this length for search")
    rerank: bool = Field(default=True, description="rag search and rag retrieve reorder the first passages by reading them "
                         "(rag.rerank; about 1 s a question on 2 cores). Answers do not: on our three question sets it "
                         "changed one answer for the better and one for the worse, at 0.4 s more an answer")
    rerank_depth: int = Field(default=10, description="Reranking: first passages reread (all of the k returned: the same "
                              "12 sentences are read whatever the depth; 10 rather than 8 lifted dev MRR@10 from "
                              "0.664 to 0.686 and left our held-out and train sets as they were)")
    rerank_sentences: int = Field(default=12, description="Reranking: most promising sentences of those passages read")
    rerank_weight: float = Field(default=1.0, description="Reranking: weight of the reading rank against the retrieval "
                                 "rank in their reciprocal rank fusion")


class ReaderSettings(_Group):
    """The reading model that scores how well a sentence answers a question (rag.reader)."""

    batch_size: int = Field(default=6, gt=0, description="Most candidates scored in one forward pass, the shortest "
                            "together (12 in two batches rather than one: an answer's p50 1,483 ms against 1,550 with the "
                            "other core busy, 932 against 918 on a quiet machine, benchmarks/answer.py)")
    threads: int = Field(default=2, description="Torch threads while scoring")
    context_words: int = Field(default=40, description="Words of each candidate sentence the reader reads (its cost "
                               "grows with them: 12 candidates of 40 words take 0.6 s in bfloat16, 1.4 s in float32, on 2 cores)")
    question_tokens: int = Field(default=64, description="Question tokens scored (longer questions are cut)")
    vocabulary_chars: int = Field(default=4_000_000, description="Characters of the indexed documents (read evenly "
                                  "across them) whose tokens a question token's probability is normalized over; "
                                  "0: over the model's whole vocabulary (262k tokens, 11x as many on the bundled corpus)")
    precision: Literal["auto", "bfloat16", "float32"] = Field(
        default="auto", description="Weights and arithmetic of the reading model. auto: bfloat16 where the CPU computes "
        "it natively (AVX512-BF16 or AMX: 2.3x faster here; it picks other sentences for a few dev questions), else float32")


class AnswerSettings(_Group):
    mode: Literal["read", "fast"] = Field(default="read", description="read: quotations chosen by the reading model "
                                          "(rag.reader; about 1 s an answer on 2 cores); fast: by embedding similarity and "
                                          "word overlap (under 0.1 s), and while the reading model loads")
    generator: Literal["extractive", "openai", "ollama", "llamacpp"] = Field(default="extractive", description="Answer generator")
    max_quotes: int = Field(default=3, description="Quotations in an extractive answer")
    passages_in_prompt: int = Field(default=6, description="Passages shown to the generator")
    sentences_embedded: int = Field(default=16, description="Candidate sentences the extractive generator embeds and compares")
    abstain_threshold: float = Field(default=0.50, description="Fast mode: evidence score below which the answer abstains (calibrated)")
    sentences_read: int = Field(default=12, description="Read mode: best candidate sentences the reading model scores")
    read_quote_gap: float = Field(default=0.5, description="Read mode: a further quotation's gain must be within this of the best")
    lead_gain_cap: float = Field(default=4.0, description="Read mode: the lead quotation explains the most of the question "
                                 "with each question token's gain counted up to this (nats; rag.reader.Scores.capped_mean)")
    openai_base_url: str = Field(default="http://127.0.0.1:8080/v1", description="OpenAI-compatible server URL")
    openai_model: str = Field(default="local", description="Model name sent to the OpenAI-compatible server")
    openai_api_key: str = Field(default="not-needed", description="API key for the OpenAI-compatible server")
    ollama_base_url: str = Field(default="http://127.0.0.1:11434", description="Ollama server URL")
    ollama_model: str = Field(default="llama3.2", description="Ollama model name")
    llamacpp_model_path: str = Field(default="", description="GGUF file for the in-process llama.cpp generator")
    max_tokens: int = Field(default=512, description="Most tokens an LLM may generate")
    temperature: float = Field(default=0.1, description="LLM sampling temperature")
    timeout_s: float = Field(default=120.0, description="LLM request timeout in seconds")


class Settings(BaseSettings):
    """Every setting of the assistant. Entry points take one of these explicitly."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_nested_delimiter="__", extra="forbid")

    index_dir: Path = Field(default=PROJECT_ROOT / "index" / "default", description="Where the index lives")
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="The bundled corpus (with catalog.toml)")
    prompts_dir: Path = Field(default=PROJECT_ROOT / "prompts", description="Prompt templates")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    adapt: AdaptSettings = Field(default_factory=AdaptSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
