"""Document text as a reader should see it: markup noise gone, hard line breaks reflowed.

For display only. Stored quotations and their offsets stay verbatim (rag.quotes verifies them
against the original file); this turns a stretch of the original into clean paragraphs.
Footnote markers (<sup>22</sup>) become superscript digits, other HTML tags and Markdown
emphasis, headings, rules, links and images are reduced to their text, hyphenated line breaks
are joined. Two control characters may mark a span (MARK_START, MARK_END); they survive every
step, even when they fall inside a tag that is removed, so a highlight can be placed afterwards.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

MARK_START, MARK_END = "\x02", "\x03"
_SUPERSCRIPT = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
_HIDDEN_ELEMENT = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SUP = re.compile(r"<sup>([^<]{0,20})</sup>", re.IGNORECASE)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\s]+\)")
_MD_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)
_MD_RULE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_MD_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_HYPHEN_BREAK = re.compile(r"(?<=\w)-[ \t]*\n[ \t]*(?=\w)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\x02\x03]*\n\s*")


def _sub(pattern: re.Pattern, replace: Callable[[re.Match], str], text: str) -> str:
    """re.sub that keeps the span marks a removed match held, after its replacement."""
    def keeping_marks(m: re.Match) -> str:
        marks = "".join(ch for ch in m.group() if ch in (MARK_START, MARK_END))
        return replace(m) + marks
    return pattern.sub(keeping_marks, text)


def _footnote(m: re.Match) -> str:
    inner = m.group(1).strip(" \x02\x03")
    return inner.translate(_SUPERSCRIPT) if inner.isdigit() else ""


def readable(text: str) -> str:
    """Plain text for people: paragraphs separated by a blank line, each on one line, no markup."""
    text = _sub(_HIDDEN_ELEMENT, lambda m: "", text)
    text = _sub(_SUP, _footnote, text)
    text = _sub(_AUTOLINK, lambda m: m.group(1), text)
    text = _sub(_TAG, lambda m: "", text)
    text = _sub(_MD_IMAGE, lambda m: m.group(1), text)
    text = _sub(_MD_LINK, lambda m: m.group(1), text)
    text = _sub(_MD_RULE, lambda m: "", text)
    text = _sub(_MD_HEADING, lambda m: "", text)
    text = _sub(_MD_STRONG, lambda m: m.group(2), text)
    text = _sub(_MD_EMPHASIS, lambda m: m.group(1), text)
    # "Sep-\ntember" is joined (the evaluation's rule); "East-\nGerman" keeps its hyphen
    text = html.unescape(_HYPHEN_BREAK.sub(lambda m: "-" if text[m.end()].isupper() else "", text))
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p.strip(MARK_START + MARK_END))


def highlighted_html(text: str, start: int, end: int) -> str:
    """text (a stretch of a document) as escaped HTML paragraphs, readable, with text[start:end] in <mark>."""
    clean = readable(text[:start] + MARK_START + text[start:end] + MARK_END + text[end:])
    paragraphs, inside = [], False
    for para in clean.split("\n\n"):
        body = html.escape(para, quote=False)
        opened = inside
        inside = (inside or MARK_START in para) and MARK_END not in para.split(MARK_START)[-1]
        body = body.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
        if opened:
            body = "<mark>" + body
        if inside:
            body += "</mark>"
        paragraphs.append(f"<p>{body}</p>")
    return "".join(paragraphs)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def markdown_literal(text: str) -> str:
    """Text that a Markdown renderer shows exactly as written: no images, links, emphasis or HTML.
    Colons become &#58; so no URL is auto-linked (an auto-link would show the backslashes inside it)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace(":", "&#58;")
