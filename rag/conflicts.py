"""Where a claim and a source sentence that says nearly the same disagree: a number or date, a month, a name, a trend
(rose / fell) or a negation (rag.claims weighs these as features of its verdict and shows the two spans side by side).
Also the claim's content words, as these checks and rag.claims compare them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, Field

from rag.lexical import stem
from rag.numbers import given, number_positions, numbers_of, rivals, same_day_other_years
from rag.text import STOP_WORDS, SUP_TAG
from rag.wordnet import names_for


def _word_set(words: str) -> set[str]:
    return set(words.split())


# verbs that say who holds a view ("Ha writes that ..."), not what the claim is about
REPORTING = _word_set(
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
_NEGATIVE_MEANING = _word_set("""without hesitate hesitates hesitated hesitating shrink shrinks shrank shrinking fail fails
failed failing refrain refrains refrained refraining cease ceases ceased ceasing""")
_SCOPE_END = {"but", "as", "than", "and", "while", "because", "which", "who", "that"}
_MONTHS = sorted(_word_set("january february march april may june july august september october november december"))
MONTH_STEMS = frozenset(stem(m) for m in _MONTHS)  # "januari", "novemb": a date's words, not a statement's


class Conflict(BaseModel):
    """Where a claim and its closest source sentence disagree."""

    claim_span: str = Field(description="The words of the claim that disagree with the source")
    source_span: str = Field(description="The words of the source sentence they disagree with")


def lower_words(text: str) -> list[str]:
    """Lower-case words and numbers of a text, an apostrophe's ending kept ("stalin's")."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


@lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    """Snowball's stem of a word, a Russian plural's taken from its singular (rag.lexical.stem), so that a claim's
    "sovnarkhozy" meets a source's "sovnarkhoz"."""
    return stem(word)


def content_stems(text: str, drop: set[str] = frozenset()) -> set[str]:
    """Stems of the content words of a text (stop words, reporting verbs and `drop` left out)."""
    return {_stem(w) for w in lower_words(text) if w not in STOP_WORDS and w not in REPORTING and w not in drop and len(w) > 1}


def _context(text: str, token: str, width: int = 3) -> str:
    """A few words either side of a token, as a span to show (without an HTML note marker: "1930.<sup>13</sup>" shows
    as "1930.")."""
    at = next((m.start() for m in re.finditer(r"\S+", text) if token.lower() in m.group().lower().replace(",", "")), None)
    return token if at is None else _context_at(text, at, width)


def _context_at(text: str, offset: int, width: int = 3) -> str:
    """A few words either side of the word at `offset` (or the last word), as _context shows them."""
    words = list(re.finditer(r"\S+", text))
    i = next((i for i, m in enumerate(words) if m.end() > offset), len(words) - 1)
    return re.sub(SUP_TAG, "", " ".join(m.group() for m in words[max(0, i - width) : i + width + 1]))


def _number_span(text: str, number: str) -> str:
    """A few words around a number of a text (numbers_of), written in figures or as a fraction ("half of"); the first
    figure giving it, else the first share ("50 deputies" before "half of them")."""
    at = next((start for start, _, n in number_positions(text) if n == number), None)
    return _context(text, number) if at is None else _context_at(text, at)  # None: not a number of this text


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
        if tokens[start : start + 1] == [","] and "," in tokens[start + 1 : start + 5]:
            start = tokens.index(",", start + 1) + 1  # an aside after the cue: "without, apparently, causing X"
        if _verbal(cue) and tokens[start : start + 1] and tokens[start] in _NEGATIVE_MEANING:
            cancelled = start  # two negations: what follows is asserted
            continue
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


def _verbal(cue: list[str]) -> bool:
    """A negation of a verb or adverb ("not", "never", "didn't"), which a negative word after it cancels; not of a noun
    ("no failed harvests" still denies the failures)."""
    return cue[0] in ("not", "never", "cannot") or cue[0].endswith("n't")


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
        # the rival in the same words first ("purged its members in 1937", not "founded in 1921")
        same_words = restated_otherwise(claim, source, n)
        others = same_words if given(n, passage_nums) else same_words or rivals(n, claim_nums, source_nums)
        same_day = same_day_other_years(claim, source, n)  # "on 14 July 1905" against "on 14 July 1903", not "in 1898"
        others = sorted(others, key=lambda s: s not in same_day)
        if others:
            out.append(("number", Conflict(claim_span=_number_span(claim, n), source_span=_number_span(source, others[0]))))
    cw, sw = lower_words(claim), lower_words(source)
    claim_months = [m for m in _MONTHS if m in cw and m != "may"]
    source_months = [m for m in _MONTHS if m in sw and m != "may"]
    if claim_months and source_months and not set(claim_months) & set(source_months):
        out.append(("month", Conflict(claim_span=_context(claim, claim_months[0]), source_span=_context(source, source_months[0]))))
    # another person, place or body in the same words ("the sultan of Tidore" / "of Ternate") where the source never names the claim's,
    # by its name or another ("the Quakers" / "the Society of Friends", "Britain" / "London")
    swapped = [(c, s) for c in sorted(unnamed(claim, paragraph, context)) for s in sorted(names_of(source) - _bare_words(claim))
               if words_around(claim, c) & words_around(source, s)]
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


def restated_otherwise(claim: str, source: str, claimed: str) -> list[str]:
    """The rivals of a claimed number the source does not state, in the same words as the claim's ("began in February
    1937 at the Titaghur mills" against "began at the Titaghur mills in February 1936")."""
    source_nums = numbers_of(source)
    if given(claimed, source_nums):
        return []
    return [s for s in rivals(claimed, numbers_of(claim), source_nums) if words_around(claim, claimed) & words_around(source, s)]


def words_around(text: str, token: str, width: int = 3, reach: int = 8) -> set[str]:
    """Stems of the `width` content words nearest a number (or a lower-case word) on each side, within `reach` words:
    "the worst harvest was that of 1936" puts "worst" and "harvest" beside 1936, past the function words between."""
    tokens = list(re.finditer(r"[\w.,]+", text))
    words = [m.group().lower() for m in tokens]
    stems = [next(iter(sorted(content_stems(w))), "") for w in words]  # one per token ("convicted.12"), whatever the hash
    # the tokens each occurrence spans (all of "two-thirds": its "two" is no word around it), or the token itself
    spans = [[i for i, m in enumerate(tokens) if m.start() < end and m.end() > start]
             for start, end, n in number_positions(text) if n == token]
    spans += [[i] for i, w in enumerate(words) if w.strip(".,") == token]
    out: set[str] = set()
    for first, last in ((span[0], span[-1]) for span in spans if span):
        before = [s for s in stems[max(0, first - reach) : first] if s and not s[0].isdigit()][-width:]
        after = [s for s in stems[last + 1 : last + 1 + reach] if s and not s[0].isdigit()][:width]
        out |= set(before) | set(after)
    return out


_NAME = re.compile(r"(?<![.?!:]\s)(?<!^)\b[A-Z][a-z]+(?:-[A-Z]?[a-z]+)*")


def _bare_words(text: str) -> set[str]:
    """Lower-case words, a possessive's "'s" left off ("Brunel's" is "brunel")."""
    return set(_bare_words_in_order(text))


def names_of(text: str) -> set[str]:
    """Capitalized words not opening a sentence (names of people, places, bodies), lower-cased; months left out."""
    return {n.lower() for n in _NAME.findall(text.strip())} - set(_MONTHS)


def unnamed(claim: str, paragraph: str, context: str = "", first_word: bool = False) -> set[str]:
    """The names of a claim that a source paragraph and its `context` (its work's title and section, or what else the
    caller takes for granted) never use, by that name or another ("the Quakers" / "the Society of Friends", "Britain" /
    "London"). A name is used where its parts stand together ("Hesse-Darmstadt" in "Hesse Darmstadt", "Aigle" in
    "L'Aigle"). With `first_word`, a capitalized first word that is no function word counts as a name ("Baden joined
    ..."); it may be one."""
    around = _bare_words_in_order(f"{paragraph} {context}")
    spaced = f" {' '.join(around)} "
    runs = f" {' '.join(re.findall(r'[a-z]+', spaced))} "
    names = names_of(claim)
    first = re.match(r"\W*([A-Z][a-z]+(?:-[A-Z]?[a-z]+)*)", claim)
    if first_word and first and first[1].lower() not in STOP_WORDS:
        names.add(first[1].lower())
    return {n for n in names - set(around)
            if f" {' '.join(re.findall(r'[a-z]+', n))} " not in runs and not _named_otherwise(n, spaced)}


def _named_otherwise(name: str, spaced_words: str) -> bool:
    """True if a text (its bare words, joined and padded by spaces) calls what `name` names by another of its names,
    or names a place within it (rag.wordnet)."""
    return any(f" {other} " in spaced_words for other in names_for(name))


def _bare_words_in_order(text: str) -> list[str]:
    return [w.removesuffix("'s") for w in lower_words(text)]


def _stem_context(text: str, stems: set[str]) -> str:
    """A few words around the first word of `text` whose stem is in `stems`."""
    word = next((w for w in lower_words(text) if _stem(w) in stems), "")
    return _context(text, word) if word else text


def _trend_span(text: str, words: list[str], a: str, b: str) -> str:
    lexicons = {"up": _UP, "down": _DOWN, "change": _CHANGE, "same": _SAME}
    for w in words:
        if w in lexicons[a] or w in lexicons[b]:
            return _context(text, w)
    return text
