"""Read .txt, .md, .html and .pdf files into text, with bibliographic facts from catalog.toml."""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadInput
from rag.types import DocumentInfo

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass
class LoadedFile:
    """A file read into text. For HTML and PDF, offsets refer to the extracted text."""

    path: Path
    text: str
    sha256: str
    encoding: str = "utf-8"
    page_starts: list[tuple[int, int]] = field(default_factory=list)  # (offset, page) for PDFs
    title: str = ""
    author: str = ""
    notes: list[str] = field(default_factory=list)


def load_file(path: Path) -> LoadedFile:
    """Read one file; raise BadInput with a reason a person understands if it cannot be used."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise BadInput(f"unsupported file type {suffix or '(none)'}; use .txt, .md, .html or .pdf")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadInput(f"file is {size // 2**20} MB, over the {MAX_FILE_BYTES // 2**20} MB limit")
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read file: {e.strerror or e}") from e
    if not data.strip():
        raise BadInput("file is empty")
    digest = hashlib.sha256(data).hexdigest()
    if suffix == ".pdf":
        return _load_pdf(path, data, digest)
    text, encoding = decode_text(data)
    if suffix in {".html", ".htm"}:
        title, text = html_to_text(text)
        loaded = LoadedFile(path, text, digest, encoding, title=title)
    else:
        loaded = LoadedFile(path, text, digest, encoding)
    if not loaded.text.strip():
        raise BadInput("file has no text")
    if encoding != "utf-8":
        loaded.notes.append(f"decoded as {encoding}")
    return loaded


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (or UTF-16 with a byte-order mark), else the likely legacy encoding; refuse binary data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Notepad's and Word's "Unicode" text
        try:
            return _unify_newlines(data.decode("utf-16")), "utf-16"
        except UnicodeDecodeError as e:
            raise BadInput("file starts like UTF-16 text but is not valid UTF-16") from e
    head = data[:8192]
    if b"\x00" in head or sum(b < 32 and b not in b"\t\n\r\f" for b in head) > len(head) // 10:
        raise BadInput("binary file (not text)")
    try:
        return _unify_newlines(data.decode("utf-8-sig")), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _legacy_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        text, encoding = data.decode("latin-1"), "latin-1"
    return _unify_newlines(text), encoding


def _legacy_encoding(data: bytes) -> str:
    """cp1252 or latin-1, the usual non-UTF-8 text, unless the bytes read clearly better in another encoding.

    charset_normalizer alone often picks a sibling (cp1250 turns "naïve" into "naďve") or, on short
    text, an East Asian code page; so a Western reading wins whenever it is about as clean as the best.
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(data[: 1 << 20])
    best = matches.best()
    western = [m for m in matches if {"cp1252", "latin_1", "iso8859_15"} & set(m.could_be_from_charset)]
    if best is not None and best.coherence > 0 and not (western and western[0].chaos <= best.chaos + 0.05):
        return best.encoding
    # without bytes 0x80-0x9f (curly quotes, dashes, euro in cp1252) the two decode the same
    return "cp1252" if re.search(rb"[\x80-\x9f]", data) else "latin-1"


def _unify_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def html_to_text(html: str) -> tuple[str, str]:
    """Visible text of an HTML page (scripts and styles dropped) and its <title>."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    for tag in soup.find_all(["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "br", "tr", "section", "article"]):
        tag.insert_before("\n\n")
    text = soup.get_text()
    return title, re.sub(r"\n{3,}", "\n\n", text).strip()


def _load_pdf(path: Path, data: bytes, digest: str) -> LoadedFile:
    import io

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its repair notes would bury the ingest summary
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise BadInput("PDF is encrypted; save a copy without a password and ingest that")
        if not len(reader.pages):
            raise BadInput("PDF has no pages; the file may be damaged")
        parts, page_starts, pos = [], [], 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").strip()
            page_starts.append((pos, number))
            parts.append(page_text + "\n\n")
            pos += len(page_text) + 2
        meta = reader.metadata or {}
    except BadInput:
        raise
    except Exception as e:  # pypdf meets damaged files with many exception types (TypeError, LimitReachedError...)
        raise BadInput(f"unreadable PDF, damaged or not a PDF ({type(e).__name__}: {e})") from e
    text = "".join(parts)
    if not text.strip():
        raise BadInput("PDF has no text layer (scanned images?); run OCR on it first")
    return LoadedFile(path, text, digest, "pdf", page_starts=page_starts,
                      title=str(meta.get("/Title") or ""), author=str(meta.get("/Author") or ""))


def read_catalog(folder: Path) -> dict[str, dict]:
    """Entries of folder/catalog.toml keyed by file name ({} if there is none or it is unreadable)."""
    catalog = folder / "catalog.toml"
    try:
        return tomllib.loads(catalog.read_text(encoding="utf-8")) if catalog.exists() else {}
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return {}


def document_info(loaded: LoadedFile, catalog: dict[str, dict]) -> DocumentInfo:
    """Bibliographic facts: the catalog entry if there is one, else what the file itself says."""
    entry = catalog.get(loaded.path.name, {})
    title = entry.get("title") or loaded.title or _first_heading(loaded.text) or loaded.path.stem
    slug = entry.get("slug") or re.sub(r"[^a-z0-9]+", "-", loaded.path.stem.lower()).strip("-") or "doc"
    year = entry.get("year")
    return DocumentInfo(doc_id=slug, file=loaded.path.name, title=title.strip(),
                        author=entry.get("author") or loaded.author, year=int(year) if year else None,
                        container=entry.get("container", ""), kind=entry.get("kind", ""))


def _first_heading(text: str) -> str:
    m = re.search(r"^#{1,3}\s+(.{3,150})$", text[:20000], re.MULTILINE)
    return m.group(1).replace("*", "").strip() if m else ""
