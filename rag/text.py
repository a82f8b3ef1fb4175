"""Text normalization that keeps a map back to the original characters.

`normalize` is the rule of the evaluation (and of quote verification): join hyphenated line
breaks, collapse whitespace, strip. `MappedText` applies the same rule while remembering, for
every output character, the offset of the input character it came from.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

import numpy as np

# Hyphenated line breaks and whitespace runs, less a lone " " (which maps to itself, and leaving
# it out keeps the Python work per match small on big files).
_RUN_TO_REWRITE = re.compile(r"-\n\s*|\s{2,}|[^\S ]")

YEAR = re.compile(r"\b(1\d{3}|20\d{2})(s?)\b")  # a year (group 1), or with group 2 a decade ("the 1920s")
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"

# English function words and the words a question is asked with ("what", "why", "did", "according"):
# they say how something is asked, not what it is about.
STOP_WORDS = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does did what which who
whom whose when where why how that this these those it its their there they them he she his her as than then
so such any all some about into over under between during after before according would could should can may
might will shall has have had also very our we us i you your while upon other only roughly around nearly
almost approximately own not no nor never without much""".split()  # noqa: SIM905
)


def normalize(text: str) -> str:
    """Normalize as the evaluation does: hyphen+line break removed, whitespace runs -> one space, stripped."""
    return re.sub(r"\s+", " ", re.sub(r"-\n\s*", "", text)).strip()


@dataclass(frozen=True)
class MappedText:
    """Text derived from an original string, with `offsets[i]` = original index of `text[i]`."""

    text: str
    offsets: np.ndarray

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of text[start:end] (end exclusive, text[end-1] must be a real character)."""
        return int(self.offsets[start]), int(self.offsets[end - 1]) + 1


def map_text(original: str, drop: list[tuple[int, int]] = (), keep_paragraphs: bool = False) -> MappedText:
    """Normalize `original` with the ranges in `drop` removed first, keeping offsets.

    With keep_paragraphs, a whitespace run holding a blank line becomes "\\n\\n" instead of " ",
    so paragraph structure survives for chunking; `normalize` of the result is unchanged.
    Memory stays a few bytes per character (int32 offsets, no per-match arrays): files can be 100 MB.
    """
    index_type = np.int32 if len(original) < 2**31 else np.int64
    if drop:
        keep = np.ones(len(original), dtype=bool)
        for a, b in drop:
            keep[a:b] = False
        runs = _runs(keep)
        kept_offsets = np.concatenate([np.arange(a, b, dtype=index_type) for a, b in runs] or [np.zeros(0, index_type)])
        kept = "".join(original[a:b] for a, b in runs)
    else:
        kept_offsets = None  # identity
        kept = original
    starts, ends, widths = array("q"), array("q"), array("b")

    def replace(m: re.Match) -> str:
        run = m.group()
        if run.startswith("-\n"):
            sep = ""  # hyphenated line break: the word is joined
        else:
            sep = "\n\n" if keep_paragraphs and run.count("\n") >= 2 else " "
            if sep == "\n\n" and m.start() and kept[m.start() - 1] == "-":
                sep = " "  # "-\n\n" would read as a hyphenated line break and join words the original keeps apart
        starts.append(m.start())
        ends.append(m.end())
        widths.append(len(sep))
        return sep

    text = _RUN_TO_REWRITE.sub(replace, kept)
    # copies[i] = how many output characters kept[i] becomes: 0 inside a run, the separator's width
    # at a run's first character, 1 elsewhere
    starts_np, ends_np = np.frombuffer(starts, dtype=np.int64), np.frombuffer(ends, dtype=np.int64)
    edges = np.zeros(len(kept) + 1, dtype=np.int8)
    edges[starts_np] += 1
    edges[ends_np] -= 1  # separate step: a run may end where the next begins
    copies = (1 - np.cumsum(edges[:-1], dtype=np.int8)).view(np.uint8)
    copies[starts_np] = np.frombuffer(widths, dtype=np.int8)
    # freed now (big files): the replace() closure is done with the run arrays
    starts = ends = widths = None
    del edges, starts_np, ends_np
    offsets = np.empty(len(text), dtype=index_type)
    filled, block = 0, 1 << 22
    for a in range(0, len(kept), block):  # in blocks, so no full-length temporary is needed
        part = np.repeat(np.arange(a, min(a + block, len(kept)), dtype=index_type), copies[a : a + block])
        offsets[filled : filled + len(part)] = part if kept_offsets is None else kept_offsets[part]
        filled += len(part)
    # strip leading/trailing whitespace, as normalize does
    lead = len(text) - len(text.lstrip())
    trail = len(text.rstrip())
    return MappedText(text[lead:trail], offsets[lead:trail])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs where mask is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def line_starts(original: str) -> np.ndarray:
    """Offsets where each line of `original` begins (line 1 at index 0)."""
    return np.concatenate([[0], np.flatnonzero(np.frombuffer(original.encode("utf-32-le"), dtype=np.uint32) == 10) + 1])


def line_of(starts: np.ndarray, offset: int) -> int:
    """1-based line number of a character offset."""
    return int(np.searchsorted(starts, offset, side="right"))


# A note number that may follow a sentence's closing punctuation: "...bodies.4", "...bodies.¹⁹", "...bodies.<sup>15</sup>"
# (the tag in either case, as HTML allows: "<SUP>15</SUP>"; the flag scoped to it, since a sentence's next word must
# still start with a capital)
SUP_TAG = r"(?i:<sup>[^<]{0,20}</sup>)"  # an HTML superscript, as a note's number is marked
NOTE_MARKER = rf"(?:\d{{1,3}}|[\u00b9\u00b2\u00b3\u2070\u2074-\u2079]{{1,3}}|{SUP_TAG})"
# "*" and "_" close Markdown emphasis around a whole sentence: "**The reform failed in every region.**"
_WHOLE_SENTENCE_END = re.compile(rf"[.!?][\"'\u201d\u2019)\]*_]*(?:\s*{NOTE_MARKER})?$")


def breaks_off(text: str) -> bool:
    """A sentence that stops without a full stop (a footnote number, maybe superscript, may follow it): cut off by a table, a page
    or a list ("...were, as we have seen,21"), it does not say what it set out to."""
    return not _WHOLE_SENTENCE_END.search(text.rstrip())
