"""Typed records that flow from ingestion to the UI: Document -> Passage -> Quote -> Answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

PageStatus = Literal["marked", "estimated", "unknown"]
# files whose offsets and lines count the text extracted from them (rag.loaders), not their markup or bytes
EXTRACTED_SUFFIXES = (".html", ".htm", ".pdf")


def span_label(file: str, start: int, end: int, lines: str = "") -> str:
    """Where a span of a document is, for people: the file, the lines if given, the characters; for an HTML or PDF
    file, that these count its extracted text (character 33 of a page's text is not character 33 of its HTML)."""
    extracted = ", extracted text" if file.lower().endswith(EXTRACTED_SUFFIXES) else ""
    return f"{file}{extracted}, {lines} (chars {start}-{end})" if lines else f"{file}{extracted}, chars {start}-{end}"


class DocumentInfo(BaseModel):
    """Bibliographic facts about one source file."""

    doc_id: str = Field(description="Short stable id (catalog slug or derived from the file name)")
    file: str = Field(description="File name inside the corpus folder, e.g. 000_a19c.txt")
    title: str = Field(description="Title of the work")
    author: str = Field(default="", description="Author(s) as they should be cited")
    year: int | None = Field(default=None, description="Year of publication, if known")
    container: str = Field(default="", description="Journal, book or publisher the work appears in")
    kind: str = Field(default="", description="Kind of work (journal article, book, ...)")

    def short_title(self, words: int = 12) -> str:
        """The title before any subtitle (cut at `words` words), for inline citations: enough to tell volumes apart."""
        parts = self.title.split(":")[0].split()
        return " ".join(parts[:words]) + ("..." if len(parts) > words else "")


class Passage(BaseModel):
    """One chunk of a document, with its exact location in the file as shipped."""

    passage_id: str = Field(description="Stable id: hash of doc id, span and text")
    doc: DocumentInfo = Field(description="The document this passage comes from")
    section: str = Field(default="", description="Heading the passage sits under, if any")
    page: int | None = Field(default=None, description="Page number, if known or estimated")
    page_status: PageStatus = Field(default="unknown", description="How the page was established")
    start: int = Field(description="Character offset of the passage's first character in the original file")
    end: int = Field(description="Character offset just past the passage's last character in the original file")
    line_start: int = Field(description="1-based line of the passage's first character in the original file")
    line_end: int = Field(description="1-based line of the passage's last character in the original file")
    text: str = Field(description="Cleaned text: running heads removed, hyphenation joined, whitespace collapsed")

    @property
    def location(self) -> str:
        """Where to find the passage in the file, for people."""
        lines = f"lines {self.line_start}-{self.line_end}" if self.line_end != self.line_start else f"line {self.line_start}"
        return span_label(self.doc.file, self.start, self.end, lines)

    @property
    def page_label(self) -> str:
        """Page as it should be printed: exact, estimated, or plainly unknown."""
        if self.page is None or self.page_status == "unknown":
            return "page unknown"
        if self.page_status == "estimated":
            return f"p. ~{self.page} (estimated)"
        return f"p. {self.page}"

    @property
    def citation(self) -> str:
        """Citation as a person reads it: author, year, short title, page, section."""
        year = f" ({self.doc.year})" if self.doc.year else ""
        section = f", section \u201c{self.section}\u201d" if self.section else ""
        author = self.doc.author or "Unknown author"
        return f"{author}{year}, \u201c{self.doc.short_title()}\u201d, {self.page_label}{section}"


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document as indexed: its span in the original file and its cleaned text.

    Passages are runs of whole sentences, so a passage's sentences are those whose span lies inside
    the passage's span (Index.sentences_in). `vector` is its embedding, set when it comes from an
    index (rag.store): the index's model, read in the context of its passage (late chunking).
    """

    file: str
    start: int  # offset of the first character in the original file
    end: int  # offset just past the last character
    text: str  # cleaned as passage text is: a substring of the text of any passage holding the sentence
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


class ScoredPassage(BaseModel):
    """A passage returned by retrieval, with its rank score and the scores behind it."""

    passage: Passage
    score: float = Field(description="Fused score used for ranking (higher is better)")
    dense_score: float | None = Field(default=None, description="Cosine similarity to the question, if dense search found it")
    bm25_score: float | None = Field(default=None, description="BM25 score, if lexical search found it")
    reading_score: float | None = Field(default=None, description="How well its best sentence answers the question, if "
                                        "reranking read it (rag.rerank: gain in question likelihood per token)")

    def to_json_dict(self) -> dict:
        """The JSON shape of a search result, shared by `rag search --json`, `rag retrieve` and the app's /search."""
        p = self.passage
        return {"doc": p.doc.file, "text": p.text, "start": p.start, "end": p.end, "citation": p.citation,
                "location": p.location, "score": round(self.score, 5),
                **({"reading_score": round(self.reading_score, 4)} if self.reading_score is not None else {})}


class Quote(BaseModel):
    """A quotation that has been verified verbatim against its source file."""

    doc: str = Field(description="File name of the cited document")
    text: str = Field(description="The verbatim quotation, as it appears in the (normalized) source")
    start: int = Field(description="Character offset of the quotation in the original file")
    end: int = Field(description="Character offset just past the quotation in the original file")
    citation: str = Field(description="Citation of the passage the quotation comes from")
    passage_id: str = Field(default="", description="Id of the passage the quotation was taken from")
    repaired: bool = Field(default=False, description="True if a near miss was repaired to the verbatim span")


class Answer(BaseModel):
    """What the chain returns for a question."""

    question: str
    standalone_question: str = Field(default="", description="The question rewritten to stand alone, for follow-ups")
    text: str = Field(description="Answer in Markdown, citing quotations by number [1], [2] ...")
    quotes: list[Quote] = Field(default_factory=list, description="Verified quotations, numbered in order")
    passages: list[ScoredPassage] = Field(default_factory=list, description="Passages retrieved for the question")
    abstained: bool = Field(default=False, description="True when the documents do not answer the question")
    dropped_quotes: int = Field(default=0, description="Quotations removed because they could not be verified")
    generator: str = Field(default="extractive", description="Which answer generator produced the text")

    def to_json_dict(self) -> dict:
        """The JSON shape shared by `rag ask --json`, `rag answer` and the app's /ask endpoint."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.text,
            "quotes": [q.model_dump(include={"doc", "text", "start", "end", "citation"}) for q in self.quotes],
            "abstained": self.abstained,
            "dropped_quotes": self.dropped_quotes,
            "generator": self.generator,
            "passages": [
                {"doc": sp.passage.doc.file, "citation": sp.passage.citation, "start": sp.passage.start,
                 "end": sp.passage.end, "score": sp.score}
                for sp in self.passages
            ],
        }
