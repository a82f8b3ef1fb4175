"""What an answer generator produces before verification, and the interface every generator meets.

A generator sees the question and the numbered passages [P1]..[Pn]; it returns a Draft whose
quotations name the passage they claim to come from. The chain then verifies every quotation
against the cited document (rag.quotes) and keeps only what it can find there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from pydantic import BaseModel, Field

from rag.types import ScoredPassage


class DraftQuote(BaseModel):
    """A quotation as the generator wrote it, not yet verified."""

    text: str = Field(description="The quoted words as the generator gave them")
    passage: int = Field(description="1-based number of the passage it claims to quote ([P1] -> 1)")
    marker: str = Field(default="", description="Placeholder in Draft.text where the verified quotation goes, e.g. {{Q1}}")


class Draft(BaseModel):
    """An unverified answer: Markdown text with quotation placeholders, the quotations, and abstention."""

    text: str = Field(description="Answer text; each quotation appears as its marker")
    quotes: list[DraftQuote] = Field(default_factory=list)
    abstained: bool = Field(default=False, description="The generator says the passages do not answer the question")


class Generator(Protocol):
    """Turns a question and retrieved passages into a Draft."""

    name: str

    def draft(self, question: str, passages: list[ScoredPassage]) -> Draft: ...

    def stream(self, question: str, passages: list[ScoredPassage]) -> Iterator[str | Draft]:
        """Yield text tokens as they are generated, then the final Draft last."""
        ...
