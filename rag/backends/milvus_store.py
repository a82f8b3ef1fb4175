"""Milvus: the passages' vectors and a BM25 index in one Milvus collection per index generation.

RAG_STORE__URI names the Milvus: a file path runs Milvus Lite in-process (the milvus-lite package; for tests and
one user), http://host:19530 a Milvus standalone or cluster. Each row is one passage: its row number in
passages.jsonl (the primary key), file, offsets, the whole Passage as JSON (page, section, document metadata), its
vector, and its BM25 terms. The terms are bm25s's stemmed words (rag.lexical) joined by spaces, read by the
standard analyzer (\\w+, lower-cased) into Milvus's BM25 function with bm25s's k1 and b, so both stores score the same words the same
way. Dense and BM25 searches are fused by the retriever's reciprocal rank fusion, as with the embedded store.

The collection's properties name its generation and the settings' fingerprint, so a collection written by
another generation, model or chunker is refused with the rebuild command. The generation folder keeps the
passages, sentences and document texts (quote verification reads those), checksummed as with FAISS."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from pathlib import Path

import numpy as np

from rag.backends.base import PassageStore, Searcher
from rag.errors import IndexCorrupt, ManifestMismatch, StoreUnavailable
from rag.lexical import BM25_B, BM25_K1, bm25_tokenize, term_lists
from rag.types import Passage

INSERT_BATCH = 2000  # rows per insert: well under Milvus's 64 MB message limit at 384 dimensions
MAX_TERMS_CHARS = 60000  # the terms field's VARCHAR limit is 65535 bytes; stems are ASCII in practice
_clients: dict[tuple[str, str], object] = {}  # one client per (uri, token) per process: Milvus Lite allows one
_clients_lock = threading.Lock()


def resolved_uri(uri: str, root: Path) -> str:
    """The Milvus URI as recorded in the manifest: a server URL as given, a Milvus Lite file as an absolute path
    (empty: milvus.db in the index folder, which generations share)."""
    if re.match(r"^[a-z][a-z0-9+]*://", uri):
        return uri
    return str(Path(uri).expanduser().resolve()) if uri else str((Path(root) / "milvus.db").resolve())


def client_for(uri: str, token: str = "", timeout: float = 10.0):
    """A connected MilvusClient, shared within the process; StoreUnavailable naming the URI and what to check."""
    try:
        from pymilvus import MilvusClient
    except ImportError as e:
        raise StoreUnavailable("the milvus store needs pymilvus and milvus-lite: pip install -e '.[scale]'") from e
    with _clients_lock:
        if (uri, token) in _clients:
            return _clients[(uri, token)]
        server = "://" in uri
        if server:
            _check_reachable(uri, timeout)
        elif not Path(uri).parent.is_dir():
            raise StoreUnavailable(f"cannot open Milvus Lite at {uri}: its folder does not exist; check RAG_STORE__URI")
        try:
            # Milvus Lite's gRPC server keeps gRPC's default ping policy (one ping per 5 minutes without calls); pymilvus
            # pings every 10 s, so an idle app or ingest was sent away with "too_many_pings" logged to stderr
            options = {} if server else {"grpc_options": {"grpc.keepalive_time_ms": 300_000,
                                                          "grpc.keepalive_permit_without_calls": 0}}
            client = MilvusClient(uri=uri, token=token, timeout=timeout, **options)
        except Exception as e:
            what = ("check that the server is running and reachable, and RAG_STORE__URI and RAG_STORE__TOKEN" if server
                    else "check that the file is a Milvus Lite database no other process has open, and that milvus-lite is "
                    "installed (pip install -e '.[scale]')")
            raise StoreUnavailable(f"cannot connect to Milvus at {uri} ({type(e).__name__}: {str(e)[:160]}); {what}") from e
        _clients[(uri, token)] = client
        return client


def _check_reachable(uri: str, timeout: float) -> None:
    """Fail fast, with the address, when nothing listens there (pymilvus would otherwise retry for its timeout)."""
    m = re.match(r"^[a-z+]+://([^/:]+)(?::(\d+))?", uri)
    host, port = (m.group(1), int(m.group(2) or 19530)) if m else (uri, 19530)
    try:
        socket.create_connection((host, port), timeout=min(timeout, 5.0)).close()
    except OSError as e:
        raise StoreUnavailable(f"cannot reach the Milvus server at {uri} ({e.strerror or e}); check that it is running, "
                               "that host and port are right (RAG_STORE__URI) and that no firewall is in the way") from e


def collection_prefix(root: Path) -> str:
    """The prefix of an index folder's collections: generations of other index folders on the same Milvus are not
    touched when this one's old generations are dropped."""
    where = f"{socket.gethostname()}:{Path(root).resolve()}"
    return f"rag_{hashlib.sha1(where.encode()).hexdigest()[:10]}_"


def collection_name(root: Path, generation: Path) -> str:
    return collection_prefix(root) + re.sub(r"\W", "_", generation.name)


class MilvusSearcher(Searcher):
    """Dense (inner product) and BM25 searches on one collection."""

    def __init__(self, client, collection: str, size: int, dimension: int, ef: int):
        self.client = client
        self.collection = collection
        self.size = size
        self.dimension = dimension
        self.ef = ef  # HNSW candidate list (ignored by a flat index)

    def dense(self, vector: np.ndarray, n: int) -> tuple[list[int], list[float]]:
        hits = self.client.search(self.collection, data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="vector",
                                  limit=n, output_fields=["id"], search_params={"metric_type": "IP", "params": {"ef": self.ef}})
        return [int(h["id"]) for h in hits[0]], [float(h["distance"]) for h in hits[0]]

    def lexical(self, terms: list[str], n: int) -> tuple[list[int], list[float]]:
        if not terms:
            return [], []
        hits = self.client.search(self.collection, data=[" ".join(terms)], anns_field="sparse", limit=n, output_fields=["id"],
                                  search_params={"metric_type": "BM25"})
        # best first; Milvus Lite gives BM25 scores negated (smaller is better inside it), a server positive. Milvus's
        # BM25 keeps the (k1 + 1) factor of the textbook formula, which bm25s drops: divided out, the scores are bm25s's
        pairs = [(int(h["id"]), abs(float(h["distance"])) / (BM25_K1 + 1)) for h in hits[0] if h["distance"]]
        return [i for i, _ in pairs], [s for _, s in pairs]


class MilvusStore(PassageStore):
    """One collection per generation on the Milvus at settings.store.uri."""

    name = "milvus"

    def uri(self, root: Path) -> str:
        return resolved_uri(self.settings.store.uri, root)

    def client(self, root: Path):
        s = self.settings.store
        return client_for(self.uri(root), s.token, s.timeout_s)

    def check(self, root: Path) -> None:
        """Whether the Milvus can be reached, without opening a connection: one left idle while an ingest embeds for
        minutes is sent away by the server for pinging too often (gRPC keepalive), which it logs to stderr."""
        uri = self.uri(root)
        if (uri, self.settings.store.token) in _clients:
            return
        try:
            import pymilvus  # noqa: F401
        except ImportError as e:
            raise StoreUnavailable("the milvus store needs pymilvus and milvus-lite: pip install -e '.[scale]'") from e
        if "://" in uri:
            _check_reachable(uri, self.settings.store.timeout_s)
        elif not Path(uri).parent.is_dir() and Path(uri).parent != Path(root).resolve():
            raise StoreUnavailable(f"cannot open Milvus Lite at {uri}: its folder does not exist; check RAG_STORE__URI")

    def write(self, root: Path, generation: Path, passages: list[Passage], embeddings: np.ndarray, texts: list[str],
              folder: Path) -> dict:
        from rag.store import index_fingerprint

        client = self.client(root)
        name = collection_name(root, generation)
        dimension = int(embeddings.shape[1]) if len(passages) else 384
        approximate = self.approximate(len(passages))
        properties = {"rag.generation": generation.name, "rag.fingerprint": json.dumps(index_fingerprint(self.settings))}
        if client.has_collection(name):  # a leftover of a killed ingest that reached the same name: start clean
            client.drop_collection(name)
        client.create_collection(name, schema=self._schema(client, dimension), index_params=self._index_params(client, approximate),
                                 consistency_level="Strong", properties=properties)
        terms = term_lists(bm25_tokenize(texts)) if texts else []
        for lo in range(0, len(passages), INSERT_BATCH):
            rows = [{"id": i, "file": p.doc.file, "start": p.start, "end": p.end, "passage": p.model_dump(mode="json"),
                     "terms": " ".join(terms[i])[:MAX_TERMS_CHARS], "vector": embeddings[i].tolist()}
                    for i, p in enumerate(passages[lo : lo + INSERT_BATCH], start=lo)]
            client.insert(name, rows)
        client.flush(name)
        record = {"backend": self.name, "uri": self.uri(root), "collection": name, "dense": "hnsw" if approximate else "flat",
                  "bm25": {"k1": BM25_K1, "b": BM25_B}}
        if approximate:
            record |= {"hnsw_m": self.settings.store.hnsw_m, "ef_construction": self.settings.store.hnsw_ef_construction}
        return record

    def _schema(self, client, dimension: int):
        from pymilvus import DataType, Function, FunctionType

        schema = client.create_schema(auto_id=False, description="passages of a rag index generation (rag.backends.milvus_store)")
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("file", DataType.VARCHAR, max_length=1024)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("passage", DataType.JSON)
        schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})  # whitespace: not in Milvus Lite
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                     output_field_names=["sparse"]))
        return schema

    def _index_params(self, client, approximate: bool):
        s = self.settings.store
        params = client.prepare_index_params()
        if approximate:
            params.add_index("vector", index_type="HNSW", metric_type="IP",
                             params={"M": s.hnsw_m, "efConstruction": s.hnsw_ef_construction})
        else:
            params.add_index("vector", index_type="FLAT", metric_type="IP")
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        return params

    def mismatch(self, record: dict) -> str | None:
        if other := super().mismatch(record):
            return other
        return None  # where the collection lives is checked by open(), which names the URI to set

    def open(self, root: Path, generation: Path, manifest: dict) -> MilvusSearcher:
        from rag.store import rebuild_hint

        record = manifest.get("store") or {}
        hint = rebuild_hint(root, manifest)
        if record.get("uri") != self.uri(root):
            raise ManifestMismatch(f"index at {root} keeps its passages in the Milvus at {record.get('uri')}, but the settings "
                                   f"name {self.uri(root)}; set RAG_STORE__URI={record.get('uri')}, or {hint}")
        client = self.client(root)
        name = record.get("collection", "")
        if not client.has_collection(name):
            raise IndexCorrupt(f"the Milvus collection {name} of the index at {root} is missing from {self.uri(root)}; {hint}")
        info = client.describe_collection(name)
        properties = info.get("properties") or {}
        try:
            fingerprint = json.loads(properties.get("rag.fingerprint") or "{}")
        except ValueError:
            fingerprint = {}
        if properties.get("rag.generation") != generation.name:
            raise IndexCorrupt(f"the Milvus collection {name} holds another generation than the index at {root}; {hint}")
        if fingerprint != manifest.get("fingerprint"):
            raise ManifestMismatch(f"the Milvus collection {name} was built with another embedding model or chunker than "
                                   f"the index at {root} says; {hint}")
        client.load_collection(name)
        size = int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
        dimension = next((int(f["params"]["dim"]) for f in info["fields"] if f["name"] == "vector"), 0)
        return MilvusSearcher(client, name, size, dimension, max(self.settings.store.hnsw_ef_search, self.settings.retrieval.candidates))

    def discard(self, root: Path, keep: Path) -> None:
        """Drop this index folder's collections other than the generation in use (older ones, killed ingests')."""
        client = self.client(root)
        prefix, wanted = collection_prefix(root), collection_name(root, keep)
        for name in client.list_collections():
            if name.startswith(prefix) and name != wanted:
                client.drop_collection(name)
