"""Property tests: map_text cleans exactly as the evaluation's normalize does and keeps true offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.text import line_of, line_starts, map_text, normalize

# Pieces that exercise every rule: words, hyphenated line breaks (with and without indentation),
# plain hyphens, whitespace runs of every kind, blank lines (paragraphs), non-ASCII spaces.
PIECES = ["word", "Tom", "ab", "x", "1930", ".", ",", "-", "-\n", "-\n  ", "-\n\n", " ", "  ", "\t", "\n", "\n\n",
          " \n \n ", "\u00a0", "\u2009", "é", "—"]


@st.composite
def text_and_drops(draw):
    """A text built from PIECES and sorted, non-overlapping [start, end) ranges to drop from it."""
    text = "".join(draw(st.lists(st.sampled_from(PIECES), max_size=40)))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    drops = [(a, b) for a, b in zip(cuts[0::2], cuts[1::2])]
    return text, drops


def without(text: str, drops: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """text[start:end] with the dropped ranges taken out."""
    end = len(text) if end is None else end
    return "".join(text[i] for i in range(start, end) if not any(a <= i < b for a, b in drops))


@settings(max_examples=400, deadline=None)
@given(text_and_drops(), st.booleans())
def test_mapped_text_normalizes_like_the_evaluation(case, keep_paragraphs):
    text, drops = case
    mapped = map_text(text, drops, keep_paragraphs=keep_paragraphs)
    assert normalize(mapped.text) == normalize(without(text, drops))
    if not keep_paragraphs:
        assert mapped.text == normalize(without(text, drops))


@settings(max_examples=400, deadline=None)
@given(text_and_drops(), st.booleans())
def test_every_mapped_character_comes_from_its_offset(case, keep_paragraphs):
    text, drops = case
    mapped = map_text(text, drops, keep_paragraphs=keep_paragraphs)
    assert len(mapped.offsets) == len(mapped.text)
    assert all(mapped.offsets[i] < mapped.offsets[i + 1] for i in range(len(mapped.offsets) - 1) if mapped.text[i] != "\n")
    for i, ch in enumerate(mapped.text):
        source = int(mapped.offsets[i])
        assert not any(a <= source < b for a, b in drops), "a character was taken from a dropped range"
        if ch.isspace():
            assert text[source].isspace(), "a separator must stand for whitespace in the original"
        else:
            assert text[source] == ch


@settings(max_examples=300, deadline=None)
@given(text_and_drops(), st.data())
def test_span_of_a_slice_normalizes_to_the_slice(case, data):
    text, drops = case
    mapped = map_text(text, drops, keep_paragraphs=True)
    solid = [i for i, ch in enumerate(mapped.text) if not ch.isspace()]
    if not solid:
        return
    a = data.draw(st.sampled_from(solid))
    b = data.draw(st.sampled_from([i for i in solid if i >= a])) + 1
    start, end = mapped.span(a, b)
    assert normalize(without(text, drops, start, end)) == normalize(mapped.text[a:b])


def test_hyphenated_break_is_joined_and_offsets_skip_it():
    original = "the contradic-\n   tions of  NEP\n\nNext para"
    mapped = map_text(original, keep_paragraphs=True)
    assert mapped.text == "the contradictions of NEP\n\nNext para"
    i = mapped.text.index("tions")
    assert original[mapped.offsets[i] : mapped.offsets[i] + 5] == "tions"
    assert mapped.span(4, 18) == (4, original.index("tions") + 5)


def test_dropped_running_head_disappears():
    original = "end of a sen-\n20 Charles Bettelheim\ntence here"
    head = original.index("20 Charles")
    mapped = map_text(original, [(head, original.index("tence"))])
    assert mapped.text == "end of a sentence here"


def test_line_numbers():
    starts = line_starts("ab\ncd\n\nef")
    assert [line_of(starts, i) for i in (0, 2, 3, 6, 7)] == [1, 1, 2, 3, 4]


def test_book_headings_wrapped_over_several_lines_are_read_whole():
    from rag.structure import find_headings

    text = ("the crisis of 1927-1928.\n\n III. The factors determining the\nabandonment of the NEP in trade\n"
            "and industry from 1926 on\n\nThe turn made in 1926 was sharp.\n\nIV. Prices\n\nText. More text.\n\n"
            "V. A numbered point that is a paragraph,\nnot a title. It goes on\nfor a while.\n\n")
    titles = [title for _, title in find_headings(text)]
    assert titles[:2] == ["III. The factors determining the abandonment of the NEP in trade and industry from 1926 on",
                          "IV. Prices"]
    assert not any("not a title" in title for title in titles)  # lines with sentence ends are body text
