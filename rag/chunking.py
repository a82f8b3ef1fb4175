"""Clean a loaded file (keeping offsets) and cut it into sentence- and paragraph-aware passages."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.loaders import LoadedFile
from rag.settings import ChunkingSettings
from rag.structure import PageMap, RunningHead, find_front_matter, find_headings, find_running_heads, furniture_spans
from rag.text import NOTE_MARKER, MappedText, line_of, line_starts, map_text
from rag.types import DocumentInfo, Passage, Sentence

TokenCounter = Callable[[list[str]], list[int]]

# A sentence ends at . ! or ? (maybe followed by a quote, bracket, closing bold or note number) before whitespace and a
# capital, digit or opening quote, maybe in bold (". **Boris Steelman** reported"). Italic marks are left out: a note's
# "...” *Pravda* (May 5, 1958)" would be cut from its quotation, and no measurement says whether that reads better.
_SENTENCE_END = re.compile(rf"[.!?][\"'”’)\]]*(?:\*\*)?{NOTE_MARKER}?(?=\s+(?:\*\*)?[\"'“‘(\[]?[A-Z0-9])")
_NO_BREAK_BEFORE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Vol|vol|No|no|pp|p|cf|ed|eds|trans|Ibid|ibid|op|cit|al|etc|i\.e|e\.g|vs|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])$"
)


@dataclass
class ParsedDocument:
    """A file with its structure found and its text cleaned, mapped back to the original."""

    info: DocumentInfo
    original: str
    heads: list[RunningHead]
    clean: MappedText
    page_map: PageMap
    headings: list[tuple[int, str]]
    line_starts: np.ndarray


def parse_document(loaded: LoadedFile, info: DocumentInfo) -> ParsedDocument:
    """Find running heads, pages and headings, and clean the text (front matter and heads removed, words joined)."""
    text = loaded.text
    heads = find_running_heads(text)
    markers = loaded.page_starts or [(h.start, h.page) for h in heads]
    if loaded.page_starts:  # PDF page starts are exact: close the last page at the end of the text, so it is marked too
        markers = [*markers, (len(text), loaded.page_starts[-1][1] + 1)]
    front = find_front_matter(text)
    clean = map_text(text, furniture_spans(front, heads), keep_paragraphs=True)
    headings = [(pos, title) for pos, title in find_headings(text) if not front or pos >= front[1]]  # "# a comment" in YAML
    return ParsedDocument(info, text, heads, clean, PageMap(markers, len(text)), headings, line_starts(text))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of a paragraph."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if _NO_BREAK_BEFORE.search(text[max(start, m.start() - 8) : m.start()]):
            continue
        spans.append((start, m.end()))
        start = m.end()
        while start < len(text) and text[start].isspace():
            start += 1
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def chunk_document(doc: ParsedDocument, count_tokens: TokenCounter,
                   settings: ChunkingSettings) -> tuple[list[Passage], list[Sentence]]:
    """Cut the cleaned text into passages of at most `settings.max_tokens` tokens, and into sentences.

    Passages end at sentence ends, prefer paragraph ends, start afresh at a heading, and repeat
    the last `overlap_sentences` sentences of the previous passage. The sentences (sentences longer
    than the limit cut at word boundaries) are the units passages are made of, in document order:
    every passage is a run of whole sentences.
    """
    text = doc.clean.text
    units = _sentence_units(text)
    if not units:
        return [], []
    counts = count_tokens([text[a:b] for a, b in units])
    units, counts = _split_long_units(text, units, counts, settings.max_tokens, count_tokens)
    heading_starts = _heading_offsets_in_clean(doc)
    chunks: list[tuple[int, int]] = []  # ranges of unit indices
    first, total = 0, 0
    for i, (span, n) in enumerate(zip(units, counts)):
        new_section = i > first and bisect.bisect_right(heading_starts, span[0]) != bisect.bisect_right(heading_starts, units[first][0])
        too_big = total + n > settings.max_tokens
        para_break = i > first and "\n\n" in text[units[i - 1][1] : span[0]] and total >= settings.max_tokens * 0.6
        if i > first and (too_big or new_section or para_break):
            chunks.append((first, i))
            back = 0 if new_section else min(settings.overlap_sentences, i - first - 1)
            while back and sum(counts[i - back : i]) + n > settings.max_tokens * 0.4:
                back -= 1
            first, total = i - back, sum(counts[i - back : i])
        total += n
    chunks.append((first, len(units)))
    sentences = [Sentence(doc.info.file, *doc.clean.span(a, b), text[a:b]) for a, b in units]
    return [_make_passage(doc, units[a][0], units[b - 1][1]) for a, b in chunks], sentences


def _sentence_units(text: str) -> list[tuple[int, int]]:
    units = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]*)*", text):
        for a, b in split_sentences(para.group()):
            units.append((para.start() + a, para.start() + b))
    return units


def _split_long_units(text, units, counts, limit, count_tokens):
    """Cut sentences longer than the limit at word boundaries (never mid-word)."""
    out_units, out_counts = [], []
    for (a, b), n in zip(units, counts):
        if n <= limit:
            out_units.append((a, b))
            out_counts.append(n)
            continue
        words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", text[a:b])]
        step = max(1, int(len(words) * limit / n * 0.8))
        for j in range(0, len(words), step):
            piece = (words[j][0], words[min(j + step, len(words)) - 1][1])
            out_units.append(piece)
            out_counts.append(count_tokens([text[piece[0] : piece[1]]])[0])
    return out_units, out_counts


def _heading_offsets_in_clean(doc: ParsedDocument) -> list[int]:
    offsets = doc.clean.offsets
    return [int(bisect.bisect_left(offsets, pos)) for pos, _ in doc.headings]


def _make_passage(doc: ParsedDocument, a: int, b: int) -> Passage:
    start, end = doc.clean.span(a, b)
    starts = doc.line_starts
    page, status = doc.page_map.page_at(start)
    heading_pos = [pos for pos, _ in doc.headings]
    h = bisect.bisect_right(heading_pos, start) - 1
    section = doc.headings[h][1] if h >= 0 else ""
    text = doc.clean.text[a:b]
    pid = hashlib.sha1(f"{doc.info.file}:{start}:{end}:{text}".encode()).hexdigest()[:12]
    return Passage(passage_id=pid, doc=doc.info, section=section, page=page, page_status=status,
                   start=start, end=end, line_start=line_of(starts, start), line_end=line_of(starts, end - 1), text=text)

