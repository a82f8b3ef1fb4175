"""Numbers as a reader compares them: a claim's number and a source's are the same when one is written as a fraction
("two-thirds" for 66.7 per cent) or rounds the other ("almost 34 million" for "33.9 million"), and a decade gives a
year only where the source names no year within it; and the days a text dates something to ("17 November 1867"),
whose day and month mark an event. rag.conflicts and rag.claims compare numbers by these rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.text import MONTH

_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?!\d)|(?<![\w.])\d+(?:\.\d+)?(?:s(?![a-z]))?(?![\d])")


def numbers_of(text: str) -> list[str]:
    """Numbers as written in a text, commas removed ("30,000" -> "30000"), and shares written as fractions in per cent
    ("half of the members" -> "50", "two-thirds" -> "66.7"), as a paraphrase may give either."""
    return [number for _, _, number in number_positions(text)]


def number_positions(text: str) -> list[tuple[int, int, str]]:
    """numbers_of with where each stands in the text: (start, end, number), the figures first, then the shares (a
    share's span is all of it: "two-thirds", "a third")."""
    figures = [(m.start(), m.end(), m.group().replace(",", "")) for m in _NUMBER.finditer(text)]
    return figures + [(m.start(), m.end(), _percent(m)) for m in _shares(text)]


# units of time ("seconds" not among them: "the second" is more often an ordinal)
TIME_UNITS = r"(?:centur(?:y|ies)|decades?|years?|months?|weeks?|days?|hours?|minutes?)"
# "per cent", "percent" and, with no word boundary after it, "percentage" ("the percentage rose from 3.9 to 7.6" gives
# shares); not "per century" or "per centimetre"
_PER_CENT = re.compile(r"%|\bper ?cent(?!ur|im)", re.IGNORECASE)
# units of time, count or measure: a fraction before one is a quantity ("half a million"); a closed list, so that a
# fraction before any other word ("half a nation's workforce") stays a share
_QUANTITY = rf"(?:{TIME_UNITS}|seconds?|dozens?|hundreds?|thousands?|millions?|billions?|lakhs?|crores?|tons?|tonnes?|pounds?|" \
            r"miles?|kilomet(?:re|er)s?|yards?|f(?:oo|ee)t|inch(?:es)?|acres?|hectares?|per ?cent)"
# a fraction ("half", "a third of", "two-thirds"); not a part of a period ("the first half of 1930", "the last quarter"),
# a quantity ("half a century", "a quarter of an hour", "half-a-million", "a quarter century", "half of one per cent"),
# the tail of one ("the first two-thirds") or a whole number's part ("a year and a half" here, "two and a third" in
# _is_share)
_NUMERATORS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}  # else one
_DENOMINATORS = {"half": 2, "third": 3, "quarter": 4, "fifth": 5, "sixth": 6, "eighth": 8, "tenth": 10}
FRACTION_WORDS = "half|" + "|".join(d + "s?" for d in _DENOMINATORS if d != "half")  # "half", "thirds?", ...
_FRACTION = re.compile(r"(?<!first )(?<!second )(?<!third )(?<!last )(?<!latter )(?<!final )(?<!other )"
                       rf"(?<![-\w])(?:(an?|one|{'|'.join(_NUMERATORS)})[\s-]+)?({FRACTION_WORDS})\b(?<!and a half)"
                       rf"(?![\s-]+(?:of[\s-]+)?(?:(?:an?|one)[\s-]+)?{_QUANTITY}\b)", re.IGNORECASE)
_WHOLE_AND = re.compile(r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+and\s+$", re.IGNORECASE)


def _is_share(fraction: re.Match, text: str) -> bool:
    """A fraction of _FRACTION that gives a share: "half", or a third, a quarter, a tenth... with its numerator ("a third
    of", "nine-tenths"); alone, those are ordinals ("the third Five-Year Plan", "the tenth congress") or a district
    ("living quarters"). Not the part of a whole number ("two and a third", "one and a quarter times"), nor more than a
    whole ("six quarters" of a year)."""
    has_numerator = bool(fraction.group(1)) or fraction.group(2).lower() == "half"
    whole_and = _WHOLE_AND.search(text[max(0, fraction.start() - 20) : fraction.start()])  # the words just before
    return has_numerator and not whole_and and _share(fraction) <= 100


def _shares(text: str) -> Iterator[re.Match]:
    """The fractions of a text that give shares (_is_share)."""
    return (m for m in _FRACTION.finditer(text) if _is_share(m, text))


def gives_a_share(text: str) -> bool:
    """True if the text gives a share: a percentage, or a fraction that is one ("half of", "two-thirds"; not "the
    third plan", "half a million")."""
    return bool(_PER_CENT.search(text)) or any(_shares(text))


def _share(fraction: re.Match) -> float:
    """A fraction of _FRACTION in per cent."""
    numerator = _NUMERATORS.get((fraction.group(1) or "").lower(), 1)
    return 100 * numerator / _DENOMINATORS[fraction.group(2).lower().removesuffix("s")]


def _percent(fraction: re.Match) -> str:
    return f"{_share(fraction):.1f}".removesuffix(".0")


def is_year(n: str) -> bool:
    """A number of numbers_of that reads as a year (1000-2100)."""
    return n.isdigit() and len(n) == 4 and 1000 <= int(n) <= 2100


def same_number(a: str, b: str) -> bool:
    """Equal numbers, or one a more precise number the other rounds ("almost 34 million" for "33.9 million")."""
    return a == b or _rounds(a, b) or _rounds(b, a)


def given(claimed: str, stated: list[str]) -> bool:
    """True if the numbers a source states give one a claim makes: the same number; a year within the decade the claim
    names ("1936" gives "the 1930s"); or the decade of the claim's year where the source names no year in it ("the
    mid-1970s" gives "roughly 1975", but "the 1930s ... the worst was 1936" does not give "1933")."""
    same_decade = [s for s in stated if s[:3] == claimed[:3]]  # "1936", "1930s" for "1933" (first three digits)
    claims_decade = claimed.endswith("s") and is_year(claimed[:-1])
    return any(same_number(claimed, s) for s in stated) \
        or (claims_decade and any(is_year(s) for s in same_decade)) \
        or (is_year(claimed) and any(s.endswith("s") for s in same_decade) and not any(is_year(s) for s in same_decade))


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
    if places or zeros < 2 or len(rounded) - zeros < 2 or rounded == exact or is_year(rounded) or is_year(exact):
        return False
    return int(float(exact) / 10**zeros + 0.5) * 10**zeros == int(rounded)


# a day's date: "17 November 1867", "the 14th of February 1829", "November 17, 1867"; not a range's first day ("17-18
# November"), nor a number glued to another ("3.12 May")
_DAY = r"(?<![\d/\u2013-])(?<!\d[.,])(\d{1,2})(?:st|nd|rd|th)?(?![\d/\u2013-]|[.,]\d)"
_DAY_DATE = re.compile(rf"{_DAY}\s+(?:of\s+)?({MONTH}),?\s+(?:of\s+)?(1\d{{3}}|20\d{{2}})\b|"
                       rf"\b({MONTH})\s+{_DAY},?\s+(?:of\s+)?(1\d{{3}}|20\d{{2}})\b")


def day_dates(text: str) -> set[tuple[int, str, str]]:
    """The days a text dates something to, as (day, month, year): (17, "November", "1867")."""
    return {(int(m[1]), m[2], m[3]) if m[1] else (int(m[5]), m[4], m[6]) for m in _DAY_DATE.finditer(text)}


def same_day_other_years(claim: str, source: str, year: str, paragraph: str = "") -> list[str]:
    """The years, none of them the claim's, in which the source gives a day the claim dates to `year` ("opened on 17
    November 1867" against "opened on 17 November 1869": 1869); none where the source's `paragraph` gives that day in
    `year` too (an anniversary: "adopted on 4 July 1776 ... died on 4 July 1826")."""
    days = {(day, month) for day, month, y in day_dates(claim) if y == year}
    if any((day, month) in days and y == year for day, month, y in day_dates(paragraph or source)):
        return []
    claimed = set(numbers_of(claim))
    return sorted({y for day, month, y in day_dates(source) if (day, month) in days and y not in claimed})


# the numbers that count, written in words ("fourteen", "forty", "millions", "a dozen"): a group for a pattern, which
# adds the word boundaries and re.IGNORECASE
CARDINAL_WORDS = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
                  r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
                  r"thousands?|millions?|billions?|dozens?)")
_NUMBER_WORD = re.compile(rf"\b(?:{CARDINAL_WORDS}|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\b",
                          re.IGNORECASE)


def number_words(text: str) -> set[str]:
    """The numbers a text writes in words, lower-cased ("eighteen states", "three hundred deputies", "the second treaty";
    not "first", which is as often "at first" or "first proposed" as a count)."""
    return {w.lower() for w in _NUMBER_WORD.findall(text)}


def rivals(claimed: str, claim_nums: list[str], source_nums: list[str]) -> list[str]:
    """The source's numbers of the same kind as a claimed one (a year for a year) that are none of the claim's."""
    return [s for s in source_nums if is_year(s) == is_year(claimed) and not any(same_number(c, s) for c in claim_nums)]
