"""Read .txt, .md, .html and .pdf files into text, with bibliographic facts: the user's edits
(<index>/metadata.json) first, then catalog.toml, then what the file says about itself."""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadInput
from rag.structure import find_front_matter
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
    title: str = ""  # what the file says about itself (HTML <title>/<meta>, PDF metadata, front matter, first line)
    author: str = ""
    year: int | None = None
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
        facts, text = html_to_text(text)
    else:
        facts = text_facts(text, markdown=suffix in {".md", ".markdown"})
    loaded = LoadedFile(path, text, digest, encoding, **facts)
    front = find_front_matter(text)
    if not (text[front[1]:] if front else text).strip():  # front matter is facts about the file, not text of it
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


_HEADING = re.compile(r"^h[1-6]$")


def html_to_text(html: str) -> tuple[dict, str]:
    """What an HTML page says about itself (title, author, year: see html_facts) and its visible text
    (scripts and styles dropped)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    facts = html_facts(soup)
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    for heading in soup.find_all(_HEADING):  # on a line of its own, marked as Markdown marks it, so its section is known
        words = " ".join(heading.get_text(" ").split())
        if not words:
            heading.decompose()
            continue
        heading.string = "#" * int(heading.name[1]) + " " + words
        heading.insert_after("\n\n")
    for tag in soup.find_all(["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "br", "tr", "section", "article"]):
        tag.insert_before("\n\n")
    text = soup.get_text()
    return facts, re.sub(r"\n{3,}", "\n\n", text).strip()


def html_facts(soup) -> dict:
    """Title, author and year from a page's Highwire (citation_*), Dublin Core or plain <meta> tags, else its <title>."""
    def meta(*names: str) -> list[str]:
        for name in names:
            found = [t.get("content", "").strip() for t in soup.find_all("meta", attrs={"name": re.compile(f"^{name}$", re.IGNORECASE)})]
            if any(found):
                return [f for f in found if f]
        return []

    title = (meta("citation_title", "dc.title", "og:title") or [soup.title.get_text(" ", strip=True) if soup.title else ""])[0]
    authors = meta("citation_author", "dc.creator", "author")
    dates = meta("citation_publication_date", "citation_date", "citation_year", "dc.date", "article:published_time")
    return {"title": title, "author": " and ".join(authors), "year": year_in(dates[0]) if dates else None}


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
    return LoadedFile(path, text, digest, "pdf", page_starts=page_starts, title=str(meta.get("/Title") or "").strip(),
                      author=str(meta.get("/Author") or "").strip(), year=year_in(str(meta.get("/CreationDate") or "")))


_FIELD = re.compile(r"^([A-Za-z][A-Za-z ()]{1,30}?)\s*(?::|\t)\s*(\S.*)$")
_TITLE_KEYS, _AUTHOR_KEYS = {"title"}, {"author", "authors", "author(s)", "creator", "by"}
_YEAR_KEYS = {"year", "date", "issue date", "published", "publication date"}


def text_facts(text: str, markdown: bool = False) -> dict:
    """Title, author and year a text states at its top: a front-matter block (YAML between --- lines, or
    "Title: ..." / "Title<tab>..." lines), else its first Markdown heading, else a first line short enough
    to be a title."""
    fields = _header_fields(text)
    title = fields.get("title", "")
    if not title and markdown:
        title = _first_heading(text)
    if not title and not fields:
        title = _title_line(text)
    return {"title": title, "author": fields.get("author", ""), "year": year_in(fields.get("year", ""))}


def _header_fields(text: str) -> dict[str, str]:
    """The title, author and year fields of a key-value block at the top of a text (blank lines before it allowed)."""
    lines = text.lstrip().split("\n", 40)[:40]
    if lines and lines[0].strip() == "---":  # YAML front matter
        lines = lines[1:]
    fields: dict[str, str] = {}
    for line in lines:
        m = _FIELD.match(line.strip())
        if not m:
            break
        key, value = m.group(1).strip().lower(), m.group(2).strip().strip("\"'")
        for name, keys in (("title", _TITLE_KEYS), ("author", _AUTHOR_KEYS), ("year", _YEAR_KEYS)):
            if key in keys and value and name not in fields:
                fields[name] = value
    if fields.get("author", "").startswith("["):  # YAML list: [A, B]
        fields["author"] = " and ".join(a.strip(" \"'") for a in fields["author"].strip("[]").split(","))
    return fields


def _title_line(text: str) -> str:
    """The first line, if it reads as a title: short, standing alone (a blank line after it), not a sentence,
    not a running head (a page number at either end)."""
    lines = text.strip().split("\n", 2)
    first = re.sub(r"^[^\w\"'\u201c]+", "", lines[0].replace("*", "")).strip()
    if len(lines) > 1 and lines[1].strip():
        return ""  # the line runs on into a paragraph
    if not first or len(first) > 150 or len(first.split()) > 20 or not re.search(r"[A-Za-z]{3}", first):
        return ""
    if re.match(r"^\d+\s", first) or re.search(r"\s\d+$", first) or first[-1] in "-,;:." or first[0].islower():
        return ""
    return first


def year_in(value: str) -> int | None:
    """The first plausible year (1000-2999) in a date such as "1996", "2001-05-03" or "D:20200101120000"."""
    m = re.search(r"(?<!\d)([12]\d{3})", value or "")
    return int(m.group(1)) if m else None


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
    title = entry.get("title") or loaded.title or loaded.path.stem
    slug = entry.get("slug") or re.sub(r"[^a-z0-9]+", "-", loaded.path.stem.lower()).strip("-") or "doc"
    year = year_in(str(entry["year"])) if entry.get("year") else loaded.year
    return DocumentInfo(doc_id=slug, file=loaded.path.name, title=title.strip(),
                        author=entry.get("author") or loaded.author, year=year,
                        container=entry.get("container", ""), kind=entry.get("kind", ""))


METADATA_FILE = "metadata.json"
EDITABLE_FIELDS = ("title", "author", "year")


def read_metadata_edits(index_dir: Path) -> dict[str, dict]:
    """The user's edits of title, author and year, keyed by file name: <index_dir>/metadata.json ({} if none).
    They live beside the index generations, so every re-ingest applies them again."""
    path = Path(index_dir) / METADATA_FILE
    try:
        edits = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"the metadata edits in {path} are unreadable ({e}); fix or delete that file") from e
    if not isinstance(edits, dict) or not all(isinstance(v, dict) for v in edits.values()):
        raise BadInput(f"the metadata edits in {path} are not an object of objects keyed by file name; fix or delete that file")
    return {name: {k: v for k, v in fields.items() if k in EDITABLE_FIELDS} for name, fields in edits.items()}


def write_metadata_edits(index_dir: Path, edits: dict[str, dict]) -> None:
    """Save the metadata edits (written aside, then renamed over the old file, so a crash never leaves half a file)."""
    path = Path(index_dir) / METADATA_FILE
    tmp = path.with_name(f".{METADATA_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(edits, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def with_edits(info: DocumentInfo, edits: dict | None) -> DocumentInfo:
    """A document's facts with the user's edits on top."""
    return info.model_copy(update={k: v for k, v in (edits or {}).items() if k in EDITABLE_FIELDS}) if edits else info


def _first_heading(text: str) -> str:
    m = re.search(r"^#\s+(.{3,150})$", text[:20000], re.MULTILINE) or re.search(r"^#{1,3}\s+(.{3,150})$", text[:20000], re.MULTILINE)
    return m.group(1).replace("*", "").strip() if m else ""
