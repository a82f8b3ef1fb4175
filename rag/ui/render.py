"""Answers, sources, search results and claim checks as the app shows them (Markdown for the chat,
escaped HTML for the panels). Readers see works named by author, year and short title; the file
name appears only in the location line of the sources panel."""

from __future__ import annotations

import html
from functools import lru_cache

import numpy as np

from rag.api import Engine
from rag.chain import ABSTAIN_TEXT
from rag.claims import ClaimResult
from rag.display import highlighted_html, markdown_literal, readable
from rag.quotes import passage_at
from rag.retrieve import author_surnames
from rag.text import line_of, line_starts
from rag.types import Answer, DocumentInfo, Passage, Quote, ScoredPassage, span_label

CONTEXT_CHARS = 700  # characters of surrounding text shown on each side of a quotation
SECTION_CHARS = 50  # a longer section heading is cut in labels
SNIPPET_CHARS = 280  # characters of a search result shown before it is expanded
CITE_HREF = "#cite-"  # chat links "#cite-<turn>-<n>" open quotation n of that answer (see app.CITE_JS)


def esc(text: str) -> str:
    """Text made safe to put into HTML element content (never used in attributes): <, >, & become entities."""
    return html.escape(str(text), quote=False)


def work_label(doc: DocumentInfo) -> str:
    """A work as readers name it: 'Ha (1996), The CPSU and the Sovnarkhoz Reform'."""
    surnames = author_surnames(doc.author)
    who = f"{surnames[0]} et al." if len(surnames) > 2 else " and ".join(surnames)
    year = f" ({doc.year})" if doc.year else ""
    title = doc.short_title(10)
    return f"{who}{year}, {title}" if who else f"{title}{year}"


@lru_cache(maxsize=16)
def _line_starts(text: str) -> np.ndarray:
    return line_starts(text)


def lines_label(engine: Engine, file: str, start: int, end: int) -> str:
    """'line 45' or 'lines 45-47' for a span of an indexed document."""
    starts = _line_starts(engine.index.document_text(file))
    a, b = line_of(starts, start), line_of(starts, max(start, end - 1))
    return f"line {a}" if a == b else f"lines {a}-{b}"


def place_label(passage: Passage, lines: str) -> str:
    """Where in the work: section, page when known, lines; tells apart passages of one work."""
    section = readable(passage.section)
    section = section if len(section) <= SECTION_CHARS else section[: section.rfind(" ", 0, SECTION_CHARS)] + "\u2026"
    parts = [f"\u201c{section}\u201d"] if section else []
    if passage.page is not None and passage.page_status != "unknown":
        parts.append(f"p. ~{passage.page}" if passage.page_status == "estimated" else f"p. {passage.page}")
    return ", ".join([*parts, lines])


def in_index(engine: Engine, file: str) -> bool:
    return file in engine.index.manifest["files"]


def quote_passage(engine: Engine, quote: Quote) -> Passage | None:
    """The indexed passage a quotation sits in, None if its document has left the library."""
    return passage_at(engine.index, quote.doc, quote.start, quote.end) if in_index(engine, quote.doc) else None


def quote_label(engine: Engine, quote: Quote) -> str:
    """'Ha (1996), The CPSU and the Sovnarkhoz Reform, “Aspects of the Reform”, line 45'."""
    passage = quote_passage(engine, quote)
    if passage is None:
        return f"{readable(quote.citation)} (no longer in the library)"
    return f"{work_label(passage.doc)}, {place_label(passage, lines_label(engine, quote.doc, quote.start, quote.end))}"


def passage_label(passage: Passage) -> str:
    lines = f"line {passage.line_start}" if passage.line_start == passage.line_end else f"lines {passage.line_start}-{passage.line_end}"
    return f"{work_label(passage.doc)}, {place_label(passage, lines)}"


def unquoted(answer: Answer) -> list[tuple[int, ScoredPassage]]:
    """Retrieved passages (with their index in answer.passages) that hold none of the answer's quotations."""
    def quoted(p: Passage) -> bool:
        return any(q.doc == p.doc.file and q.start < p.end and q.end > p.start for q in answer.quotes)
    return [(i, sp) for i, sp in enumerate(answer.passages) if not quoted(sp.passage)]


def quote_choices(engine: Engine, answer: Answer) -> list[tuple[str, str]]:
    """Radio choices for an answer's numbered quotations."""
    return [(f"[{n}] {quote_label(engine, q)}", f"q{n - 1}") for n, q in enumerate(answer.quotes, start=1)]


def other_choices(answer: Answer) -> list[tuple[str, str]]:
    """Radio choices for the passages retrieved but not quoted: each names its section, page or lines."""
    return [(passage_label(sp.passage), f"p{i}") for i, sp in unquoted(answer)]


def cite_link(turn: int, n: int) -> str:
    """A clickable [n] in the chat: the page script opens quotation n of answer `turn` in the sources panel."""
    return f"[\\[{n}\\]]({CITE_HREF}{turn}-{n})"


def prose_markdown(text: str) -> str:
    """A generator's own words as Markdown: HTML shown as text, images never loaded (only links, opened on click)."""
    return esc(text).replace("![", "!\\[")


def answer_body(answer: Answer, turn: int) -> str:
    """The answer text with each quotation shown readable and its [n] made a link; the rest is the generator's prose."""
    text, parts, pos = answer.text, [], 0
    for n, q in enumerate(answer.quotes, start=1):
        token = f"\u201c{q.text}\u201d [{n}]"
        at = text.find(token, pos)
        if at < 0:
            continue
        parts.append(prose_markdown(text[pos:at]))
        parts.append(f"\u201c{markdown_literal(readable(q.text))}\u201d {cite_link(turn, n)}")
        pos = at + len(token)
    parts.append(prose_markdown(text[pos:]))
    return "".join(parts)


def answer_markdown(engine: Engine, answer: Answer, turn: int = 0) -> str:
    """An answer as a chat message: what was searched (if rewritten), the text, then the numbered references."""
    parts = []
    if answer.standalone_question and answer.standalone_question != " ".join(answer.question.split()):
        parts.append(f"*Searched as: {markdown_literal(answer.standalone_question)}*")
    if answer.abstained:
        closest = "\n".join(f"- {markdown_literal(passage_label(sp.passage))}" for sp in answer.passages[:3])
        parts.append(f"{ABSTAIN_TEXT}\n\n**Closest material** (not an answer):\n\n{closest}" if closest else ABSTAIN_TEXT)
        return "\n\n".join(parts)
    parts.append(answer_body(answer, turn))
    if answer.quotes:
        refs = [f"{cite_link(turn, n)} {markdown_literal(quote_label(engine, q))}" for n, q in enumerate(answer.quotes, start=1)]
        parts.append("**References** (click a number to open the quotation in its source)\n\n" + "  \n".join(refs))
    return "\n\n".join(parts)


def chat_messages(engine: Engine, answers: list[Answer]) -> list[dict]:
    """The conversation as Chatbot messages: the question as typed (never rendered), then the answer."""
    messages = []
    for turn, a in enumerate(answers):
        messages += [{"role": "user", "content": markdown_literal(a.question)},
                     {"role": "assistant", "content": answer_markdown(engine, a, turn)}]
    return messages


def context_html(engine: Engine, file: str, start: int, end: int) -> str:
    """The text around [start, end) of a document, readable and escaped, with the span highlighted."""
    text = engine.index.document_text(file)
    a = max(0, start - CONTEXT_CHARS)
    b = min(len(text), end + CONTEXT_CHARS)
    a = text.find(" ", a) + 1 if a > 0 and 0 <= text.find(" ", a) < start else a  # begin on a word boundary
    cut = text.rfind(" ", end, b)
    b = cut if b < len(text) and cut > end else b
    lead, tail = ("\u2026 " if a > 0 else ""), (" \u2026" if b < len(text) else "")
    shown = highlighted_html(lead + text[a:b] + tail, start - a + len(lead), end - a + len(lead))
    return f'<div class="rag-context">{shown}</div>'


def source_html(engine: Engine | None, answer: Answer | None, choice: str | None) -> str:
    """The sources panel: the chosen quotation (q<i>) or passage (p<i>) in its context, the quoted span highlighted."""
    if answer is None or engine is None:
        return "<p class='rag-hint'>Ask a question; its quotations open here, highlighted in their source.</p>"
    choice = choice or ("q0" if answer.quotes else "p0")
    kind, i = choice[0], int(choice[1:])
    if kind == "q" and i < len(answer.quotes):
        q = answer.quotes[i]
        head, (file, start, end) = f"[{i + 1}] {quote_label(engine, q)}", (q.doc, q.start, q.end)
    elif kind == "p" and i < len(answer.passages):
        p = answer.passages[i].passage
        kind_label = "Closest material (not support)" if answer.abstained else "Retrieved passage"
        head, (file, start, end) = f"{kind_label}: {passage_label(p)}", (p.doc.file, p.start, p.end)
    else:
        return "<p class='rag-hint'>No sources for this answer.</p>"
    if not in_index(engine, file):
        return f"<div class='rag-cite'>{esc(head)}</div><p class='rag-hint'>This document is no longer in the library.</p>"
    loc = span_label(file, start, end, lines_label(engine, file, start, end))
    return (f"<div class='rag-cite'>{esc(head)}</div><div class='rag-loc'>{esc(loc)}</div>"
            + context_html(engine, file, start, end))


def results_html(results: list[ScoredPassage]) -> str:
    """Search results, compact: the citation and a few lines of each, the rest behind a click."""
    if not results:
        return "<p>Nothing found.</p>"
    items = []
    for sp in results:
        text = readable(sp.passage.text)
        cut = text.rfind(" ", 0, SNIPPET_CHARS) if len(text) > SNIPPET_CHARS else len(text)
        head, rest = text[:cut], text[cut:]
        body = (f"<details><summary>{esc(head)}\u2026 <span class='rag-more'>more</span></summary>{esc(rest)}</details>"
                if rest.strip() else f"<p>{esc(head)}</p>")
        items.append(f"<li><div class='rag-cite'>{esc(passage_label(sp.passage))}</div><div class='rag-snippet'>{body}</div></li>")
    return f"<ol class='rag-results'>{''.join(items)}</ol>"


def verify_html(engine: Engine, result: ClaimResult) -> str:
    """A claim check for people: verdict, reason, the quotations with citations; else the closest material."""
    verdict = {"supported": "Supported", "refuted": "Refuted", "not_in_corpus": "Not in the documents"}[result.verdict]
    parts = [f"<h3>{verdict}</h3>", f"<p>{esc(result.reason)}</p>"]
    for n, q in enumerate(result.quotes, start=1):
        parts.append(f"<blockquote>\u201c{esc(readable(q.text))}\u201d [{n}]</blockquote>"
                     f"<div class='rag-cite'>[{n}] {esc(quote_label(engine, q))}</div>")
    for c in result.conflicts:
        parts.append(f"<p>The claim says \u201c{esc(c.claim_span)}\u201d; the source says \u201c{esc(readable(c.source_span))}\u201d.</p>")
    if not result.quotes and result.passages:
        items = "".join(f"<li>{esc(passage_label(sp.passage))}</li>" for sp in result.passages[:3])
        parts.append(f"<h4>Closest material (not support)</h4><ol>{items}</ol>")
    return "\n".join(parts)
