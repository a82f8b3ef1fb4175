"""The words BM25 sees: lower-cased, stop words dropped, Snowball-stemmed (bm25s's tokenizer), shared by every
store so that bm25s and Milvus score the same terms."""

from __future__ import annotations

# bm25s's defaults (Lucene's BM25); the Milvus store is given the same, so both rank passages alike
BM25_K1 = 1.5
BM25_B = 0.75


def bm25_tokenize(texts: list[str], stopwords: str | list[str] = "en"):
    """bm25s.Tokenized (ids and vocabulary) of texts."""
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords=stopwords, stemmer=Stemmer.Stemmer("english"), show_progress=False)


def term_lists(tokens) -> list[list[str]]:
    """The terms of each text of a bm25s.Tokenized, as words."""
    inverse = {v: k for k, v in tokens.vocab.items()}
    return [[inverse[t] for t in ids] for ids in tokens.ids]
