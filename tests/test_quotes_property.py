"""Property tests for quote verification: spans map back to the document, and nothing absent is accepted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rag.quotes import MIN_QUOTE_WORDS, locate, text_at, verify_quote
from rag.settings import Settings
from rag.store import load_index
from rag.text import normalize

# A small vocabulary, so words repeat (as in real prose) and near misses have rivals elsewhere.
VOCAB = ["the", "plan", "grain", "of", "1928", "peasants", "state", "price", "r\u00e9gime", "\u201cquota\u201d",
         "kolkhoz,", "\u0445\u043b\u0435\u0431", "sold", "less", "(see", "p.", "12)", "co-operative", "was", "a"]
ABSENT_WORDS = ["zebra", "quixotic", "marmalade", "xylophone", "nebula", "tundra", "walrus", "gazebo"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", " \n\t ", "-\n", "-\n   "]  # "-\n" is a hyphenated line break


def documents_of(min_words: int):
    """Documents of min_words to 120 words (fewer once hyphenated line breaks join some)."""
    words = st.lists(st.tuples(st.sampled_from(VOCAB), st.sampled_from(SEPARATORS)), min_size=min_words, max_size=120)
    return words.map(lambda pairs: "".join(w + s for w, s in pairs))


documents = documents_of(MIN_QUOTE_WORDS)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_verbatim(found, document: str) -> None:
    """What locate returns is, after normalization, exactly the document's text at the returned span."""
    assert 0 <= found.start < found.end <= len(document)
    assert normalize(document[found.start : found.end]) == found.text == text_at(document, found.start, found.end)
    assert found.text in normalize(document)


@PROPERTY
@given(document=documents, data=st.data())
def test_a_run_of_words_is_found_and_maps_back(document, data):
    normalized = normalize(document).split(" ")
    assume(len(normalized) >= MIN_QUOTE_WORDS)
    i = data.draw(st.integers(0, len(normalized) - MIN_QUOTE_WORDS))
    j = data.draw(st.integers(i + MIN_QUOTE_WORDS, len(normalized)))
    quote = " ".join(normalized[i:j])
    found = locate(quote, document)
    assert found is not None and not found.repaired
    assert found.text == quote.strip(" \"'\u201c\u201d\u2018\u2019")
    assert_verbatim(found, document)


@PROPERTY
@given(document=documents, data=st.data())
def test_a_raw_substring_is_found_and_maps_back(document, data):
    """A piece cut from the file as it is (line breaks, double spaces and all) is found where it was cut."""
    # cuts of 60 characters or more: most hold the 6 words a quotation needs (a shorter cut is rejected below,
    # and too many rejections make Hypothesis give up)
    a = data.draw(st.integers(0, max(0, len(document) - 60)))
    b = data.draw(st.integers(min(len(document), a + 60), len(document)))
    quote = document[a:b]
    wanted = normalize(quote).strip(" \"'\u201c\u201d\u2018\u2019")
    # a cut inside a hyphenated break ("...word-") is not text the document shows after normalization
    assume(len(wanted.split()) >= MIN_QUOTE_WORDS and wanted in normalize(document))
    found = locate(quote, document)
    assert found is not None and found.text == wanted
    assert_verbatim(found, document)


@PROPERTY
@given(document=documents_of(16), data=st.data())  # room for an 8-word quote after hyphen joins
def test_a_quote_with_a_word_swapped_is_never_accepted_as_it_is(document, data):
    normalized = normalize(document).split(" ")
    assume(len(normalized) >= 8)
    i = data.draw(st.integers(0, len(normalized) - 8))
    j = data.draw(st.integers(i + 8, len(normalized)))
    quote_words = normalized[i:j]
    quote_words[data.draw(st.integers(0, len(quote_words) - 1))] = data.draw(st.sampled_from(ABSENT_WORDS))
    found = locate(" ".join(quote_words), document)
    if found is not None:  # only ever as a repair to what the document really says
        assert found.repaired
        assert_verbatim(found, document)
    assert locate(" ".join(quote_words), document, allow_repair=False) is None


@PROPERTY
@given(document=documents, quote=st.lists(st.sampled_from(ABSENT_WORDS), min_size=MIN_QUOTE_WORDS, max_size=30))
def test_words_not_in_the_document_are_never_found(document, quote):
    assert locate(" ".join(quote), document) is None


@pytest.fixture(scope="module")
def small_index(small_index_dir):
    return load_index(small_index_dir, Settings(index_dir=small_index_dir))


def test_verify_quote_never_credits_the_wrong_document(small_index):
    files = sorted(small_index.manifest["files"])
    assert len(files) >= 2

    @PROPERTY
    @given(source=st.sampled_from(files), cited=st.sampled_from(files), data=st.data())
    def check(source, cited, data):
        words = text_at(small_index.document_text(source), 0, 10**9).split(" ")  # running heads are never quoted
        i = data.draw(st.integers(0, len(words) - MIN_QUOTE_WORDS))
        j = data.draw(st.integers(i + MIN_QUOTE_WORDS, min(len(words), i + 40)))
        quote = " ".join(words[i:j])
        cited_text = small_index.document_text(cited)
        for allow_repair in (True, False):
            result = verify_quote(small_index, cited, quote, allow_repair=allow_repair)
            if result is None:
                assert cited != source, "a quote was rejected by the document it comes from"
                continue
            assert result.doc == cited
            assert text_at(cited_text, result.start, result.end) == result.text  # verbatim in the cited document
            if not result.repaired:
                assert result.text == quote.strip(" \"'\u201c\u201d\u2018\u2019")
        if cited != source and quote not in text_at(cited_text, 0, 10**9):
            assert verify_quote(small_index, cited, quote, allow_repair=False) is None

    check()


def test_verify_quote_refuses_documents_not_in_the_index(small_index):
    text = small_index.document_text(min(small_index.manifest["files"]))
    quote = " ".join(normalize(text).split(" ")[:8])
    assert verify_quote(small_index, "not-indexed.txt", quote) is None
    assert verify_quote(small_index, "../" + min(small_index.manifest["files"]), quote) is None
