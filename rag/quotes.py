"""Quote verification: a quotation is shown only if it is found in the document it cites.

Matching uses the evaluation's normalization (hyphenated line breaks joined, whitespace collapsed) on the
document without its front matter and page furniture: a quotation may cross a page break, never include a
running head, nor the YAML front matter a Markdown file opens with.
A near miss (a changed word or two, different punctuation) is repaired to the exact verbatim span
when one place in the document matches clearly better than any other; otherwise it is rejected.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.store import Index
from rag.structure import find_front_matter, find_running_heads, furniture_spans
from rag.text import MappedText, map_text, normalize
from rag.types import Passage, Quote

_WINDOW = 4  # words per anchor when looking for a near miss
MIN_QUOTE_WORDS = 3
REPAIR_MIN_RATIO = 0.85
_QUOTE_MARKS = "\"'“”‘’«»"


@dataclass(frozen=True)
class Located:
    start: int  # offsets in the original document
    end: int
    text: str  # the verbatim (normalized) text at that place
    repaired: bool


@lru_cache(maxsize=64)
def _mapped(text: str) -> MappedText:
    """The document as quotations are matched against it: normalized, front matter and page furniture (running heads)
    left out. A quotation may run across a page break, but never includes the running head between its parts."""
    return map_text(text, furniture_spans(find_front_matter(text), find_running_heads(text)))


def text_at(document: str, start: int, end: int) -> str:
    """What a quotation of document[start:end] says: the normalized text there, without page furniture."""
    doc = _mapped(document)
    return doc.text[int(np.searchsorted(doc.offsets, start)) : int(np.searchsorted(doc.offsets, end))].strip()


def locate(quote: str, document: str, allow_repair: bool = True) -> Located | None:
    """Where `quote` occurs in `document` after normalization; a unique near miss is repaired."""
    wanted = normalize(quote).strip(" \"'“”‘’")
    if len(wanted.split()) < MIN_QUOTE_WORDS:
        return None
    doc = _mapped(document)
    at = doc.text.find(wanted)
    if at >= 0:
        start, end = doc.span(at, at + len(wanted))
        return Located(start, end, wanted, repaired=False)
    if not allow_repair:
        return None
    return _repair(wanted, doc)


def _repair(wanted: str, doc: MappedText) -> Located | None:
    """Find the one region of the document that a slightly garbled quotation was taken from."""
    words = wanted.split()
    if len(words) < 2 * _WINDOW:
        return None
    starts = Counter()
    for i in range(len(words) - _WINDOW + 1):
        gram = " ".join(words[i : i + _WINDOW])
        pos = doc.text.find(gram)
        hits = 0
        while pos >= 0 and hits < 5:
            starts[_word_start(doc.text, pos, i)] += 1
            pos = doc.text.find(gram, pos + 1)
            hits += 1
    if not starts:
        return None
    best = []
    for anchor, _ in starts.most_common(3):
        region = _region(doc.text, anchor, len(words))
        ratio = difflib.SequenceMatcher(None, words, region[2].split(), autojunk=False).ratio()
        best.append((ratio, region))
    best.sort(key=lambda r: r[0], reverse=True)
    ratio, (a, b, text) = best[0]
    runner_up = best[1][0] if len(best) > 1 and best[1][1][0] != a else 0.0
    if ratio < REPAIR_MIN_RATIO or runner_up >= ratio - 0.05:
        return None
    start, end = doc.span(a, b)
    return Located(start, end, text, repaired=True)


def _word_start(text: str, pos: int, words_before: int) -> int:
    """Offset of the word `words_before` words before `pos` (where the quote would begin)."""
    a = pos
    for _ in range(words_before):
        prev = text.rfind(" ", 0, max(a - 1, 0))
        if prev < 0:
            return 0
        a = prev + 1
    return a


def _region(text: str, start: int, n_words: int) -> tuple[int, int, str]:
    """The n_words words of text starting at `start`, as (start, end, text)."""
    matches = list(re.finditer(r"\S+", text[start : start + n_words * 40]))[:n_words]
    end = start + matches[-1].end() if matches else start
    # a repaired quotation starts and ends on words, not on the source's own quotation marks
    while start < end and text[start] in _QUOTE_MARKS:
        start += 1
    while end > start and text[end - 1] in _QUOTE_MARKS:
        end -= 1
    return start, end, text[start:end]


def passage_at(index: Index, file: str, start: int, end: int) -> Passage | None:
    """The indexed passage that holds most of a span (for its page and section)."""
    best, best_shared = None, 0
    for p in index.passages_of(file):
        shared = min(p.end, end) - max(p.start, start)
        if shared > best_shared:
            best, best_shared = p, shared
    return best


def verify_quote(index: Index, file: str, text: str, allow_repair: bool = True) -> Quote | None:
    """A verified Quote for `text` in document `file`, or None if it is not there."""
    if file not in index.manifest["files"]:
        return None
    found = locate(text, index.document_text(file), allow_repair)
    if found is None:
        return None
    passage = passage_at(index, file, found.start, found.end)
    citation = passage.citation if passage else file
    return Quote(doc=file, text=found.text, start=found.start, end=found.end, citation=citation,
                 passage_id=passage.passage_id if passage else "", repaired=found.repaired)
