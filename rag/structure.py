"""Document structure found in the text: running heads (page markers), pages and section headings."""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from rag.types import PageStatus

# A running head is a short line of a number and a recurring label: "20 Charles Bettelheim",
# "Class Struggles in the USSR 95".
# OCR sometimes splits the number ("12 7"), so digits may be separated by a space.
_PAGE_NUMBER = r"(\d(?: ?\d){0,3})"
_HEAD_NUMBER_FIRST = re.compile(r"^[ \t]*+" + _PAGE_NUMBER + r"[ \t]++([^\d\n]{6,70}?)[ \t]*$", re.MULTILINE)
_HEAD_NUMBER_LAST = re.compile(r"^[ \t]*+([^\d\n]{6,70}?)[ \t]+" + _PAGE_NUMBER + r"[ \t]*$", re.MULTILINE)
_MIN_HEAD_REPEATS = 3

# YAML front matter (Jekyll, Hugo, Pandoc): a "---" line opening the text, up to 40 lines of YAML starting with a
# "key: value" line, a closing "---" or "..." line
_FRONT_MATTER = re.compile(r"\A\s*?^---[ \t]*\n((?:.*\n){1,40}?)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.MULTILINE)
_YAML_KEY = r"[ \t]*[A-Za-z_][\w -]*:(?:[ \t].*)?"
# a line of YAML: "key: value", a list item, a comment, an indented continuation, or blank; not a line of prose
_YAML_LINE = re.compile(rf"{_YAML_KEY}|[ \t]*(?:- .*|#.*)?|[ \t]+\S.*")

_MD_HEADING = re.compile(r"^[ \t]*+#{1,6}[ \t]++(.*[^ \t#\n])[ \t#]*$", re.MULTILINE)
# Book headings: "IV. The banking system", "Part 2.", "Chapter 3", possibly wrapped onto the next lines.
_BOOK_HEADING = re.compile(
    r"(?:^|\n)[ \t]*\n[ \t]*((?:[IVXL]{1,5}\.|Part[ \t]+\d+\.?|PART[ \t]+[IVX\d]+|Chapter[ \t]+\w+|CHAPTER[ \t]+\w+)"
    r"[^\n]{0,70})((?:\n[ \t]*[^\n.]{1,60}){1,3}(?=\n[ \t]*\n))?"  # a title may wrap onto up to 3 more lines
)


@dataclass(frozen=True)
class RunningHead:
    start: int  # offset of the line in the original text
    end: int  # offset just past the line and its newline
    page: int


def find_front_matter(text: str) -> tuple[int, int] | None:
    """[start, end) of a YAML front-matter block at the top of a text: facts about the file (rag.loaders reads them),
    not its text, so it is left out of passages, sentences and quotations, as running heads are."""
    m = _FRONT_MATTER.match(text)
    lines = m.group(1).splitlines() if m else []
    if not lines or not re.fullmatch(_YAML_KEY, lines[0]) or not all(_YAML_LINE.fullmatch(line) for line in lines):
        return None  # a rule, then prose ("---\nChapter 1: The Plan\nProcurements fell..."), is text
    return m.start(), m.end()


def furniture_spans(front: tuple[int, int] | None, heads: list[RunningHead]) -> list[tuple[int, int]]:
    """[start, end) spans of a text that are about it, not of it, left out of its passages, sentences and quotations
    alike: its front matter (find_front_matter) and its running heads."""
    return [*([front] if front else []), *((h.start, h.end) for h in heads)]


def find_running_heads(text: str) -> list[RunningHead]:
    """Lines that repeat a label with a page number often enough to be running heads."""
    by_label: dict[str, list[RunningHead]] = defaultdict(list)
    for pattern, num_group, label_group in ((_HEAD_NUMBER_FIRST, 1, 2), (_HEAD_NUMBER_LAST, 2, 1)):
        for m in pattern.finditer(text):
            label = " ".join(m.group(label_group).split()).lower()
            if len(label.split()) < 2 or not re.search(r"[a-z]{3}", label):
                continue
            end = m.end() + 1 if m.end() < len(text) and text[m.end()] == "\n" else m.end()
            by_label[label].append(RunningHead(m.start(), end, int(m.group(num_group).replace(" ", ""))))
    heads: list[RunningHead] = []
    for found in by_label.values():
        pages = [h.page for h in found]
        rising = sum(b > a for a, b in pairwise(pages))
        if len(found) >= _MIN_HEAD_REPEATS and rising >= 0.8 * (len(found) - 1):
            heads.extend(found)
    return sorted(heads, key=lambda h: h.start)


class PageMap:
    """Page of any offset, from page markers (running heads or PDF page starts).

    A page is `marked` when the offset lies between the markers of two consecutive pages, and
    `estimated` (interpolated by characters per page) when markers are sparser than that.
    """

    def __init__(self, markers: list[tuple[int, int]], text_length: int):
        self.markers = sorted(markers)
        self.offsets = [m[0] for m in self.markers]
        self.text_length = text_length
        if len(self.markers) >= 2:
            (a, pa), (b, pb) = self.markers[0], self.markers[-1]
            self.chars_per_page = (b - a) / max(pb - pa, 1)
        else:
            self.chars_per_page = 0.0

    def page_at(self, offset: int) -> tuple[int | None, PageStatus]:
        if not self.markers:
            return None, "unknown"
        i = bisect.bisect_right(self.offsets, offset) - 1
        if i < 0:  # before the first marker: count back
            if not self.chars_per_page:
                return None, "unknown"
            pos, page = self.markers[0]
            return max(1, page - 1 - int((pos - offset) / self.chars_per_page)), "estimated"
        pos, page = self.markers[i]
        if i + 1 < len(self.markers):
            next_pos, next_page = self.markers[i + 1]
            if next_page == page + 1:
                return page, "marked"
            per_page = (next_pos - pos) / max(next_page - page, 1)
            return page + int((offset - pos) / per_page), "estimated"
        if pos == self.offsets[-1] and offset - pos < (self.chars_per_page or 0) * 0.5:
            return page, "estimated"
        if not self.chars_per_page:
            return page, "estimated"
        return page + int((offset - pos) / self.chars_per_page), "estimated"


def find_headings(text: str) -> list[tuple[int, str]]:
    """(offset, heading) for Markdown headings and book chapter/part headings, in order."""
    found = [(m.start(), _clean_heading(m.group(1))) for m in _MD_HEADING.finditer(text)]
    for m in _BOOK_HEADING.finditer(text):
        title = m.group(1) + (" " + m.group(2).strip() if m.group(2) else "")
        found.append((m.start(1), _clean_heading(title)))
    return sorted((pos, title) for pos, title in found if title)


def _clean_heading(heading: str) -> str:
    return " ".join(heading.replace("*", " ").replace("_", " ").split()).strip(" .:")
