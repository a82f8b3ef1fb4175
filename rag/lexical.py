"""The words BM25 sees: lower-cased, stop words dropped, Snowball-stemmed (bm25s's tokenizer), shared by every
store so that bm25s and Milvus score the same terms.

A transliterated Russian plural in a question is also searched as its singular (`singular_stems`): "sovnarkhozy"
as "sovnarkhozi" (Snowball's stem, which the texts' few plurals share) and "sovnarkhoz" (the singular, which the
texts mostly write). A word counts as English, and has no such variant, when it is a whole word of the bundled
MiniLM's WordPiece vocabulary (about 22k words: "crazy", "khaki" stay as they are).
"""

from __future__ import annotations

import functools
import re

# bm25s's defaults (Lucene's BM25); the Milvus store is given the same, so both rank passages alike
BM25_K1 = 1.5
BM25_B = 0.75

# Russian nominative plurals: -y after z ("kolkhozy"), -i after k, g and the kh/zh/sh/ch of transliteration
# ("kulaki", "glavki"); other English-like endings (-ly, -ry, -ty, -ny) are left to the English stemmer
_RUSSIAN_PLURAL = re.compile(r"[a-z]{4,}(?:zy|[kgh]i)")


def bm25_tokenize(texts: list[str], stopwords: str | list[str] = "en"):
    """bm25s.Tokenized (ids and vocabulary) of texts."""
    import bm25s

    return bm25s.tokenize(texts, stopwords=stopwords, stemmer=_snowball(), show_progress=False)


def singular_stems(text: str) -> list[str]:
    """The stems of the singulars of the Russian plurals in a text ("kulaki" -> "kulak"), in order."""
    words = re.findall(r"(?u)\b\w\w+\b", text.lower())  # bm25s's token pattern
    return [stem(w) for w in words if _singular(w)]


def stem(word: str) -> str:
    """Snowball's English stem of a lower-cased word; a Russian plural's is its singular's ("kulaki" -> "kulak")."""
    return _snowball().stemWord(_singular(word) or word)


def _singular(word: str) -> str | None:
    """The singular of a transliterated Russian plural that is not an English word, else None."""
    return word[:-1] if _RUSSIAN_PLURAL.fullmatch(word) and word not in english_words() else None


@functools.cache
def _snowball():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def english_words() -> frozenset[str]:
    """Whole words (no "##" pieces, letters only) of the bundled embedding model's WordPiece vocabulary."""
    from rag.embed import bundled_model_path

    vocab = (bundled_model_path() / "vocab.txt").read_text(encoding="utf-8").split()
    return frozenset(w for w in vocab if re.fullmatch(r"[a-z]+", w))


def term_lists(tokens) -> list[list[str]]:
    """The terms of each text of a bm25s.Tokenized, as words."""
    inverse = {v: k for k, v in tokens.vocab.items()}
    return [[inverse[t] for t in ids] for ids in tokens.ids]
