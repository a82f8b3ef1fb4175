"""Claim verification by an LLM (settings.answer.generator naming a server, or a LangChain chat model): the model
reads the numbered passages and answers in a fixed format (prompts/verify_claim.txt); its quotations are verified
against the cited documents like any other, and an unreadable reply falls back to the extractive verdict
(rag.claims.judge_extractive).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.claims import ClaimResult
from rag.conflicts import Conflict, lower_words
from rag.quotes import verify_quote
from rag.types import Quote, ScoredPassage

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
    return " ".join(lower_words(text))


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
