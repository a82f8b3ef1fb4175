"""The default answer generator: no LLM, no network. It answers with the retrieved sentences that
best answer the question, quoted verbatim and joined by short connective text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rag.chunking import split_sentences
from rag.embed import Embedder
from rag.generation import Draft, DraftQuote
from rag.reader import Reader
from rag.retrieve import author_surnames
from rag.settings import AnswerSettings
from rag.text import STOP_WORDS
from rag.types import ScoredPassage

MIN_QUOTE_WORDS = 6
SHORT_SENTENCE_WORDS = 25
SCORED_WORDS = 40
WEAKER_QUOTE_GAP = 0.15  # a further quotation must score within this of the best one
_MARKUP = re.compile(r"#|\*\*|\|")


@dataclass(frozen=True)
class Candidate:
    """A sentence that could be quoted, from passage number `passage` (1-based)."""

    passage: int
    text: str  # what would be quoted, and what the reading model reads


def content_words(text: str) -> set[str]:
    """Lower-case content words, crudely stemmed (plural s dropped), for overlap measures."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if w not in STOP_WORDS and len(w) > 1}


class ExtractiveGenerator:
    """Scores the sentences of the retrieved passages against the question and quotes the best ones."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: AnswerSettings | None = None, vocabulary: set[str] | None = None,
                 reader: Reader | None = None):
        self.embedder = embedder
        self.settings = settings or AnswerSettings()
        self.vocabulary = vocabulary  # every word of the indexed documents, lower-cased
        self.reader = reader  # the reading model; None in the fast mode

    def draft(self, question: str, passages: list[ScoredPassage]) -> Draft:
        if self.vocabulary is not None and unknown_names(question, self.vocabulary):
            return Draft(text="", abstained=True)  # the question is about someone or something the documents never mention
        picked, evidence = self.select(question, passages)
        threshold = self.settings.read_abstain_threshold if self.reader is not None else self.settings.abstain_threshold
        if not picked or evidence < threshold:
            return Draft(text="", abstained=True)
        return compose(picked, passages)

    def stream(self, question: str, passages: list[ScoredPassage]) -> Iterator[str | Draft]:
        yield self.draft(question, passages)

    def candidates(self, passages: list[ScoredPassage]) -> list[Candidate]:
        """Every sentence of the passages that could be quoted."""
        out = []
        for number, sp in enumerate(passages, start=1):
            for para in sp.passage.text.split("\n\n"):
                spans = split_sentences(para)
                for j, (a, b) in enumerate(spans):
                    if len(para[a:b].split()) < MIN_QUOTE_WORDS:
                        continue
                    if len(para[a:b].split()) < SHORT_SENTENCE_WORDS and j + 1 < len(spans):
                        b = spans[j + 1][1]  # a short sentence rarely stands alone: quote it with the next
                    sentence = para[a:b].strip().lstrip("-*• ")
                    if _MARKUP.search(sentence) or _starts_mid_sentence(sentence):  # headings and table rows are not answers
                        continue
                    out.append(Candidate(number, sentence))
        return out

    def select(self, question: str, passages: list[ScoredPassage]) -> tuple[list[tuple[int, str]], float]:
        """Chosen (passage number, sentence) pairs, best first, and the evidence score of the best one."""
        candidates = self.candidates(passages)
        if not candidates:
            return [], 0.0
        q_words = content_words(question)
        lexical = np.array([len(q_words & content_words(c.text)) / max(len(q_words), 1) for c in candidates])
        prior = np.array([1.0 / (c.passage + 1) for c in candidates])
        # Embedding every sentence is the slow part: embed only the most promising ones.
        keep = np.argsort(-(lexical + prior))[: self.settings.sentences_embedded]
        candidates = [candidates[i] for i in keep]
        lexical, prior = lexical[keep], prior[keep]
        q_vec = self.embedder.embed_query(question)
        # the opening words carry a sentence's topic; scoring on them keeps padded batches short
        s_vecs = self.embedder.embed_documents([" ".join(c.text.split()[:SCORED_WORDS]) for c in candidates])
        dense = s_vecs @ q_vec
        cheap = dense + 0.35 * lexical + 0.25 * prior
        if self.reader is not None:
            return self._read(question, passages, candidates, cheap, s_vecs)
        order = np.argsort(-cheap)
        chosen = _distinct_best(order, cheap, s_vecs, self.settings.max_quotes, WEAKER_QUOTE_GAP)
        evidence = float(dense[chosen[0]] + 0.35 * lexical[chosen[0]]) if chosen else 0.0
        return [(candidates[i].passage, candidates[i].text) for i in chosen], evidence

    def _read(self, question: str, passages: list[ScoredPassage], candidates: list[Candidate], cheap: np.ndarray,
              s_vecs: np.ndarray):
        """Selection by the reading model (rag.reader): lead with the candidate that explains the question best,
        then give each part of a two-part question, and each of two authors it names, an answer of its own,
        then add close seconds."""
        shortlist = np.argsort(-cheap)[: self.settings.sentences_read]
        shown = [candidates[i] for i in shortlist]
        vectors = s_vecs[shortlist]
        parts = question_parts(question)
        gains = self.reader.gain(parts, [c.text for c in shown])
        overall, threshold = gains.overall, self.settings.read_abstain_threshold
        chosen = [int(np.argmax(overall))]

        def add(i: int, score: float) -> None:
            if score >= threshold and i not in chosen and len(chosen) < self.settings.max_quotes \
                    and not _repeats(vectors, i, chosen):
                chosen.append(i)

        for p in range(len(parts)) if len(parts) > 1 else []:  # each part's best answer
            best = int(np.argmax(gains.by_part[:, p]))
            add(best, gains.by_part[best, p])
        works = _named_works(question, passages)
        for numbers in works.values() if len(works) > 1 else []:  # each named author's best answer
            theirs = [i for i in range(len(shown)) if shown[i].passage in numbers]
            if theirs and not any(shown[i].passage in numbers for i in chosen):
                best = max(theirs, key=lambda i: overall[i])
                add(best, overall[best])
        for i in np.argsort(-overall):
            if len(chosen) >= self.settings.max_quotes or overall[i] < overall[chosen[0]] - self.settings.read_quote_gap:
                break
            if int(i) not in chosen and not _repeats(vectors, int(i), chosen):
                chosen.append(int(i))
        return [(shown[i].passage, shown[i].text) for i in chosen], float(overall[chosen[0]])


def _named_works(question: str, passages: list[ScoredPassage]) -> dict[str, set[int]]:
    """Author surnames the question names -> numbers (1-based) of the passages by that author."""
    named: dict[str, set[int]] = {}
    for number, sp in enumerate(passages, start=1):
        for surname in author_surnames(sp.passage.doc.author):
            if re.search(rf"\b{re.escape(surname)}\b", question):
                named.setdefault(surname, set()).add(number)
    return named


def _repeats(vectors: np.ndarray, i: int, chosen: list[int]) -> bool:
    """True if candidate i says nearly the same as one already chosen."""
    return any(float(vectors[i] @ vectors[j]) > 0.85 for j in chosen)


_PART_BREAK = re.compile(r"(?<=\?)\s+(?=\S)|,?\s+(?=(?:and|but)\s+(?:how|why|what|when|where|who|whom|which|whether|"
                         r"did|does|do|was|were|is|are|has|have|had|can|could|would)\b)", re.IGNORECASE)


def question_parts(question: str, min_words: int = 3) -> list[str]:
    """A question cut where a second question begins ("..., and why did they ...?", "...? What ...?"); each part
    keeps its own words, so the parts read in order are the question. Parts under `min_words` stay joined."""
    parts: list[str] = []
    start = 0
    for m in _PART_BREAK.finditer(question):
        if len(question[start : m.start()].split()) >= min_words and len(question[m.end() :].split()) >= min_words:
            parts.append(question[start : m.start()].strip())
            start = m.end()
    parts.append(question[start:].strip())
    return [p for p in parts if p]


def _distinct_best(order, scores: np.ndarray, vectors: np.ndarray, most: int, gap: float) -> list[int]:
    """Up to `most` candidates in `order`, skipping near-repeats and any scoring `gap` below the best."""
    chosen: list[int] = []
    for i in order:
        if len(chosen) == most:
            break
        if _repeats(vectors, int(i), chosen):
            continue  # nearly the same sentence again
        if chosen and scores[i] < scores[chosen[0]] - gap:
            break  # much weaker than the best: leave it out
        chosen.append(int(i))
    return chosen


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

