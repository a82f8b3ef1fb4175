"""Hybrid retrieval: dense (FAISS) and lexical (BM25) search over the same chunks, fused by rank,
then grown into distinct passages that include each hit's neighbouring chunks for context."""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import time
import unicodedata
from collections import defaultdict

from rag.embed import Embedder
from rag.errors import BadInput, ManifestMismatch
from rag.lexical import bm25_tokenize, singular_stems
from rag.settings import RetrievalSettings
from rag.store import Index, rebuild_hint
from rag.text import STOP_WORDS
from rag.types import Passage, ScoredPassage

_TERMINAL_ESCAPE = re.compile(r"\x1b\[[0-?]{0,32}[ -/]{0,8}[@-~]")  # an ANSI control sequence, bounded


def clean_question(question: str, max_chars: int) -> str:
    """A question fit for search: terminal escape sequences and control characters removed, whitespace collapsed,
    length bounded."""
    if not isinstance(question, str):
        raise BadInput("the question must be text")
    text = _TERMINAL_ESCAPE.sub("", question)  # pasted from a terminal: "\x1b[31m" is colour, not words
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise BadInput("the question is empty; type a question about the documents")
    return text[:max_chars]


def passages_wanted(k: int | None, default: int) -> int:
    """How many passages a search returns: k, or the default where k is None."""
    if k is None:
        return default
    try:
        wanted = operator.index(k) if not isinstance(k, bool) else 0  # an int of any kind (numpy's too), not 2.5 or True
    except TypeError:
        wanted = 0
    if wanted < 1:
        raise BadInput(f"the number of passages to return must be a whole number of at least 1, not {k!r}")
    return wanted


@functools.cache
def _question_stop_words() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(STOP_WORDS | set(STOPWORDS_EN))


def query_terms(query: str) -> list[str]:
    """The question's words as BM25 searches them, stemmed, and the singulars of its Russian plurals (rag.lexical).
    Passages are indexed without Lucene's 33 stop words only; a question also loses the words it is asked with
    ("what", "why", "did", "according"), which otherwise rank up the passages that use them most."""
    tokens = bm25_tokenize([query], _question_stop_words())
    inverse = {v: k for k, v in tokens.vocab.items()}
    terms = [inverse[t] for t in tokens.ids[0]] if tokens.ids else []
    return terms + [s for s in dict.fromkeys(singular_stems(query)) if s not in terms]


def author_surnames(author: str) -> list[str]:
    """Surnames in an author field, in order: "Lewis Siegelbaum and Ronald Grigor Suny" -> ["Siegelbaum", "Suny"]."""
    people = [p.strip() for p in re.split(r",|&| and ", author) if p.strip()]
    return [p.split()[-1] for p in people if p.split()[-1][:1].isupper()]


class Retriever:
    """Finds the passages that answer a question. `last_timings` holds the stages of the last search (ms)."""

    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        if index.passages and index.searcher.dimension != embedder.dimension:  # same model name, other weights
            raise ManifestMismatch(f"index at {index.root} holds {index.searcher.dimension}-dimensional vectors but the embedding "
                                   f"model makes {embedder.dimension}; {rebuild_hint(index.root, index.manifest)}")
        self.last_timings: dict[str, float] = {}
        self._files_by_surname: dict[str, set[str]] = defaultdict(set)
        for p in index.passages:
            for name in author_surnames(p.doc.author):
                self._files_by_surname[name].add(p.doc.file)

    def search(self, question: str, k: int | None = None) -> list[ScoredPassage]:
        """The k best distinct passages for a question, best first."""
        s = self.settings
        k = passages_wanted(k, s.k)
        query = clean_question(question, s.max_question_chars)
        if not self.index.passages:
            return []
        n = min(s.candidates, len(self.index.passages))
        named_files, topic = self.named_authors(query)
        t0 = time.perf_counter()
        vector = self.embedder.embed_query(topic)
        t1 = time.perf_counter()
        dense_ids, dense_scores = self.index.searcher.dense(vector, n)
        t2 = time.perf_counter()
        bm25_ids, bm25_scores = self._bm25(query, n)
        t3 = time.perf_counter()
        fused: dict[int, float] = defaultdict(float)
        for weight, ids in ((s.dense_weight, dense_ids), (s.bm25_weight, bm25_ids)):
            for rank, i in enumerate(ids):
                fused[int(i)] += weight / (s.rrf_k + rank + 1)
        if named_files:  # the question names an author: prefer that author's works
            for i in fused:
                if self.index.passages[i].doc.file in named_files:
                    fused[i] += s.author_bonus / (s.rrf_k + 1)
        dense = {int(i): float(v) for i, v in zip(dense_ids, dense_scores)}
        lexical = {int(i): float(v) for i, v in zip(bm25_ids, bm25_scores)}
        ranked = sorted(fused, key=fused.get, reverse=True)
        results = [ScoredPassage(passage=passage, score=fused[i], dense_score=dense.get(i), bm25_score=lexical.get(i))
                   for i, passage in self.distinct_passages(ranked, k)]
        t4 = time.perf_counter()
        self.last_timings = {"embed": (t1 - t0) * 1e3, "dense": (t2 - t1) * 1e3, "bm25": (t3 - t2) * 1e3,
                             "fusion": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3}
        return results

    def named_authors(self, query: str) -> tuple[set[str], str]:
        """Files whose author the question names, and the question without those names (for dense search)."""
        files: set[str] = set()
        topic = query
        for name, owned in self._files_by_surname.items():
            if re.search(rf"\b{re.escape(name)}\b", query):
                files |= owned
                topic = re.sub(rf"\b{re.escape(name)}(?:'s)?\b", " ", topic)
        topic = " ".join(topic.split())
        return files, topic if len(topic) > 10 else query

    def _bm25(self, query: str, n: int) -> tuple[list[int], list[float]]:
        return self.index.searcher.lexical(query_terms(query), n)

    def distinct_passages(self, ranked: list[int], k: int) -> list[tuple[int, Passage]]:
        """The k best distinct passages, as (hit chunk, passage), grown from chunk numbers ranked best first."""
        return [(i, self._window(lo, hi)) for i, lo, hi in self._windows(ranked, k)]

    def _windows(self, ranked: list[int], k: int) -> list[tuple[int, int, int]]:
        """(hit, first chunk, last chunk) for the best hits, each grown by its neighbours in the same
        document. Chunks share an overlap sentence with their neighbours, so windows never touch: a hit
        inside or next to a chosen window is merged into it instead of becoming a result of its own."""
        grow = self.settings.neighbours
        passages = self.index.passages
        windows: list[list[int]] = []  # [hit, lo, hi]
        owner: dict[int, int] = {}  # chunk -> window number

        def same_doc(a: int, b: int) -> bool:
            return 0 <= b < len(passages) and passages[a].doc.file == passages[b].doc.file

        def free(i: int, j: int) -> bool:  # chunk j can join the window of hit i without touching another
            return same_doc(i, j) and j not in owner and (j - 1 not in owner or owner[j - 1] == owner.get(i)) \
                and (j + 1 not in owner or owner[j + 1] == owner.get(i))

        for i in ranked:
            if len(windows) == k:
                break
            if i in owner:
                continue
            touching = {owner[j] for j in (i - 1, i + 1) if j in owner and same_doc(i, j)}
            if len(touching) == 1:  # next to one window: merge into it
                near = touching.pop()
                w = windows[near]
                w[1], w[2] = min(w[1], i), max(w[2], i)
                owner[i] = near
                continue
            if touching:  # between two windows: its text is already shown
                continue
            number = len(windows)
            owner[i] = number
            lo = hi = i
            while i - lo < grow and free(i, lo - 1):
                lo -= 1
                owner[lo] = number
            while hi - i < grow and free(i, hi + 1):
                hi += 1
                owner[hi] = number
            windows.append([i, lo, hi])
        return [tuple(w) for w in windows]

    def _window(self, lo: int, hi: int) -> Passage:
        """One passage spanning chunks lo..hi (their shared overlap sentences written once)."""
        chunks = self.index.passages[lo : hi + 1]
        if len(chunks) == 1:
            return chunks[0]
        text = chunks[0].text
        for nxt in chunks[1:]:
            text = _join_overlapping(text, nxt.text)
        first, last = chunks[0], chunks[-1]
        pid = hashlib.sha1(f"{first.passage_id}:{last.passage_id}".encode()).hexdigest()[:12]
        return first.model_copy(update={"passage_id": pid, "end": last.end, "line_end": last.line_end, "text": text})


def _join_overlapping(a: str, b: str) -> str:
    """a + b, writing once the sentences that end a and begin b."""
    for j in range(max(0, len(a) - len(b)), len(a)):
        if (j == 0 or a[j - 1].isspace()) and b.startswith(a[j:]):
            return a[:j] + b
    return a + "\n\n" + b
