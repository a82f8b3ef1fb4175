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

With an LLM, the model reads the numbered passages and answers in a fixed format; its quotations
are verified against the cited documents like any other, and an unreadable reply falls back to the
extractive verdict.
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
from rag.contradiction import contradiction_log_odds
from rag.errors import BadInput, ModelMissing
from rag.lexical import stem
from rag.quotes import verify_quote
from rag.retrieve import clean_question
from rag.text import STOP_WORDS, breaks_off
from rag.types import Quote, ScoredPassage
from rag.wordnet import names_for

Verdict = Literal["supported", "refuted", "not_in_corpus"]
VERDICTS = ("supported", "refuted", "not_in_corpus")

MODEL_FILE = Path(__file__).resolve().parent / "claim_model.json"  # written by training/fit_claims.py
SEARCH_K = 10
JUDGED_UNITS = 4  # best-aligned units the pair model reads
MIN_SENTENCE_WORDS = 5
MAX_QUOTES = 2


def _word_set(words: str) -> set[str]:
    return set(words.split())


_REPORTING = _word_set(
    """according writes write wrote reports report reported holds hold held states state stated
finds find found argues argue argued notes note noted claims claim claimed says say said cites cite cited
quotes quote quoted shows show showed suggests suggest suggested concludes conclude concluded sees see saw
describes describe described explains explain explained mentions mention mentioned"""
)
_UP = _word_set("""increase increased increases rise rose risen rising grew grow grown growth up higher raise raised
expanded expand improved improve gain gained doubled""")
_DOWN = _word_set("""decrease decreased decreases decline declined declines fall fell fallen falling drop dropped down
lower lowered reduce reduced reduction shrank cut worsened lost halved""")
_CHANGE = {"moved", "shifted", "shift", "away", "abandoned", "switched", "replaced", "reversed", "turned"}
_SAME = {"still", "continued", "continuing", "remained", "retained", "kept", "maintained", "unchanged"}
_NEG_CUES = {"not", "no", "never", "without", "nor", "neither", "none", "cannot", "instead", "unlike"}
# words that negate by their meaning: negated in turn ("not without opposition", "did not hesitate to sell", "never
# failed to pay"), they assert what follows
_NEGATIVE_MEANING = _word_set("without hesitate hesitated shrink shrank fail failed refrain refrained cease ceased")
_SCOPE_END = {"but", "as", "than", "and", "while", "because", "which", "who", "that"}
_MONTHS = sorted(_word_set("january february march april may june july august september october november december"))
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?!\d)|(?<![\w.])\d+(?:\.\d+)?s?(?![\d])")


class Conflict(BaseModel):
    """Where a claim and its closest source sentence disagree."""

    claim_span: str = Field(description="The words of the claim that disagree with the source")
    source_span: str = Field(description="The words of the source sentence they disagree with")


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
    context: str = ""  # the work's title and the section heading: what "the reform" or "this policy" refers to
    cosine: float = 0.0
    coverage: float = 0.0
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(3))  # of the pair model, once judged

    @property
    def align(self) -> float:
        return (self.cosine + self.coverage) / 2


# ---------------------------------------------------------------- words and features


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


@lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    """Snowball's stem of a word, a Russian plural's taken from its singular (rag.lexical.stem), so that a claim's
    "sovnarkhozy" meets a source's "sovnarkhoz"."""
    return stem(word)


def content_stems(text: str, drop: set[str] = frozenset()) -> set[str]:
    """Stems of the content words of a text (stop words, reporting verbs and `drop` left out)."""
    return {_stem(w) for w in _words(text) if w not in STOP_WORDS and w not in _REPORTING and w not in drop and len(w) > 1}


def numbers_of(text: str) -> list[str]:
    """Numbers as written in a text, commas removed ("30,000" -> "30000"), and shares written as fractions in per cent
    ("half of the members" -> "50", "two-thirds" -> "66.7"), as a paraphrase may give either."""
    return [m.group().replace(",", "") for m in _NUMBER.finditer(text)] + [_percent(m) for m in _FRACTION.finditer(text)]


# a share of something written as a fraction; not a part of a period ("the first half of 1930", "the last quarter"),
# nor a length of time ("half a century", "a quarter of an hour")
_FRACTION = re.compile(r"(?<!first )(?<!second )(?<!third )(?<!last )(?<!latter )(?<!final )(?<!other )"
                       r"\b(?:(a|an|one|two|three|four)[\s-]+)?(half|thirds?|quarters?|fifths?)\b"
                       r"(?!\s+(?:of\s+)?an?\s+(?:century|decade|year|month|week|day|hour)\b)", re.IGNORECASE)
_NUMERATORS = {"two": 2, "three": 3, "four": 4}
_DENOMINATORS = {"half": 2, "third": 3, "quarter": 4, "fifth": 5}


def _percent(fraction: re.Match) -> str:
    numerator = _NUMERATORS.get((fraction.group(1) or "").lower(), 1)
    share = 100 * numerator / _DENOMINATORS[fraction.group(2).lower().removesuffix("s")]
    return f"{share:.1f}".removesuffix(".0")


def _is_year(n: str) -> bool:
    return n.isdigit() and len(n) == 4 and 1000 <= int(n) <= 2100


def _context(text: str, token: str, width: int = 3) -> str:
    """A few words either side of a token, as a span to show."""
    words = text.split()
    for i, w in enumerate(words):
        if token.lower() in w.lower().replace(",", ""):
            return " ".join(words[max(0, i - width) : i + width + 1])
    return token


def _number_span(text: str, number: str) -> str:
    """A few words around a number of a text (numbers_of), written in figures or as a fraction ("half of")."""
    if number not in text.replace(",", ""):
        number = next((m.group(2) for m in _FRACTION.finditer(text) if _percent(m) == number), number)
    return _context(text, number)


def _near_claim(words: list[str], i: int, claim_stems: set[str], width: int = 3) -> bool:
    """True if a claim content word sits within `width` words before or after words[i]."""
    around = words[max(0, i - width) : i] + words[i + 1 : i + width + 1]
    return any(_stem(w) in claim_stems for w in around)


def _directions(words: list[str], claim_stems: set[str]) -> set[str]:
    """The trends ("up", "down", "change", "same") stated about the claim's own terms."""
    found = set()
    for i, w in enumerate(words):
        for name, lexicon in (("up", _UP), ("down", _DOWN), ("change", _CHANGE), ("same", _SAME)):
            if w in lexicon and _near_claim(words, i, claim_stems):
                found.add(name)
    return found


def negated_terms(text: str) -> tuple[set[str], str]:
    """Content stems in the scope of a negation ("not X", "rather than X", "without X", "in place of X", "too weak to
    X"), and the cue's span.

    Two negations cancel ("not without X", "did not shrink from X" assert X).
    The scope runs to the next comma, "but", "as" or "than", so "not so much X as Y" negates X only; an aside
    between commas right after the cue is skipped. "Not X until Y" says that X happened, at Y: no negation.
    """
    tokens = re.findall(r"[\w'’]+|[,;:.()“”\"]", text.lower())
    out: set[str] = set()
    span = ""
    cancelled = -1  # the token a negation before it cancels
    for i in range(len(tokens)):
        cue, start = _negation_cue(tokens, i)
        if not cue or i == cancelled:
            continue
        if tokens[start : start + 1] and tokens[start] in _NEGATIVE_MEANING:
            cancelled = start  # two negations: what follows is asserted
            continue
        if tokens[start : start + 1] == [","] and "," in tokens[start + 1 : start + 5]:
            start = tokens.index(",", start + 1) + 1  # an aside after the cue: "without, apparently, causing X"
        scope = []
        for w in tokens[start : start + 7]:
            if w in _SCOPE_END or not w[0].isalnum():
                break
            scope.append(w)
        if "until" in scope:
            continue
        stems = content_stems(" ".join(scope))
        if stems and not span:
            span = " ".join(cue + [w for w in tokens[i + 1 : start] if w[0].isalnum() and w not in cue] + scope[:5])
        out |= stems
    return out, span.strip()


def _negation_cue(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The words of a negation cue at tokens[i] and where its scope starts, or ([], i) if there is none there."""
    t, following = tokens[i], tokens[i + 1 : i + 3]
    if t == "not" and following[:1] == ["only"]:
        return [], i  # "not only X but also Y" asserts X
    if t in _NEG_CUES or t.endswith("n't"):
        return [t], i + 1
    if t == "than" and i and tokens[i - 1] == "rather":
        return ["rather", t], i + 1
    if t == "in" and following == ["place", "of"]:
        return [t, *following], i + 3
    if t == "too" and following[1:] == ["to"] and following[0][0].isalpha():  # "too weak to X"
        return [t, *following], i + 3
    return [], i


def typed_conflicts(claim: str, source: str, paragraph: str, claim_stems: set[str], context: str = "") -> list[tuple[str, Conflict]]:
    """Differences, by kind, between a claim and a closely matching source sentence that may contradict it:
    a number or date its paragraph does not have where the sentence has another, a name neither the paragraph nor its
    `context` (the work's title and section) has where the sentence names another, opposite trends stated about the
    same terms, or terms that one side negates and the other asserts."""
    out: list[tuple[str, Conflict]] = []
    claim_nums, source_nums = numbers_of(claim), numbers_of(source)
    passage_nums = numbers_of(paragraph)
    for n in claim_nums:
        # a number the paragraph states elsewhere conflicts only where the sentence gives another in the same words
        rivals = _restated_otherwise(claim, source, n) if _given(n, passage_nums) else _rivals(n, claim_nums, source_nums)
        if rivals:
            out.append(("number", Conflict(claim_span=_number_span(claim, n), source_span=_number_span(source, rivals[0]))))
    cw, sw = _words(claim), _words(source)
    claim_months = [m for m in _MONTHS if m in cw and m != "may"]
    source_months = [m for m in _MONTHS if m in sw and m != "may"]
    if claim_months and source_months and not set(claim_months) & set(source_months):
        out.append(("month", Conflict(claim_span=_context(claim, claim_months[0]), source_span=_context(source, source_months[0]))))
    # another person, place or body in the same words ("the sultan of Tidore" / "of Ternate") where the source never names the claim's,
    # by its name or another ("the Quakers" / "the Society of Friends", "Britain" / "London")
    around = _bare_words_in_order(f"{paragraph} {context}")
    spaced = f" {' '.join(around)} "
    unseen_names = {n for n in names_of(claim) - set(around) if not _named_otherwise(n, spaced)}
    swapped = [(c, s) for c in sorted(unseen_names) for s in sorted(names_of(source) - _bare_words(claim))
               if _around(claim, c) & _around(source, s)]
    if swapped:
        out.append(("name", Conflict(claim_span=_context(claim, swapped[0][0]), source_span=_context(source, swapped[0][1]))))
    c_dir, s_dir = _directions(cw, claim_stems), _directions(sw, claim_stems)
    for a, b in (("up", "down"), ("change", "same")):
        claimed, stated = c_dir & {a, b}, s_dir & {a, b}
        # each side states one trend, the other's: a side stating both ("it rose in the north and fell in the south")
        # does not say which the claim's terms took
        if len(claimed) == len(stated) == 1 and claimed != stated:
            out.append(("direction", Conflict(claim_span=_trend_span(claim, cw, a, b), source_span=_trend_span(source, sw, a, b))))
    c_neg, c_span = negated_terms(claim)
    s_neg, s_span = negated_terms(source)
    source_stems, claim_all = content_stems(source), claim_stems
    # only when one side has no negation at all: "could not order more than" ~ "does not exceed"
    if c_neg and not s_neg and c_neg & source_stems:
        out.append(("negation", Conflict(claim_span=c_span, source_span=_stem_context(source, c_neg & source_stems))))
    elif s_neg and not c_neg and s_neg & claim_all:
        out.append(("negation", Conflict(claim_span=_stem_context(claim, s_neg & claim_all), source_span=s_span)))
    return out


_NAME = re.compile(r"(?<![.?!:]\s)(?<!^)\b[A-Z][a-z]+(?:-[A-Z]?[a-z]+)*")


def _bare_words(text: str) -> set[str]:
    """Lower-case words, a possessive's "'s" left off ("Brunel's" is "brunel")."""
    return set(_bare_words_in_order(text))


def names_of(text: str) -> set[str]:
    """Capitalized words not opening a sentence (names of people, places, bodies), lower-cased; months left out."""
    return {n.lower() for n in _NAME.findall(text.strip())} - set(_MONTHS)


def _named_otherwise(name: str, spaced_words: str) -> bool:
    """True if a text (its bare words, joined and padded by spaces) calls what `name` names by another of its names,
    or names a place within it (rag.wordnet)."""
    return any(f" {other} " in spaced_words for other in names_for(name))


def _bare_words_in_order(text: str) -> list[str]:
    return [w.removesuffix("'s") for w in _words(text)]


def _stem_context(text: str, stems: set[str]) -> str:
    """A few words around the first word of `text` whose stem is in `stems`."""
    word = next((w for w in _words(text) if _stem(w) in stems), "")
    return _context(text, word) if word else text


def _trend_span(text: str, words: list[str], a: str, b: str) -> str:
    lexicons = {"up": _UP, "down": _DOWN, "change": _CHANGE, "same": _SAME}
    for w in words:
        if w in lexicons[a] or w in lexicons[b]:
            return _context(text, w)
    return text


def _same_number(a: str, b: str) -> bool:
    """Equal numbers, or one a more precise number the other rounds ("almost 34 million" for "33.9 million")."""
    return a == b or _rounds(a, b) or _rounds(b, a)


def _given(claimed: str, stated: list[str]) -> bool:
    """True if the numbers a source states give one a claim makes: the same number; a year within the decade the claim
    names ("1936" gives "the 1930s"); or the decade of the claim's year where the source names no year in it ("the
    mid-1970s" gives "roughly 1975", but "the 1930s ... the worst was 1936" does not give "1933")."""
    same_decade = [s for s in stated if s[:3] == claimed[:3]]  # "1936", "1930s" for "1933" (first three digits)
    claims_decade = claimed.endswith("s") and _is_year(claimed[:-1])
    return any(_same_number(claimed, s) for s in stated) \
        or (claims_decade and any(_is_year(s) for s in same_decade)) \
        or (_is_year(claimed) and any(s.endswith("s") for s in same_decade) and not any(_is_year(s) for s in same_decade))


def _rounds(rounded: str, exact: str) -> bool:
    """True if `exact`, rounded to as many decimals as `rounded` has, is `rounded` ("34" and "33.9"; not "34" and "33"),
    or, for a whole number of two or more significant digits ending in zeros, to as many tens, hundreds or thousands
    ("roughly 534,000" for "533,950"; not "20,000" for "15,000", nor one year for another)."""
    if not rounded.replace(".", "").isdigit() or not exact.replace(".", "").isdigit():
        return False
    places = len(rounded.partition(".")[2])
    if len(exact.partition(".")[2]) > places:
        return round(float(exact), places) == float(rounded)
    zeros = len(rounded) - len(rounded.rstrip("0"))
    if places or zeros < 2 or len(rounded) - zeros < 2 or rounded == exact or _is_year(rounded) or _is_year(exact):
        return False
    return int(float(exact) / 10**zeros + 0.5) * 10**zeros == int(rounded)


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
    """The claim without a leading "According to X," / "X writes that", and the surnames it named."""
    named = [s for s in surnames if re.search(rf"\b{re.escape(s)}\b", claim)]
    names = "|".join(re.escape(s) for s in named)
    core = claim
    if names:
        who = rf"(?:{names})(?:'s)?(?:\s+(?:and|&)\s+(?:{names}))?"
        core = re.sub(rf"^according to {who},?\s*", "", core, flags=re.IGNORECASE)
        core = re.sub(rf"^{who}\s+(?:also\s+)?(?:{'|'.join(_REPORTING)})\s+(?:that\s+)?", "", core)
    return (core[0].upper() + core[1:]) if core else claim, named


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
                        units.append(Unit(number, text, para, _context_of(sp.passage)))
    return units


def _context_of(passage) -> str:
    """The words a passage's sentences take for granted: its work's title and its section heading (numbers left
    out, so a title's "1923-1930" is not a date the sentence gives)."""
    return re.sub(r"\d+", " ", f"{passage.doc.title} {passage.section}")


def unit_stems(unit: Unit, text: str) -> set[str]:
    """Content stems of one of a unit's texts, with those of its context."""
    return content_stems(text) | content_stems(unit.context)


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
    claim_nums, unit_nums = numbers_of(claim), numbers_of(unit.text)
    unseen = [n for n in claim_nums if not _given(n, numbers_of(paragraph))]
    rival = [n for n in unseen if _rivals(n, claim_nums, unit_nums)]
    kinds = {kind for kind, _ in typed_conflicts(claim, unit.text, paragraph, claim_stems, unit.context)}
    coverage = len(claim_stems & seen) / max(len(claim_stems), 1)
    # a number changed where the words around it are the same ("in July 1936" vs "in July of 1932"): a wrong number or
    # date, even where the claim's number is stated elsewhere in the paragraph
    swap = any(_restated_otherwise(claim, unit.text, n) for n in claim_nums)
    return [coverage, min(len(claim_stems - seen), 6) / 6, float(bool(rival)), float(bool(unseen) and not rival),
            float("month" in kinds), float("direction" in kinds), float("negation" in kinds), float(swap)]


def _rivals(claimed: str, claim_nums: list[str], source_nums: list[str]) -> list[str]:
    """The source's numbers of the same kind as a claimed one (a year for a year) that are none of the claim's."""
    return [s for s in source_nums if _is_year(s) == _is_year(claimed) and not any(_same_number(c, s) for c in claim_nums)]


def _restated_otherwise(claim: str, source: str, claimed: str) -> list[str]:
    """The rivals of a claimed number the source does not state, in the same words as the claim's ("began in February
    1937 at the Titaghur mills" against "began at the Titaghur mills in February 1936")."""
    source_nums = numbers_of(source)
    if _given(claimed, source_nums):
        return []
    return [s for s in _rivals(claimed, numbers_of(claim), source_nums) if _around(claim, claimed) & _around(source, s)]


def _around(text: str, token: str, width: int = 3) -> set[str]:
    """Content stems within `width` words of a number (or a lower-case word) in a text."""
    words = re.findall(r"[\w.,]+", text.lower())
    out: set[str] = set()
    for i, w in enumerate(words):
        if numbers_of(w) == [token] or w.strip(".,") == token:
            out |= content_stems(" ".join(words[max(0, i - width) : i] + words[i + 1 : i + width + 1]))
    return {stem for stem in out if not stem[0].isdigit()}


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
    core, passages, units = gather(engine, claim)
    result = judge_extractive(engine, claim, passages, units, core)
    if chat_model is None and settings.answer.generator == "extractive":
        return result
    if chat_model is None:
        from rag.llm import make_chat_model  # only the LLM path needs the LangChain model clients

        chat_model = make_chat_model(settings.answer)
    name = settings.answer.generator if settings.answer.generator != "extractive" else type(chat_model).__name__
    return judge_with_llm(engine, claim, passages, chat_model, settings, fallback=result, name=name)


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


# ---------------------------------------------------------------- the LLM path

PROMPT_FILE = "verify_claim.txt"
PROMPT_FIELDS = frozenset({"claim", "passages"})
_VERDICT_LINE = re.compile(r"^\W*verdict\W*:\s*\W*(supported|refuted|not[ _-]in[ _-]corpus)\b", re.IGNORECASE | re.MULTILINE)
_REASON_LINE = re.compile(r"^\W*reason\W*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_QUOTE = re.compile(r"[\"\u201c]([^\"\u201d]{10,}?)[\"\u201d]\s*\[P(\d+)\]")
_CONFLICT_LINE = re.compile(
    r"^\W*conflict\W*:\s*[\"\u201c](.+?)[\"\u201d]\s*(?:<>|vs\.?|versus)\s*[\"\u201c](.+?)[\"\u201d]",
    re.IGNORECASE | re.MULTILINE,
)


def judge_with_llm(
    engine, claim: str, passages: list[ScoredPassage], chat_model, settings, fallback: ClaimResult, name: str = "llm"
) -> ClaimResult:
    """The model's verdict with its quotations verified; `fallback` when the reply cannot be parsed."""
    from rag.llm import format_passages, load_prompt, translated_errors

    shown = passages[: settings.answer.passages_in_prompt]
    template = load_prompt(Path(settings.prompts_dir) / PROMPT_FILE, PROMPT_FIELDS)
    prompt = template.format(claim=claim, passages=format_passages(shown))
    with translated_errors(chat_model):
        reply = chat_model.invoke(prompt)
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    parsed = parse_reply(text)
    if parsed is None:
        return fallback.model_copy(update={"reason": fallback.reason + " (the model's reply could not be read)"})
    verdict, reason, drafts, conflicts = parsed
    quotes: list[Quote] = []
    dropped = 0
    for quote_text, number in drafts:
        quote = None
        if 1 <= number <= len(shown):
            quote = verify_quote(engine.index, shown[number - 1].passage.doc.file, quote_text)
        if quote is None or any(q.start == quote.start and q.doc == quote.doc for q in quotes):
            dropped += quote is None
            continue
        quotes.append(quote)
    if verdict != "not_in_corpus" and not quotes:
        verdict, reason = "not_in_corpus", "the model gave no quotation that could be verified in the documents"
    shown_text = " ".join(normalize_words(q.text) for q in quotes)
    kept = [c for c in conflicts if verdict == "refuted" and normalize_words(c.source_span) in shown_text]
    return ClaimResult(
        claim=claim,
        verdict=verdict,
        quotes=quotes if verdict != "not_in_corpus" else [],
        reason=reason,
        conflicts=kept,
        passages=passages,
        dropped_quotes=dropped,
        generator=name,
    )


def normalize_words(text: str) -> str:
    """Lower-case words only, for loose containment checks of spans the model copied."""
    return " ".join(_words(text))


def parse_reply(text: str) -> tuple[str, str, list[tuple[str, int]], list[Conflict]] | None:
    """(verdict, reason, [(quote, passage number)], conflicts) from a model reply, or None if it has no verdict."""
    m = _VERDICT_LINE.search(text)
    if m is None:
        return None
    verdict = re.sub(r"[ _-]+", "_", m.group(1).lower())
    reason_m = _REASON_LINE.search(text)
    reason = reason_m.group(1).strip() if reason_m else f"the model judged the claim {verdict}"
    drafts = [(q.strip(), int(n)) for q, n in _QUOTE.findall(text)]
    conflicts = [Conflict(claim_span=a.strip(), source_span=b.strip()) for a, b in _CONFLICT_LINE.findall(text)]
    return verdict, reason, drafts, conflicts
