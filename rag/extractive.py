"""The default answer generator: no LLM, no network. It answers with the retrieved sentences that
best answer the question, quoted verbatim and joined by short connective text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from rag.chunking import split_sentences
from rag.embed import Embedder
from rag.generation import Draft, DraftQuote
from rag.retrieve import author_surnames
from rag.settings import AnswerSettings
from rag.text import STOP_WORDS
from rag.types import ScoredPassage

MIN_QUOTE_WORDS = 6
SHORT_SENTENCE_WORDS = 25
SCORED_WORDS = 40
WEAKER_QUOTE_GAP = 0.15  # a further quotation must score within this of the best one
_MARKUP = re.compile(r"#|\*\*|\|")


def content_words(text: str) -> set[str]:
    """Lower-case content words, crudely stemmed (plural s dropped), for overlap measures."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if w not in STOP_WORDS and len(w) > 1}


class ExtractiveGenerator:
    """Scores the sentences of the retrieved passages against the question and quotes the best ones."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: AnswerSettings | None = None, vocabulary: set[str] | None = None):
        self.embedder = embedder
        self.settings = settings or AnswerSettings()
        self.vocabulary = vocabulary  # every word of the indexed documents, lower-cased

    def draft(self, question: str, passages: list[ScoredPassage]) -> Draft:
        if self.vocabulary is not None and unknown_names(question, self.vocabulary):
            return Draft(text="", abstained=True)  # the question is about someone or something the documents never mention
        picked, evidence = self.select(question, passages)
        if not picked or evidence < self.settings.abstain_threshold:
            return Draft(text="", abstained=True)
        return compose(picked, passages)

    def stream(self, question: str, passages: list[ScoredPassage]) -> Iterator[str | Draft]:
        yield self.draft(question, passages)

    def select(self, question: str, passages: list[ScoredPassage]) -> tuple[list[tuple[int, str]], float]:
        """Chosen (passage number, sentence) pairs, best first, and the evidence score of the best one."""
        candidates = []  # (passage no., sentence text, rank prior)
        for number, sp in enumerate(passages, start=1):
            for para in sp.passage.text.split("\n\n"):
                spans = split_sentences(para)
                for j, (a, b) in enumerate(spans):
                    if len(para[a:b].split()) < MIN_QUOTE_WORDS:
                        continue
                    if len(para[a:b].split()) < SHORT_SENTENCE_WORDS and j + 1 < len(spans):
                        b = spans[j + 1][1]  # a short sentence rarely stands alone: quote it with the next
                    sentence = para[a:b].strip().lstrip("-*• ")
                    if not _MARKUP.search(sentence) and not _starts_mid_sentence(sentence):  # headings and table rows are not answers
                        candidates.append((number, sentence, 1.0 / (number + 1)))
        if not candidates:
            return [], 0.0
        q_words = content_words(question)
        lexical = np.array([len(q_words & content_words(c[1])) / max(len(q_words), 1) for c in candidates])
        prior = np.array([c[2] for c in candidates])
        # Embedding every sentence is the slow part: embed only the most promising ones.
        keep = np.argsort(-(lexical + prior))[: self.settings.sentences_embedded]
        candidates = [candidates[i] for i in keep]
        lexical, prior = lexical[keep], prior[keep]
        q_vec = self.embedder.embed_query(question)
        # the opening words carry a sentence's topic; scoring on them keeps padded batches short
        s_vecs = self.embedder.embed_documents([" ".join(c[1].split()[:SCORED_WORDS]) for c in candidates])
        dense = s_vecs @ q_vec
        scores = dense + 0.35 * lexical + 0.25 * prior
        order = np.argsort(-scores)
        chosen: list[int] = []
        for i in order:
            if len(chosen) == self.settings.max_quotes:
                break
            if any(float(s_vecs[i] @ s_vecs[j]) > 0.85 for j in chosen):
                continue  # nearly the same sentence again
            if chosen and scores[i] < scores[chosen[0]] - WEAKER_QUOTE_GAP:
                break  # much weaker than the best: leave it out
            chosen.append(int(i))
        evidence = float(dense[chosen[0]] + 0.35 * lexical[chosen[0]]) if chosen else 0.0
        return [(candidates[i][0], candidates[i][1]) for i in chosen], evidence


def _starts_mid_sentence(text: str) -> bool:
    """A fragment cut off by a page or note break ("expectation of local organs..."): not a quotation to open with."""
    first = next((ch for ch in text if ch.isalpha()), "")
    return first.islower()


def unknown_names(question: str, vocabulary: set[str]) -> list[str]:
    """Capitalized names in the question (not sentence-initial) that occur nowhere in the documents."""
    names = re.findall(r"(?<![.?!:]\s)(?<!^)\b([A-Z][A-Za-z]+(?:-[A-Za-z]+)*)", question.strip())
    return [n for n in names if len(n) >= 3 and not set(n.lower().split("-")) <= vocabulary]


def document_vocabulary(texts) -> set[str]:
    """Lower-case words of the documents, for unknown_names."""
    words: set[str] = set()
    for text in texts:
        words.update(re.findall(r"[a-z]+", text.lower()))
    return words


def compose(picked: list[tuple[int, str]], passages: list[ScoredPassage]) -> Draft:
    """Answer text: the quotations, grouped by work, with short connective phrases between them."""
    lines, quotes, last_doc = [], [], None
    for n, (number, sentence) in enumerate(picked, start=1):
        doc = passages[number - 1].passage.doc
        marker = f"{{{{Q{n}}}}}"
        quotes.append(DraftQuote(text=sentence, passage=number, marker=marker))
        who = " and ".join(author_surnames(doc.author)) or doc.short_title()
        year = f" ({doc.year})" if doc.year else ""
        if n == 1:
            lead = f"According to {who}{year}:"
        elif doc.file == last_doc:
            lead = f"{who} also writes:" if n % 2 == 0 else "Elsewhere in the same work:"
        else:
            lead = f"{who}{year}, for their part, writes:" if " and " in who else f"{who}{year} writes:"
        lines.append(f"{lead} {marker}")
        last_doc = doc.file
    return Draft(text="\n\n".join(lines), quotes=quotes)

