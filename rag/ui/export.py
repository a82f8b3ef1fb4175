"""A conversation as files to keep: Markdown (questions, answers, numbered quotations, references)
and its cited works as BibTeX and RIS, for a reference manager."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

import bibtexparser
import rispy
from bibtexparser.middlewares import LatexEncodingMiddleware
from bibtexparser.model import Entry, Field

from rag.api import Engine
from rag.display import readable
from rag.types import Answer, DocumentInfo, Quote, span_label
from rag.ui.conversations import Conversation
from rag.ui.render import lines_label, quote_passage

EXPORT_DIR = Path(tempfile.gettempdir()) / "rag-exports"  # under the temp dir, which Gradio serves files from
# kind (catalog.toml's words) -> (BibTeX entry type, field naming the container; RIS type, RIS container tag)
ENTRY_TYPES = {"article": ("article", "journal", "JOUR", "journal_name"),
               "chapter": ("incollection", "booktitle", "CHAP", "secondary_title"),
               "book": ("book", "publisher", "BOOK", "publisher")}
OTHER_TYPE = ("misc", "howpublished", "GEN", "secondary_title")


def entry_type(doc: DocumentInfo) -> tuple[str, str, str, str]:
    return next((t for word, t in ENTRY_TYPES.items() if word in doc.kind.lower()), OTHER_TYPE)


def authors(doc: DocumentInfo) -> list[str]:
    """The author field split into people ("A and B", "A; B", "A & B")."""
    return [a.strip() for a in re.split(r"\s+and\s+|;|&", doc.author) if a.strip()]


def cited_works(engine: Engine, answers: list[Answer]) -> list[DocumentInfo]:
    """The works the answers quote (still in the library), in order of first citation."""
    works: dict[str, DocumentInfo] = {}
    for a in answers:
        for q in a.quotes:
            if q.doc not in works and (p := quote_passage(engine, q)) is not None:
                works[q.doc] = p.doc
    return list(works.values())


def reference(engine: Engine, quote: Quote) -> str:
    """A full reference for a quotation: author, year, title, container, page, section, file and lines."""
    p = quote_passage(engine, quote)
    if p is None:
        return f"{readable(quote.citation)} (no longer in the library)"
    d = p.doc
    bits = [f"{d.author or 'Unknown author'}{f' ({d.year})' if d.year else ''}.", f"*{d.title}*."]
    if d.container:
        bits.append(f"{d.container}.")
    where = [p.page_label] if p.page_status != "unknown" else []
    where += [f"section \u201c{readable(p.section)}\u201d"] if p.section else []
    lines = lines_label(engine, quote.doc, quote.start, quote.end)
    bits.append(", ".join([*where, span_label(quote.doc, quote.start, quote.end, lines)]) + ".")
    return " ".join(bits)


def conversation_markdown(engine: Engine, conv: Conversation) -> str:
    """The whole conversation: each question and answer, quotations numbered through, then the references."""
    lines, refs, number = [f"# {conv.title}", ""], [], 0
    for a in conv.answers:
        text = a.text
        for n, q in enumerate(a.quotes, start=1):
            number += 1
            text = text.replace(f"\u201c{q.text}\u201d [{n}]", f"\u201c{readable(q.text)}\u201d [{number}]")
            refs.append(f"[{number}] {reference(engine, q)}")
        lines += [f"## {' '.join(a.question.split())}", ""]
        if a.standalone_question and a.standalone_question != " ".join(a.question.split()):
            lines += [f"*Searched as: {a.standalone_question}*", ""]
        lines += [text, ""]
    if refs:
        lines += ["## References", "", *[f"{r}  " for r in refs]]
    return "\n".join(lines).rstrip() + "\n"


def bibtex_key(doc: DocumentInfo, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "", doc.doc_id) or "work"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2)}" if n <= 27 else f"{base}{n}"
    taken.add(key)
    return key


def bibtex(works: list[DocumentInfo]) -> str:
    """The works as BibTeX entries (special characters LaTeX-encoded)."""
    library, taken = bibtexparser.Library(), set()
    for d in works:
        kind, container_field, _, _ = entry_type(d)
        fields = {"author": " and ".join(authors(d)), "title": d.title, "year": str(d.year or ""), container_field: d.container}
        library.add(Entry(kind, bibtex_key(d, taken), [Field(k, v) for k, v in fields.items() if v]))
    return bibtexparser.write_string(library, prepend_middleware=[LatexEncodingMiddleware()])


class _RisWriter(rispy.RisWriter):
    def set_header(self, count: int) -> str:
        return ""  # no "1." counter lines: not part of RIS, and some readers stumble on them


def ris(works: list[DocumentInfo]) -> str:
    """The works as RIS records."""
    records = []
    for d in works:
        _, _, kind, container_tag = entry_type(d)
        record = {"type_of_reference": kind, "authors": [_surname_first(a) for a in authors(d)], "title": d.title,
                  "year": str(d.year or ""), container_tag: d.container}
        records.append({k: v for k, v in record.items() if v})
    return rispy.dumps(records, implementation=_RisWriter)


def _surname_first(name: str) -> str:
    """'Yong Chool Ha' -> 'Ha, Yong Chool' (RIS wants the surname first); 'Ha, Yong Chool' stays."""
    if "," in name or " " not in name.strip():
        return name.strip()
    first, _, last = name.strip().rpartition(" ")
    return f"{last}, {first}"


def write_export(name: str, content: str) -> str:
    """content saved as a file called `name` (in a folder named by its hash, so equal exports share one file)."""
    folder = EXPORT_DIR / hashlib.sha256(content.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        path.write_text(content, encoding="utf-8")
    return str(path)


def export_files(engine: Engine, conv: Conversation) -> tuple[str | None, str | None, str | None]:
    """Paths of the Markdown, BibTeX and RIS files of a conversation (None where there is nothing to export)."""
    if not conv.answers:
        return None, None, None
    stem = re.sub(r"[^a-z0-9]+", "-", conv.title.lower()).strip("-")[:40] or "conversation"
    works = cited_works(engine, conv.answers)
    markdown = write_export(f"{stem}.md", conversation_markdown(engine, conv))
    if not works:
        return markdown, None, None
    return markdown, write_export(f"{stem}.bib", bibtex(works)), write_export(f"{stem}.ris", ris(works))
