"""Text normalization that keeps a map back to the original characters.

`normalize` is the rule of the evaluation (and of quote verification): join hyphenated line
breaks, collapse whitespace, strip. `MappedText` applies the same rule while remembering, for
every output character, the offset of the input character it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_BREAK_OR_SPACE = re.compile(r"-\n\s*|\s+")


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
    """
    if drop:
        keep = np.ones(len(original), dtype=bool)
        for a, b in drop:
            keep[a:b] = False
        kept_offsets = np.flatnonzero(keep)
        kept = "".join(original[a:b] for a, b in _runs(keep))
    else:
        kept_offsets = np.arange(len(original))
        kept = original
    pieces: list[str] = []
    offsets: list[np.ndarray] = []
    pos = 0
    for m in _BREAK_OR_SPACE.finditer(kept):
        pieces.append(kept[pos : m.start()])
        offsets.append(kept_offsets[pos : m.start()])
        pos = m.end()
        if m.group().startswith("-\n"):
            continue  # hyphenated line break: the word is joined
        sep = "\n\n" if keep_paragraphs and m.group().count("\n") >= 2 else " "
        pieces.append(sep)
        offsets.append(np.full(len(sep), kept_offsets[m.start()]))
    pieces.append(kept[pos:])
    offsets.append(kept_offsets[pos:])
    text = "".join(pieces)
    all_offsets = np.concatenate(offsets) if offsets else np.zeros(0, dtype=np.int64)
    # strip leading/trailing whitespace, as normalize does
    lead = len(text) - len(text.lstrip())
    trail = len(text.rstrip())
    return MappedText(text[lead:trail], all_offsets[lead:trail].astype(np.int64))


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
