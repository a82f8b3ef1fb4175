"""Claim verification: does the collection support a claim, contradict it, or say nothing about it?

The default path needs no LLM. It retrieves passages for the claim, cuts them into sentences (and pairs of
adjacent sentences), and aligns the claim with each by embedding cosine and by the share of the claim's
content words they contain. Over the best-aligned few it measures what a careful reader checks: how much of
the claim's words and numbers the source paragraph holds, and whether a number, a date, a name, a trend (rose/fell)
or a negation conflicts, and how likely a trained contradiction model (rag.contradiction) finds it that the
best-aligned sentences contradict the claim. A multinomial logistic model fitted on our own training claims
(training/fit_claims.py, rag/claim_model.json; never on eval data) turns these into probabilities of the
three verdicts. A claim is `supported` only when that probability clears a floor fitted to keep false
"supported" rare and the best-aligned sentence has no conflict with it; `refuted` when refutation is most likely,
or when a sentence that says what the claim says reverses one point of it (the conflicting spans are shown side
by side); and otherwise `not_in_corpus`, with the closest source sentence named in the reason.

The conflicts are found by rag.conflicts, numbers compared by rag.numbers. With an LLM, the model judges instead
(rag.claims_llm), and this verdict is its fallback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from rag.chunking import split_sentences
from rag.conflicts import (
    MONTH_STEMS,
    REPORTING,
    Conflict,
    content_stems,
    restated_otherwise,
    typed_conflicts,
    unnamed,
    words_around,
)
from rag.contradiction import contradiction_log_odds
from rag.errors import BadInput, ModelMissing
from rag.numbers import given, is_year, number_words, numbers_of, rivals, same_day_other_years
from rag.quotes import verify_quote
from rag.retrieve import author_surnames, clean_question
from rag.text import breaks_off
from rag.types import Quote, ScoredPassage

Verdict = Literal["supported", "refuted", "not_in_corpus"]
VERDICTS = ("supported", "refuted", "not_in_corpus")

MODEL_FILE = Path(__file__).resolve().parent / "claim_model.json"  # written by training/fit_claims.py
SEARCH_K = 10
JUDGED_UNITS = 4  # best-aligned units the pair model reads
MIN_SENTENCE_WORDS = 5
MAX_QUOTES = 2


class ClaimResult(BaseModel):
    """The verdict on one claim, with the verified quotations it rests on."""

    claim: str
    verdict: Verdict = Field(description="supported, refuted, or not_in_corpus")
    quotes: list[Quote] = Field(default_factory=list, description="Verified quotations the verdict rests on")
    reason: str = Field(default="", description="One line saying why")
    conflicts: list[Conflict] = Field(default_factory=list, description="For refuted claims: claim vs source spans")
    scores: dict[str, float] = Field(default_factory=dict, description="Cosine, coverage and alignment of the best sentence")
    passages: list[ScoredPassage] = Field(default_factory=list, description="Passages retrieved for the claim")
    dropped_quotes: int = Field(default=0, description="Quotations removed because they could not be verified")
    generator: str = Field(default="extractive", description="Which generator judged the claim")

    def to_json_dict(self) -> dict:
        """The JSON shape of `rag verify --json` and of each `rag verify --eval` line (without the id)."""
        return {
            "verdict": self.verdict,
            "quotes": [q.model_dump(include={"doc", "text", "start", "end", "citation"}) for q in self.quotes],
            "reason": self.reason,
            "conflicts": [c.model_dump() for c in self.conflicts],
        }


@dataclass
class Unit:
    """One sentence, or two adjacent sentences, of a retrieved passage, with its alignment to the claim."""

    number: int  # 1-based passage number
    text: str
    paragraph: str = ""  # the paragraph it comes from: a claim's number found there is not a conflict
    title: str = ""  # the work's title: what the whole text is about
    section: str = ""  # the section heading: what "the reform" or "this policy" may refer to
    author: str = ""  # the work's author, whom a claim may name ("Haworth dates ..."; number_changed_only)
    cosine: float = 0.0
    coverage: float = 0.0
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(3))  # of the pair model, once judged

    @property
    def align(self) -> float:
        return (self.cosine + self.coverage) / 2

    @property
    def context(self) -> str:
        """The words its sentences take for granted, which may name what the claim names otherwise."""
        return f"{self.title} {self.section}"


# ---------------------------------------------------------------- evidence alignment


def _author_files(engine) -> dict[str, set[str]]:
    """Author surnames of the indexed documents -> their files ("Bettelheim" -> {003..., 004...})."""
    out: dict[str, set[str]] = {}
    seen = set()
    for p in engine.index.passages:
        if p.doc.file in seen:
            continue
        seen.add(p.doc.file)
        for name in re.split(r"\s+and\s+|,|;", p.doc.author):
            if name.split():
                out.setdefault(name.split()[-1], set()).add(p.doc.file)
    return out


def split_attribution(claim: str, surnames: set[str]) -> tuple[str, list[str]]:
    """The claim without what attributes it ("According to X,", "X writes that", "In X's view,", "By X's reckoning", "X's
    view is that", "X reports Y's view that"), and the surnames it named. A view that is the claim's subject ("Y's view
    that the mills closed was mistaken") stays."""
    named = [s for s in surnames if re.search(rf"\b{re.escape(s)}\b", claim)]
    names = "|".join(re.escape(s) for s in named)
    core = claim
    if names:
        who = rf"(?:{names}){_POSSESSIVE}?(?:\s+(?:and|&)\s+(?:{names}){_POSSESSIVE}?)?"
        core = re.sub(rf"^according to {who},?\s*", "", core, flags=re.IGNORECASE)
        core = re.sub(rf"^(?:in|by) {who} (?:\d{{4}} )?{_VIEW}(?: of \d{{4}})?,?\s+", "", core, flags=re.IGNORECASE)
        core = re.sub(rf"^{who}\s+(?:also\s+)?(?:{'|'.join(REPORTING)})\s+(?:that\s+)?", "", core)
    # a view reported ("Haworth's view is that ...", or after "X reports", "Kuromiya's view that ..."): what it holds
    reported = core != claim
    core = re.sub(rf"^[A-Z][\w-]+{_POSSESSIVE} {_VIEW} {'(?:is |are )?' if reported else '(?:is|are) '}that,?\s*", "", core)
    return (core[0].upper() + core[1:]) if core else claim, named


_POSSESSIVE = "(?:['\u2019]s|['\u2019])"
_VIEW = "(?:view|views|account|reckoning|opinion|estimate|contention|argument)"


def evidence_units(passages: list[ScoredPassage]) -> list[Unit]:
    """Sentences of the passages, and pairs of adjacent sentences, as alignment candidates. A heading ("The malikâne
    reform of 1695") or a fragment that breaks off asserts nothing: it is no unit on its own."""
    units, seen = [], set()
    for number, sp in enumerate(passages, start=1):
        for para in sp.passage.text.split("\n\n"):
            sentences = [para[a:b].strip() for a, b in split_sentences(para)]
            for i, s in enumerate(sentences):
                texts = [s] if len(s.split()) >= MIN_SENTENCE_WORDS and not breaks_off(s) else []
                texts += [f"{s} {sentences[i + 1]}"] if i + 1 < len(sentences) else []
                for text in texts:
                    if text not in seen:  # retrieved passages overlap by a sentence
                        seen.add(text)
                        units.append(Unit(number, text, para, *_context_of(sp.passage)))
    return units


def _context_of(passage) -> tuple[str, str, str]:
    """A passage's work title, section heading and author, numbers left out (a title's "1923-1930" is not a date the
    sentence gives)."""
    return re.sub(r"\d+", " ", passage.doc.title), re.sub(r"\d+", " ", passage.section), passage.doc.author


def unit_stems(unit: Unit, text: str) -> set[str]:
    """Content stems of one of a unit's texts, with those of its work's title. Not its section heading's: a heading
    says where a sentence is, not what it says ("Peel and the Indian corn" would cover a claim about the corn for a
    sentence under it on the Corn Laws)."""
    return content_stems(text) | content_stems(unit.title)


def align(engine, claim: str, drop: set[str], passages: list[ScoredPassage]) -> list[Unit]:
    """Evidence units scored against the claim, best first."""
    units = evidence_units(passages)
    if not units:
        return []
    claim_vec = engine.embedder.embed_query(claim)
    vectors = engine.embedder.embed_documents([u.text for u in units])
    cosines = vectors @ claim_vec
    wanted = content_stems(claim, drop)
    for u, cos in zip(units, cosines):
        u.cosine = float(cos)
        u.coverage = len(wanted & unit_stems(u, u.text)) / max(len(wanted), 1)
    units.sort(key=lambda u: u.align, reverse=True)
    return units


def gather(engine, claim: str) -> tuple[str, list[ScoredPassage], list[Unit]]:
    """The claim without attribution, the passages retrieved for it, and the aligned units."""
    authors = _author_files(engine)
    core, named = split_attribution(claim, set(authors))
    passages = engine.search(core, SEARCH_K * 2 if named else SEARCH_K)
    files = set().union(*(authors[n] for n in named)) if named else set()
    if files and any(sp.passage.doc.file in files for sp in passages):
        passages = [sp for sp in passages if sp.passage.doc.file in files]
    passages = passages[:SEARCH_K]
    drop = {w.lower() for n in named for w in n.split()}
    return core, passages, align(engine, core, drop, passages)


# ---------------------------------------------------------------- learned scores

# What one (source sentence, claim) pair shows.
PAIR_FEATURES = ("coverage", "unmatched", "number_rival", "number_unseen", "month", "direction", "negation", "number_swap")
# What the best-aligned units show together: the decision model's inputs (fitted by training/fit_claims.py).
DECISION_FEATURES = ("coverage", "unmatched", "number_rival", "number_unseen", "conflict", "cosine", "best_cosine",
                     "contradiction", "aligned_contradiction")


def pair_features(claim: str, unit: Unit, claim_stems: set[str]) -> list[float]:
    """PAIR_FEATURES of a claim against one evidence unit (the words and numbers of its paragraph count as seen)."""
    paragraph = unit.paragraph or unit.text
    seen = unit_stems(unit, paragraph)
    claim_nums, unit_nums, paragraph_nums = numbers_of(claim), numbers_of(unit.text), numbers_of(paragraph)
    unseen = [n for n in claim_nums if not given(n, paragraph_nums)]
    rival = [n for n in unseen if rivals(n, claim_nums, unit_nums)]
    kinds = {kind for kind, _ in typed_conflicts(claim, unit.text, paragraph, claim_stems, unit.context)}
    coverage = len(claim_stems & seen) / max(len(claim_stems), 1)
    # a number changed where the words around it are the same ("in July 1936" vs "in July of 1932"): a wrong number or
    # date, even where the claim's number is stated elsewhere in the paragraph
    swap = any(restated_otherwise(claim, unit.text, n) for n in claim_nums)
    return [coverage, min(len(claim_stems - seen), 6) / 6, float(bool(rival)), float(bool(unseen) and not rival),
            float("month" in kinds), float("direction" in kinds), float("negation" in kinds), float(swap)]


def decision_features(claim: str, units: list[Unit]) -> np.ndarray:
    """DECISION_FEATURES of a claim: the pair features of its best-aligned unit, its conflict (a changed number or
    date, month, trend or negation, weighted by the unit's coverage of the claim), the cosines of the best-aligned
    unit and of the closest of the first JUDGED_UNITS, and the contradiction model's log-odds (rag.contradiction)
    for the less contradicting of the two best-aligned units (often a sentence alone and with its neighbour: the
    model reads the claim against a longer text as more at odds with it), alone and weighted by the unit's coverage
    of the claim: its verdict on a sentence about something else says little."""
    best = pair_features(claim, units[0], content_stems(claim))
    contradiction = contradiction_log_odds([u.text for u in units[:2]], claim).min()
    return np.array([*best[:4], max(best[4:]) * best[0], units[0].cosine, max(u.cosine for u in units[:JUDGED_UNITS]),
                     contradiction, contradiction * best[0]])


def verdict_probabilities(model: dict, x: np.ndarray) -> np.ndarray:
    """P(supported, refuted, not_in_corpus) of the fitted multinomial logistic model."""
    z = x @ np.asarray(model["coef"]).T + np.asarray(model["intercept"])
    e = np.exp(z - z.max())
    return e / e.sum()


@lru_cache(maxsize=1)
def claim_model() -> dict:
    """The fitted decision model (rag/claim_model.json, written by training/fit_claims.py)."""
    try:
        model = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelMissing(f"{MODEL_FILE} is missing or unreadable: run training/fit_claims.py") from e
    if tuple(model["features"]) != DECISION_FEATURES:
        raise ModelMissing(f"{MODEL_FILE} was fitted on other features: run training/fit_claims.py")
    return model


# ---------------------------------------------------------------- verdicts


def verify_claim(engine, claim: str, settings=None, chat_model=None) -> ClaimResult:
    """Judge a claim against the engine's collection: supported, refuted or not_in_corpus, with quotations.

    Without an LLM (the `extractive` generator) the verdict comes from the fitted models; with one
    (`chat_model`, or settings.answer.generator naming a server), the model judges and the extractive
    verdict is the fallback when its reply cannot be read.
    """
    settings = settings or engine.settings
    if not isinstance(claim, str) or not claim.strip():
        raise BadInput("the claim is empty; type a statement to check against the documents")
    claim = clean_question(claim, settings.retrieval.max_question_chars)
    if is_a_question(claim):  # judged as a claim, a question reads as refuted or unfounded
        raise BadInput("this is a question, not a claim: state what you want checked (\"The reform was adopted in May "
                       "1957.\"), or ask the question in the chat")
    core, passages, units = gather(engine, claim)
    result = judge_extractive(engine, claim, passages, units, core)
    if chat_model is None and settings.answer.generator == "extractive":
        return result
    from rag.claims_llm import judge_with_llm  # the LLM path, and its LangChain model clients, only when asked for

    if chat_model is None:
        from rag.llm import make_chat_model

        chat_model = make_chat_model(settings.answer)
    name = settings.answer.generator if settings.answer.generator != "extractive" else type(chat_model).__name__
    return judge_with_llm(engine, claim, passages, chat_model, settings, fallback=result, name=name)


# how a question opens: "Who ...", "When was ...", "Did ...", "And why ..."
_ASKING = re.compile(r"(?:and |but |so )?(?:who|whom|whose|what|when|where|why|how|which|is|are|was|were|do|does|did|can|"
                     r"could|should|would|will|has|have|had)\b", re.IGNORECASE)


def is_a_question(text: str) -> bool:
    """True if the text asks rather than states: it opens as a question does and ends with a question mark ("Lenin
    set out his theses in What Is To Be Done?" and 'Stalin asked, "Who will remember?"' state something)."""
    return bool(_ASKING.match(text)) and text.endswith("?")


def judge_extractive(engine, claim: str, passages: list[ScoredPassage], units: list[Unit], core: str = "") -> ClaimResult:
    """The decision model's verdict over the best-aligned units (see the module docstring)."""
    if not units:
        return ClaimResult(
            claim=claim, verdict="not_in_corpus", passages=passages, reason="no passage of the collection deals with this claim"
        )
    model, core = claim_model(), core or claim
    x = decision_features(core, units)
    p = verdict_probabilities(model, x)
    scores = {name: round(float(v), 4) for name, v in zip(DECISION_FEATURES, x)}
    scores.update({f"p_{v}": round(float(q), 4) for v, q in zip(VERDICTS, p)})
    judged = units[:2]
    conflicts = [typed_conflicts(core, u.text, u.paragraph, content_stems(core), u.context) for u in judged]
    verdict, unit = "not_in_corpus", units[0]
    says_the_same = p.argmax() == 0 and p[0] >= model["support_min"]
    if says_the_same and not conflicts[0]:
        # the closer of the two best-aligned units, if free of conflict: a sentence alone, not diluted by its neighbour
        verdict, unit = "supported", max((u for u, c in zip(judged, conflicts) if not c), key=lambda u: u.cosine)
    elif p.argmax() == 1 or says_the_same:
        # on the best-aligned unit, whose conflict the model weighed; a unit that says all the claim says but one
        # point, which it reverses (a negation, a trend, a month, a number, a name), refutes the claim
        verdict = "refuted"
    elif (changed := number_changed_only(core, judged)) is not None:
        verdict, unit = "refuted", changed
        conflicts[0] = conflicts[judged.index(changed)]
    quotes = quote_unit(engine, unit, passages) if verdict != "not_in_corpus" else []
    if not quotes:
        return ClaimResult(claim=claim, verdict="not_in_corpus", passages=passages, scores=scores,
                           reason=f"the documents do not settle this claim (supported {p[0]:.0%}, refuted {p[1]:.0%}); "
                           f"the closest source sentence: \u201c{_clip(units[0].text)}\u201d")
    found = [c for _, c in conflicts[0]] if verdict == "refuted" else []
    if verdict == "supported":
        reason = f"a source sentence says the same (supported {p[0]:.0%})"
    elif found:
        reason = f"the source differs: claim \u201c{found[0].claim_span}\u201d vs source \u201c{found[0].source_span}\u201d"
    else:
        reason = f"the closest source sentence says otherwise (refuted {p[1]:.0%})"
    return ClaimResult(claim=claim, verdict=verdict, quotes=quotes, conflicts=found, passages=passages,
                       scores=scores, reason=reason)


def number_changed_only(claim: str, units: list[Unit]) -> Unit | None:
    """The unit that says what the claim says but for the year: it gives every other number of the claim (in figures or
    in words), most of its other words (months aside), every name it uses (its paragraph, its work's title, section or
    author's surname may), and another year in the claim's year's place: for the same day ("took effect on 1 January
    1836" against "came into force on 1 January 1834, uniting eighteen states"), or in the same words, the claim's
    words around its year all there ("adopted by the Supreme Soviet in May 1935" against "...adopted by the supreme
    Soviet in May", 1957). That is the date of the very statement the claim makes, changed, which the decision model,
    seeing a year the source lacks, would leave "not in the documents". Not where a judged unit's paragraph gives the
    claim's year (it may say what the claim says, "in the same year"), nor for a count the source lacks, which may
    count what the source never does."""
    words = {s for s in content_stems(claim) if not s[0].isdigit() and s not in MONTH_STEMS}
    for u in units:
        stated = numbers_of(u.text)
        unstated = list(dict.fromkeys(n for n in numbers_of(claim) if not given(n, stated)))
        if len(unstated) != 1 or not is_year(year := unstated[0]) or not words \
                or any(given(year, numbers_of(v.paragraph or v.text)) for v in units):
            continue
        paragraph, stems = u.paragraph or u.text, unit_stems(u, u.text)
        same_words = restated_otherwise(claim, u.text, year) and words_around(claim, year) - MONTH_STEMS <= stems
        in_its_place = same_day_other_years(claim, u.text, year, paragraph) or same_words
        context = f"{u.context} {' '.join(author_surnames(u.author))}"
        if in_its_place and len(words & stems) > len(words) / 2 and not unnamed(claim, paragraph, context, first_word=True) \
                and number_words(claim) <= number_words(u.text):
            return u
    return None


def _clip(text: str, words: int = 30) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" \u2026" if len(parts) > words else "")


def quote_unit(engine, unit: Unit, passages: list[ScoredPassage]) -> list[Quote]:
    """The unit's sentences as verified quotations of the passage's document (whole, or one by one)."""
    file = passages[unit.number - 1].passage.doc.file
    whole = verify_quote(engine.index, file, unit.text)
    if whole is not None:
        return [whole]
    parts = [verify_quote(engine.index, file, unit.text[a:b]) for a, b in split_sentences(unit.text)]
    return [q for q in parts if q is not None][:MAX_QUOTES]
