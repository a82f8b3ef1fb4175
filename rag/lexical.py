"""The words BM25 sees: lower-cased, stop words dropped, stemmed (bm25s's tokenizer), shared by every store so
that bm25s and Milvus score the same terms.

The stemmer is Snowball's English one, after a transliterated Russian plural loses its ending: "sovnarkhozy",
"kulaki" and "bednyaki" are stemmed as "sovnarkhoz", "kulak" and "bednyak", as the texts mostly write them
(Snowball alone makes "sovnarkhozi"). A word counts as English, and keeps its ending, when it is a whole word of
the bundled MiniLM's WordPiece vocabulary (about 22k words: "crazy", "khaki" stay as they are).
"""

from __future__ import annotations

import functools
import re

# bm25s's defaults (Lucene's BM25); the Milvus store is given the same, so both rank passages alike
BM25_K1 = 1.5
BM25_B = 0.75
LEXICAL_VERSION = 2  # in the index fingerprint: 2 drops Russian plural endings before stemming


def bm25_tokenize(texts: list[str], stopwords: str | list[str] = "en"):
    """bm25s.Tokenized (ids and vocabulary) of texts."""
    import bm25s

    return bm25s.tokenize(texts, stopwords=stopwords, stemmer=stem_words, show_progress=False)


# Russian nominative plurals: -y after z ("kolkhozy"), -i after k, g and the kh/zh/sh/ch of transliteration
# ("kulaki", "glavki"); other English-like endings (-ly, -ry, -ty, -ny) are left to the English stemmer
_RUSSIAN_PLURAL = re.compile(r"[a-z]{4,}(?:zy|[kgh]i)")


def stem_words(words: list[str]) -> list[str]:
    """The stems of lower-cased words (see the module docstring)."""
    english = english_words()
    plain = [w[:-1] if _RUSSIAN_PLURAL.fullmatch(w) and w not in english else w for w in words]
    return _snowball().stemWords(plain)


def stem(word: str) -> str:
    return stem_words([word])[0]


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
