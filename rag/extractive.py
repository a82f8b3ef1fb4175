"""The default answer generator: no LLM, no network. It answers with the retrieved sentences that
best answer the question, quoted verbatim and joined by short connective text.

Two modes (settings.answer.mode):
- read (default): the reading model (rag.reader, gemma-3-270m query likelihood) reads the most promising
  sentences and picks those that make the question most likely; they answer at all if the best one makes the
  question more likely than no passage does (or, once training/calibrate_reader.py has written
  rag/calibration.json, by its logistic model of the reading features). While the model loads in the
  background, and for follow-ups (rag.chain), the fast mode answers.
- fast: sentences ranked by embedding cosine, word overlap and passage rank, with a calibrated threshold.

In both modes a quotation that answers a why or how question runs on to the next sentence, which usually gives the
reason (quotation_for), and the answer declines when the question names something the documents never mention
(unknown_names) or shares no word but its stop words with them (shared_words), or when the chosen quotations lack what
it asks for: a date, a figure, a share or a sum of money, the year of a figure (missing_details). Where it asks for
one of these and the sentences chosen give it, those that give it are quoted first and lead
(ExtractiveGenerator._choose, _select_fast); whether to answer is still judged on the first choice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rag.chunking import split_sentences
from rag.embed import Embedder
from rag.generation import Draft, DraftQuote
from rag.lexical import stem
from rag.numbers import CARDINAL_WORDS, FRACTION_WORDS, TIME_UNITS, gives_a_share
from rag.reader import Reader, Scores
from rag.retrieve import author_surnames
from rag.settings import AnswerSettings, calibrated_model
from rag.store import Index
from rag.text import MONTH, STOP_WORDS, SUP_TAG, YEAR, breaks_off
from rag.types import ScoredPassage

MIN_QUOTE_WORDS = 6
SHORT_SENTENCE_WORDS = 25
SCORED_WORDS = 40
WEAKER_QUOTE_GAP = 0.15  # a further quotation must score within this of the best one
# a heading line, a table row, or a line in bold that is no sentence (a heading or a table's title: "**Table 1 ...**");
# inline emphasis ("the chief engineer, **Boris Steelman**, ...") is the source's own text, quoted as it stands
_MARKUP = re.compile(r"^[ \t]*#{1,6}(?:[ \t]|$)|\||^[ \t]*\*\*[^*\n]+(?<![.!?])\*\*[ \t]*$", re.MULTILINE)
# where a Markdown link or image points ("[the plan](https://...)"): not read or shown, so no sign of a record
_LINK_TARGET = re.compile(r"(?<=\])\([^()\s]*\)")
# front matter and catalogue records ("Stable URL: ... Accessed: ...", "Title ... Doc URL <a href=...>") are not prose
_RECORD = re.compile(r"https?://|www\.|<a\s|(?:\b[A-Z][\w()]*(?: [A-Za-z()]+){0,2}:\s.*){2}")
# the scholarly apparatus (notes and references: "pp. 42-52", "No. 7", "Vol. 2", "Ibid.", "op. cit.", an italic title
# with its place or date of publication, "*Pravda* (June 23, 1958)", "*Soviet Workers* (London, 1986)") cites, it does not answer
_REFERENCE = re.compile(r"\bpp?\.\s*\d|\b(?:No|Vol)\.\s*\d|\bibid\b|\bop\.\s*cit\b|\*[^*]+\*,?\s*\([^()]*\d{4}\)",
                        re.IGNORECASE)
# a sentence on the text's own plan ("This study is composed of three sections.", "The second part makes general
# observations about ...") says where an answer is, not what it is
_ROADMAP = re.compile(r"(?:This|The present|In this) (?:study|article|paper|chapter|essay|book)\b[^.]{0,40}?\b(?:is (?:composed|"
                      r"divided|organized|structured)|consists of|deals with|will (?:examine|discuss|show|argue|deal|focus|"
                      r"consider|begin)|examines|discusses|proceeds)|The (?:first|second|third|fourth|fifth|final|last|next|"
                      r"following) (?:section|part|chapter)s?(?: of (?:this|the) (?:study|article|paper|chapter|essay))? "
                      r"(?:deals|examines|discusses|makes|describes|presents|turns|considers|focuses|analy[sz]es|looks)\b")
# a page or note number left before a sentence by the source's layout ("197 Stalin reaffirmed ..."): not part of the quotation
_LEADING_NUMBER = re.compile(r"^\d{1,3}\s+(?=[A-Z])")
# a list item's mark ("- ", "* ", "• "), not the emphasis a sentence may open with ("**Boris Steelman** reported ...")
_LIST_MARK = re.compile(r"^(?:[-*\u2022]+[ \t]+)+|^[-\u2022]+")


@dataclass(frozen=True)
class Candidate:
    """A sentence that could be quoted, from passage number `passage` (1-based)."""

    passage: int
    text: str  # what would be quoted, and what the reading model reads
    through_next: str = ""  # the source from this sentence to the end of the next one in its paragraph, as it stands

    @property
    def run_on(self) -> str:
        """The quotation run on to the next sentence of its paragraph ("" where none may follow). Checked only when
        asked for: few candidates are."""
        return _quotation(self.through_next) if self.through_next else ""


def content_words(text: str) -> set[str]:
    """Lower-case content words, Snowball-stemmed ("welcomed" and "welcome" are one), for overlap measures."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {stem(w) for w in words if w not in STOP_WORDS and len(w) > 1}


class ExtractiveGenerator:
    """Scores the sentences of the retrieved passages against the question and quotes the best ones."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: AnswerSettings | None = None, vocabulary: set[str] | None = None,
                 reader: Reader | None = None, index: Index | None = None):
        self.embedder = embedder
        self.index = index  # its stored sentence vectors spare embedding candidates at question time
        self.settings = settings or AnswerSettings()
        self.vocabulary = vocabulary  # every word of the indexed documents, lower-cased
        self.reader = reader  # the reading model; None in the fast mode

    def without_reader(self) -> ExtractiveGenerator:
        """The same generator in the fast mode."""
        return ExtractiveGenerator(self.embedder, self.settings, self.vocabulary, None, self.index)

    def draft(self, question: str, passages: list[ScoredPassage]) -> Draft:
        if self.vocabulary is not None and (unknown_names(question, self.vocabulary)
                                            or not shared_words(question, self.vocabulary)):
            return Draft(text="", abstained=True)  # the question is about someone or something the documents never mention
        reading = self._reading()
        picked, evidence = self.select(question, passages, reading)
        threshold = answerability_threshold() if reading else self.settings.abstain_threshold
        if not picked or evidence < threshold or missing_details(question, [sentence for _, sentence in picked]):
            return Draft(text="", abstained=True)
        return compose(picked, passages)

    def stream(self, question: str, passages: list[ScoredPassage]) -> Iterator[str | Draft]:
        yield self.draft(question, passages)

    def _reading(self) -> bool:
        """Read mode, unless its model is still loading in the background: until then the fast mode answers."""
        return self.reader is not None and not self.reader.loading

    def select(self, question: str, passages: list[ScoredPassage], reading: bool | None = None
               ) -> tuple[list[tuple[int, str]], float]:
        """Chosen (passage number, sentence) pairs, the lead first, and the evidence score of the best one
        (read mode: the probability that the passages answer the question)."""
        if reading is None:
            reading = self._reading()
        if reading:
            picked, features = self.read(question, passages)
            return picked, answerability(features) if picked else 0.0
        return self._select_fast(question, passages)

    def _select_fast(self, question: str, passages: list[ScoredPassage]) -> tuple[list[tuple[int, str]], float]:
        """The fast mode's choice: the best candidates by cheap score, within WEAKER_QUOTE_GAP of the best; where the
        question asks for a date or a figure and they give it, those within the gap that give it come first and lead
        (as in the read mode, `read`), and the evidence is still the best candidate's."""
        scored = self._shortlist(question, passages)
        if scored is None:
            return [], 0.0
        candidates, _, cheap, s_vecs = scored
        order = np.argsort(-cheap)
        texts = [c.text for c in candidates]
        texts[order[0]] = quotation_for(question, candidates[order[0]])
        chosen = _distinct_best(order, cheap, texts, s_vecs, self.settings.max_quotes, WEAKER_QUOTE_GAP)
        if missing_details(question, []) and not missing_details(question, [texts[i] for i in chosen]):
            close = [int(i) for i in order if cheap[i] >= cheap[order[0]] - WEAKER_QUOTE_GAP]
            lacking = dict(zip(close, details_lacking(question, [candidates[i].text for i in close])))
            # the best stays first, as in the read mode: quoted whatever it lacks, and the gap measured from it
            for_details = _distinct_best([close[0], *sorted(close[1:], key=lacking.get)], cheap, texts, s_vecs,
                                         self.settings.max_quotes, WEAKER_QUOTE_GAP)
            lead = min(for_details, key=lacking.get)
            for_details = [lead, *(i for i in for_details if i != lead)]
            if not missing_details(question, [texts[i] for i in for_details]):
                chosen = for_details
        evidence = float(cheap[order[0]] - 0.25 / (candidates[order[0]].passage + 1)) if chosen else 0.0
        return [(candidates[i].passage, texts[i]) for i in chosen], evidence

    def _shortlist(self, question: str, passages: list[ScoredPassage], by_rank: bool = True):
        """The settings.sentences_embedded candidates most worth reading, with their cosine to the question, cheap score
        and vectors. by_rank: a passage's retrieval rank counts too (not when the passages are being ranked, rag.rerank)."""
        candidates = quotable_sentences(passages)
        if not candidates:
            return None
        q_words = content_words(question)
        lexical = np.array([len(q_words & content_words(c.text)) / max(len(q_words), 1) for c in candidates])
        prior = np.array([1.0 / (c.passage + 1) if by_rank else 0.0 for c in candidates])
        stored = stored_vectors(self.index, candidates, passages)
        q_vec = self.embedder.embed_query(question)
        rough = lexical + prior
        if stored is not None:  # the index's sentence vectors rank every candidate at no cost...
            rough = rough + embed_candidates(self.embedder, candidates, stored) @ q_vec
        # ...but sentences embedded alone by their opening words score better: embed the most promising ones
        keep = np.argsort(-rough, kind="stable")[: self.settings.sentences_embedded]
        candidates = [candidates[i] for i in keep]
        s_vecs = embed_candidates(self.embedder, candidates, [None] * len(keep))
        dense = s_vecs @ q_vec
        return candidates, dense, dense + 0.35 * lexical[keep] + 0.25 * prior[keep], s_vecs

    def read_shortlist(self, question: str, passages: list[ScoredPassage], most: int) -> tuple[list[Candidate], np.ndarray]:
        """The `most` most promising sentences of the passages, whatever their passage's rank, each with how well it
        answers the question (the reader's gain; see rag.reader). rag.rerank orders passages by it."""
        scored = self._shortlist(question, passages, by_rank=False)
        if scored is None:
            return [], np.zeros(0)
        candidates, _, cheap, _ = scored
        candidates = [candidates[i] for i in np.argsort(-cheap, kind="stable")[:most]]
        return candidates, self.reader.gain(question_parts(question), [c.text for c in candidates]).overall

    def read(self, question: str, passages: list[ScoredPassage]) -> tuple[list[tuple[int, str]], dict[str, float]]:
        """Selection by the reading model (rag.reader): the candidate that explains the question best, then an answer of
        its own for each part of a two-part question and for each of two authors it names, then close seconds; of these,
        the one that explains the most of the question leads (each token's gain capped, Scores.capped_mean: a sentence
        sharing the question's rare names explains them, not what is asked). The lead and each part's answer run on
        where what they answer asks why or how (quotation_for).
        Where the question asks for a date or a figure (missing_details) and these quotations give it, they are chosen
        again with the sentences that give it first, among the close seconds and for the lead: the reading model
        cannot tell a sentence that gives the figure from one that only speaks of it. If that second choice lacks
        it, the first stands. Whether to answer at all rests on the first choice: a near miss's best readings lack
        the figure asked for, though some sentence of its passages may give another.
        Returns the picks and the features that say whether they answer at all."""
        scored = self._shortlist(question, passages)
        if scored is None:
            return [], {}
        candidates, dense, cheap, s_vecs = scored
        shortlist = np.argsort(-cheap)[: self.settings.sentences_read]
        shown = [candidates[i] for i in shortlist]
        parts = question_parts(question)
        gains = self.reader.gain(parts, [c.text for c in shown])
        vectors, works = s_vecs[shortlist], _named_works(question, passages)
        chosen, texts = self._choose(question, shown, vectors, gains, parts, works)
        q_words = content_words(question)
        found = set().union(*(content_words(passages[shown[i].passage - 1].passage.text) for i in chosen))
        if missing_details(question, []) and not missing_details(question, [texts[i] for i in chosen]):
            lacking = details_lacking(question, [c.text for c in shown])
            for_details, their_texts = self._choose(question, shown, vectors, gains, parts, works, lacking)
            if not missing_details(question, [their_texts[i] for i in for_details]):
                chosen, texts = for_details, their_texts
        best = int(np.argmax(gains.overall))
        features = {"best_gain": float(gains.overall[best]), "weakest_part_gain": float(gains.by_part.max(axis=0).min()),
                    "best_cosine": float(dense[shortlist[best]]),
                    "question_coverage": len(q_words & found) / max(len(q_words), 1),
                    "top_dense": float(passages[0].dense_score or 0.0),
                    # a detail of the question no sentence makes likely (a year, a name the text does not give)
                    "least_supported_token": float(gains.tokens.max(axis=0).min()),
                    "least_supported_3": float(np.sort(gains.tokens.max(axis=0))[:3].mean())}
        return [(shown[i].passage, texts[i]) for i in chosen], features

    def _choose(self, question: str, shown: list[Candidate], vectors: np.ndarray, gains: Scores, parts: list[str],
                works: dict[str, set[int]], lacking: list[int] | None = None) -> tuple[list[int], list[str]]:
        """The read sentences to quote (indices into `shown`, the lead first) and the text each would be quoted as.
        lacking: per sentence, how many of the details the question asks for it lacks; fewer comes first."""
        lacking = lacking or [0] * len(shown)
        texts = [c.text for c in shown]
        overall = gains.overall
        best = int(np.argmax(overall))
        chosen = [best]

        def add(i: int, needed: bool = False) -> None:  # needed: to answer a part, however it reads as a whole
            close = overall[i] >= overall[best] - self.settings.read_quote_gap
            if (needed or close) and i not in chosen and len(chosen) < self.settings.max_quotes \
                    and not _repeats(texts, vectors, i, chosen):
                chosen.append(i)

        for p in range(len(parts)) if len(parts) > 1 else []:  # each part's best answer
            add(int(np.argmax(gains.by_part[:, p])), needed=True)
        for numbers in works.values() if len(works) > 1 else []:  # each named author's best answer
            theirs = [i for i in range(len(shown)) if shown[i].passage in numbers]
            if theirs and not any(shown[i].passage in numbers for i in chosen):
                add(max(theirs, key=lambda i: overall[i]), needed=True)
        for i in sorted(np.argsort(-overall), key=lacking.__getitem__):  # a stable sort: by gain where they lack as much
            add(int(i))
        # of those, the one that explains the most of the question leads
        capped = gains.capped_mean(self.settings.lead_gain_cap)
        lead = min(chosen, key=lambda i: (lacking[i], -capped[i]))
        chosen.remove(lead)
        chosen.insert(0, lead)
        # each part's best answer, and the lead, run on where what they answer asks why or how
        asked = {int(np.argmax(gains.by_part[:, p])): part for p, part in enumerate(parts)} if len(parts) > 1 else {}
        asked.setdefault(lead, question)
        for i, what in asked.items():
            quotation = quotation_for(what, shown[i])
            if i in chosen and not any(_shares_a_sentence(quotation, texts[j]) for j in chosen if j != i):  # nothing quoted twice
                texts[i] = quotation
        return chosen, texts


def quotation_for(question: str, candidate: Candidate) -> str:
    """What the answer quotes of a candidate chosen to answer a question (or a part of one): for a question asking why
    or how something happened, the sentence run on to the next one, since a reason is rarely given in the sentence that
    states the fact."""
    if not _EXPLANATION_QUESTION.search(question):
        return candidate.text
    return candidate.run_on or candidate.text


def quotable_sentences(passages: list[ScoredPassage]) -> list[Candidate]:
    """Every sentence of the passages that could be quoted."""
    out = []
    for number, sp in enumerate(passages, start=1):
        for para in _BLOCK_BREAK.split(_MID_SENTENCE_BREAK.sub(" ", sp.passage.text)):
            spans = split_sentences(para)
            for j, (a, b) in enumerate(spans):
                if len(para[a:b].split()) < MIN_QUOTE_WORDS:
                    continue
                if len(para[a:b].split()) < SHORT_SENTENCE_WORDS and j + 1 < len(spans):
                    b = spans[j + 1][1]  # a short sentence rarely stands alone: quote it with the next
                sentence = _quotation(para[a:b])
                if not sentence or _starts_mid_sentence(sentence):
                    continue
                after = next((end for start, end in spans if start >= b), None)
                out.append(Candidate(number, sentence, para[a:after] if after else ""))
    return out


def _quotation(text: str) -> str:
    """The text as it would be quoted (without a list mark or a page number before it), or "" if it is no answer:
    headings, table rows, records, notes, the text's plan and sentences that break off."""
    text = _unmarked(text)
    if _MARKUP.search(text) or _RECORD.search(_LINK_TARGET.sub("", text)) or _REFERENCE.search(text) or _ROADMAP.match(text) \
            or breaks_off(text):
        return ""
    return text


# a blank line, or a list item's start (a note in a list of notes: "- 64 For example, ..."), ends a block of sentences
_BLOCK_BREAK = re.compile(r"\n\n|\n(?=[ \t]*[-*\u2022][ \t])")
# a blank line inside a sentence (a page or column break in the source: "...with\n\nworkers' desires...") does not end it
_MID_SENTENCE_BREAK = re.compile(r"(?<=[a-z,;])[ \t]*\n[ \t]*\n\s*(?=[a-z])")


def _unmarked(text: str) -> str:
    """The text without a list mark or a page or note number before it ("197 Stalin reaffirmed..." -> "Stalin...")."""
    return _LEADING_NUMBER.sub("", _LIST_MARK.sub("", text.strip()))


def embed_candidates(embedder: Embedder, candidates: list[Candidate], stored: list[np.ndarray | None]) -> np.ndarray:
    """The candidates' vectors: stored ones as they are, the others embedded now (by their opening words,
    which carry a sentence's topic and keep padded batches short)."""
    missing = [i for i, v in enumerate(stored) if v is None]
    if missing:
        made = embedder.embed_documents([" ".join(candidates[i].text.split()[:SCORED_WORDS]) for i in missing])
        stored = list(stored)
        for i, v in zip(missing, made):
            stored[i] = v
    return np.array(stored, dtype=np.float32).reshape(len(candidates), -1)


def stored_vectors(index: Index | None, candidates: list[Candidate], passages: list[ScoredPassage]
                   ) -> list[np.ndarray | None] | None:
    """The index's vector of each candidate (a sentence quoted with the next: their mean; None where the index
    has no such sentence, e.g. a heading), or None for all when there is no index with sentence vectors."""
    if index is None or not len(index.sentence_embeddings):
        return None
    in_passage: dict[int, list] = {}
    vectors: list[np.ndarray | None] = []
    for c in candidates:
        if c.passage not in in_passage:
            p = passages[c.passage - 1].passage
            in_passage[c.passage] = index.sentences_in(p.doc.file, p.start, p.end)
        parts = [s.vector for s in in_passage[c.passage] if s.vector is not None and s.text.strip() in c.text]
        mean = np.mean(parts, axis=0) if parts else None
        vectors.append(None if mean is None else mean / max(float(np.linalg.norm(mean)), 1e-9))
    return vectors


def answerability(features: dict[str, float]) -> float:
    """The probability that the read passages answer the question: a logistic model of the reading features,
    fitted on our own training questions (training/calibrate_reader.py, rag/calibration.json)."""
    model = calibrated_model("answerability")
    if model is None:  # not calibrated yet: the best sentence must at least make the question more likely
        return float(features["best_gain"] > 0)
    z = model["bias"] + sum(w * (features[name] - model["mean"][name]) / model["scale"][name]
                            for name, w in model["weights"].items())
    return float(1 / (1 + np.exp(-z)))


def answerability_threshold() -> float:
    """The answerability below which the read mode declines (chosen with the model by its script)."""
    return float((calibrated_model("answerability") or {}).get("threshold", 0.5))


def _named_works(question: str, passages: list[ScoredPassage]) -> dict[str, set[int]]:
    """Author surnames the question names -> numbers (1-based) of the passages by that author."""
    named: dict[str, set[int]] = {}
    for number, sp in enumerate(passages, start=1):
        for surname in author_surnames(sp.passage.doc.author):
            if re.search(rf"\b{re.escape(surname)}\b", question):
                named.setdefault(surname, set()).add(number)
    return named


def _repeats(texts: list[str], vectors: np.ndarray, i: int, chosen: list[int]) -> bool:
    """True if candidate i says nearly the same as one already chosen, or shares a sentence with it (a short sentence
    is quoted with the next one, so two candidates can overlap by a sentence)."""
    return any(float(vectors[i] @ vectors[j]) > 0.85 or _shares_a_sentence(texts[i], texts[j]) for j in chosen)


def _shares_a_sentence(text: str, other: str) -> bool:
    """True if the other text is within this one, or a sentence of this one, as it would be quoted and long enough to
    be quoted, is in the other ("28 In fact, ..." is "In fact, ..."; "They refused." may end any sentence)."""
    sentences = (_unmarked(text[a:b]) for a, b in split_sentences(text))
    return other in text or any(s in other for s in sentences if len(s.split()) >= MIN_QUOTE_WORDS)


# a question asking for a reason or a course of events ("why ...", "how did ... respond"), not for a quantity
_EXPLANATION_QUESTION = re.compile(r"\bwhy\b|\bhow (?:did|does|do|was|were|is|are|has|have|had|could|would|can|should)\b",
                                   re.IGNORECASE)
# a run of blanks is matched from its start only (else each of its blanks started a scan to its end)
_PART_BREAK = re.compile(r"(?<=\?)\s+(?=\S)|(?:,|(?<!\s))\s+(?=(?:and|but)\s+(?:how|why|what|when|where|who|whom|which|whether|"
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


def _distinct_best(order, scores: np.ndarray, texts: list[str], vectors: np.ndarray, most: int, gap: float) -> list[int]:
    """Up to `most` candidates in `order`, skipping near-repeats and any scoring `gap` below the best."""
    chosen: list[int] = []
    for i in order:
        if len(chosen) == most:
            break
        if _repeats(texts, vectors, int(i), chosen):
            continue  # nearly the same sentence again
        if chosen and scores[i] < scores[chosen[0]] - gap:
            break  # much weaker than the best: leave it out
        chosen.append(int(i))
    return chosen


def _starts_mid_sentence(text: str) -> bool:
    """A fragment cut off by a page or note break ("expectation of local organs..."): not a quotation to open with."""
    first = next((ch for ch in text if ch.isalpha()), "")
    return first.islower()


# a word, in any alphabet ("Gällivare", "совнархоз"): letters only, as document_vocabulary reads the documents (and
# their numbers apart: "Shakhty10" is the name and a note's number)
_WORD = r"[^\W\d_]+"
_WORD_OR_NUMBER = re.compile(rf"{_WORD}|\d+")


def unknown_names(question: str, vocabulary: set[str]) -> list[str]:
    """Capitalized names in the question (not sentence-initial) that occur nowhere in the documents."""
    names = re.findall(rf"(?<![.?!:]\s)(?<!^)\b({_WORD}(?:-{_WORD})*)", question.strip())
    return [n for n in names if n[0].isupper() and len(n) >= 3 and not set(n.lower().split("-")) <= vocabulary]


def shared_words(question: str, vocabulary: set[str]) -> set[str]:
    """The question's words and numbers, stop words aside, that occur in the documents ("What about 1932?" shares the
    year). None: the question is made of stop words, signs or emoji, or is in another language or script, and
    whatever passages the searches return (they always return their nearest) do not answer it."""
    words = {w for w in _WORD_OR_NUMBER.findall(question.lower()) if w not in STOP_WORDS and len(w) > 1}
    return words & vocabulary


# a question asking for a figure ("how many ...", "by how much ...", "how large were ...", not "how large a role ...",
# "what share / price / rate ...") or a date
_FIGURE_QUESTION = re.compile(r"\bhow (?:many|much)\b|\bhow (?:large|big|high) (?:was|were|is|are|did|does|do|had|has)\b|"
                              r"\bwhat (?:\w+ )?(?:share|proportion|percentage|fraction|number|amount|"
                              r"sum|total|figure|price|cost|rate|wage|rent|dividend|value|level)s?\b", re.IGNORECASE)
_DATE_QUESTION = re.compile(r"^\W*(?:(?:and|but) )?(?:when (?:and where )?(?:was|were|did|do|does|had|has|is|are)|where and when\b|"
                            r"(?:in |on )?(?:what|which) (?:exact )?(?:year|date|day|month))\b", re.IGNORECASE)
# a figure; digits glued to a word ("at Shakhty10") are a note's number, not a figure. A cardinal is a figure that can
# count money or things ("6,424,588", "forty", "millions"); the others are shares and multiples ("half", "twofold")
_CARDINAL = rf"(?<!\w)(?<!\d[.,])\d+(?:[.,]\d+)*|\b{CARDINAL_WORDS}\b"
_NUMBER = re.compile(rf"{_CARDINAL}|\b(?:{FRACTION_WORDS}|halved|twice|double[d]?|trebled|tripled|\w+fold|per ?cent)\b",
                     re.IGNORECASE)
# a figure of a kind: a share ("what share of ...", "at what rate of interest") is given in per cent or as a fraction,
# a sum ("how much money", "what price", "how much did ... cost", "what did ... cost to build", "what wage") in a
# currency. Not a bare "what did ... cost": "What did collectivization cost?" may be asked of lives or livestock.
_SHARE_QUESTION = re.compile(r"\bwhat (?:\w+ )?(?:share|proportion|percentage|fraction) of\b|\brate of interest\b|"
                             r"\binterest rate\b", re.IGNORECASE)
# currencies by their names (words that are also common in other senses, such as "crown" or "real", left out)
_CURRENCY = (r"(?:pounds?|shillings?|pence|penny|guilders?|florins?|francs?|(?:reichs|renten)?marks?|dollars?|yen|rubles?|"
             r"roubles?|kopecks?|pesos?|lire|liras?|piastres?|kuru[sş]|ak[cç]es?|rupees?|ducats?|thalers?|escudos?|sterling)")
_SUM_QUESTION = re.compile(rf"\bhow much money\b|\bwhat (?:\w+ )?(?:price|wage|fee|fare|salary|rent)s?\b|"
                           rf"\bhow much (?:did|does|do|would|will) .+ cost\b|\bcost (?:to (?:build|buy|make)|in total)\b|"
                           rf"\bhow (?:many|much) (?:[\w.]+ ){{0,2}}{_CURRENCY}\b(?! of\b)",  # "how many (billion gold) marks"
                           re.IGNORECASE)  # not "how many pounds of cotton", a weight
# a sum: a cardinal with its currency ("£30,000", "6,424,588 guilders", "132 billion pre-war gold marks", "100 million
# U.S. dollars", "rupees 2,000", "9½d", "a pound a week"); a currency named without one ("a tax fixed in yen") gives no
# sum, nor does a share beside it ("half in yen"). Looked for where the years that date something are left out
_SUM = re.compile(rf"[£$€¥]\s?\d|\b\d+[½¼¾]?d\b|(?:{_CARDINAL})(?:[\s-]+(?!per\b|cent\b)[\w.]+){{0,3}}?[\s-]+{_CURRENCY}\b|"
                  rf"\b{_CURRENCY}\s+\d|\ba {_CURRENCY}\b(?! of\b)", re.IGNORECASE)
_DATE = re.compile(rf"\b(?:1\d{{3}}|20\d{{2}})s?\b|\b{MONTH}\b")
_DAY_OF_MONTH = re.compile(rf"\b{MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{MONTH}\b")  # "June 26", "26 June": a date, not a count
# the number of a note or of a part of a text ("Article 4", "Article 58-10"): it names, it does not count
_LABEL = re.compile(rf"{SUP_TAG}|\b(?:Article|Section|Chapter|Clause|Paragraph|Table|Figure)\s+\d+(?:[-.]\d+)*\b")
# what comes before a year that dates something: a preposition, "the", a month ("June 26, 1940"), a span's dash
_BEFORE_A_DATE = re.compile(rf"(?:\b(?:in|of|since|by|from|until|till|to|between|and|before|after|during|early|late|mid|the|"
                            rf"{MONTH})[\s-]+(?:\d{{1,2}}[.,]*\s+)?|[-\u2013/])$", re.IGNORECASE)


def _without_dates(text: str) -> str:
    """The text without the years that date something ("in 1936", "the 1936 Constitution", "the 1930s", "1928-32"), which
    are no count; a number such as "1500 roubles" stays."""
    def blank(m: re.Match) -> str:
        dating = m.group(2) or _BEFORE_A_DATE.search(text[max(0, m.start() - 24) : m.start()]) \
            or re.match(r"[-\u2013/]\d", text[m.end() : m.end() + 2])
        return " " if dating else m.group()
    return YEAR.sub(blank, text)


# a figure with a unit of time ("nine months after", "a seven-day week", "six full-time days"): a duration, which counts
# time, not the delegates or convictions a "how many" question asks for. The runs are bounded: unbounded, a number before
# a long rule of dashes took seconds to reject
_DURATION = re.compile(rf"(?:{_NUMBER.pattern})(?:[\s-]{{1,3}}[\w-]{{1,30}})?[\s-]{{1,3}}{TIME_UNITS}\b", re.IGNORECASE)
_COUNTS_TIME = re.compile(rf"\bhow (?:many|much) (?:\w+ )?{TIME_UNITS}\b|\bhow much (?:\w+ )?(?:time|notice|warning)\b",
                          re.IGNORECASE)


def missing_details(question: str, quotations: list[str]) -> list[str]:
    """What a part of the question asks for that none of the quotations gives: a date, if it asks when; a figure,
    if it asks for one, of the kind it asks for (a share, a sum of money), and a year (or decade) it names, since the
    figure is for that year ("How many miles were open in 1847?" is not answered by 1850's). Reading scores cannot
    see these near misses: a sentence giving 1850's figure makes the question likely too."""
    quoted = " ".join(quotations)
    missing = []
    for part in question_parts(question):
        if _DATE_QUESTION.search(part) and not set(_DATE.findall(quoted)) - set(_DATE.findall(part)):
            missing.append("a date")
        if _FIGURE_QUESTION.search(part):
            if not _figures(quoted, durations=bool(_COUNTS_TIME.search(part))) - _figures(part):
                missing.append("a figure")
            years = YEAR.findall(part)  # of a span ("between 1841 and 1851"), one end may be given as "ten years later"
            if years and not any(re.search(rf"\b{year[:3]}\d" if decade else rf"\b{year}\b", quoted) for year, decade in years):
                missing.append(" or ".join(year + decade for year, decade in years))
        if _SHARE_QUESTION.search(part) and not gives_a_share(quoted):
            missing.append("a share")
        if _SUM_QUESTION.search(part) and not _SUM.search(_without_dates(quoted)):
            missing.append("a sum of money")
    return missing


def details_lacking(question: str, texts: list[str]) -> list[int]:
    """For each text alone, how many of the details the question asks for (missing_details) it lacks."""
    return [len(missing_details(question, [text])) for text in texts]


def _figures(text: str, durations: bool = True) -> set[str]:
    """The figures a text gives, lower-cased ("1,200", "forty", "half"); a day of the month is part of a date, and a
    note's number ("<sup>29</sup>") or a label's ("Article 4") counts nothing. Without `durations`, figures of time
    ("nine months") and the years that date something ("in 1936", "the 1930s") are left out: they date a count."""
    if not durations:
        text = _without_dates(_DURATION.sub(" ", text))
    return {n.lower() for n in _NUMBER.findall(_LABEL.sub(" ", _DAY_OF_MONTH.sub(" ", text)))}


def document_vocabulary(texts) -> set[str]:
    """Lower-case words and numbers of the documents, in any alphabet, for unknown_names and shared_words."""
    words: set[str] = set()
    for text in texts:
        words.update(_WORD_OR_NUMBER.findall(text.lower()))
    return words


def compose(picked: list[tuple[int, str]], passages: list[ScoredPassage]) -> Draft:
    """Answer text: the quotations, grouped by work, with short connective phrases between them."""
    lines, quotes, last_doc = [], [], None
    for n, (number, sentence) in enumerate(picked, start=1):
        doc = passages[number - 1].passage.doc
        marker = f"{{{{Q{n}}}}}"
        quotes.append(DraftQuote(text=sentence, passage=number, marker=marker))
        authors = author_surnames(doc.author)
        who = " and ".join(authors) or doc.short_title()
        year = f" ({doc.year})" if doc.year else ""
        verb = "write" if len(authors) > 1 else "writes"
        if n == 1:
            lead = f"According to {who}{year}:"
        elif doc.file == last_doc:
            lead = f"{who} also {verb}:" if n % 2 == 0 else "Elsewhere in the same work:"
        else:
            lead = f"{who}{year} {verb}:"
        lines.append(f"{lead} {marker}")
        last_doc = doc.file
    return Draft(text="\n\n".join(lines), quotes=quotes)

