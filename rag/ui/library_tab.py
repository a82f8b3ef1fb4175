"""The Library tab: the indexed works (title, author and year editable), upload, removal and search."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag.api import Engine
from rag.cli.index_commands import format_report
from rag.errors import BadInput
from rag.loaders import SUPPORTED
from rag.ui.render import results_html

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_TYPES = [".txt", ".md", ".html", ".pdf"]
COLUMNS = ["Title", "Author", "Year", "Chunks", "File"]
EDITABLE = ["title", "author", "year"]  # the first three columns, in order


@dataclass
class LibraryTab:
    table: gr.Dataframe
    save: gr.Button
    upload: gr.File
    add: gr.Button
    to_remove: gr.Dropdown
    remove: gr.Button
    log: gr.Textbox
    query: gr.Textbox
    results: gr.HTML


def build_library_tab() -> LibraryTab:
    with gr.Tab("Library"):
        table = gr.Dataframe(headers=COLUMNS, datatype=["str", "str", "str", "number", "str"], type="array",
                             interactive=True, static_columns=[3, 4], wrap=True, elem_id="library",
                             column_widths=["34%", "20%", "8%", "8%", "30%"],
                             label="Documents \u2014 click a title, author or year to correct it, then save")
        save = gr.Button("Save corrections", size="sm", elem_id="save-meta")
        with gr.Row():
            upload = gr.File(label="Add documents (.txt, .md, .html, .pdf)", file_count="multiple",
                             file_types=UPLOAD_TYPES, elem_id="upload")
            with gr.Column():
                add = gr.Button("Add to library", variant="primary", elem_id="add")
                to_remove = gr.Dropdown(label="Remove documents", multiselect=True, choices=[], elem_id="remove-choice")
                remove = gr.Button("Remove", variant="stop", elem_id="remove")
        log = gr.Textbox(label="Ingest report", lines=4, elem_id="ingest-log")
        query = gr.Textbox(label="Search the library", elem_id="lib-query", placeholder="words or a question; Enter to search")
        results = gr.HTML(elem_id="lib-results", padding=True)
    return LibraryTab(table, save, upload, add, to_remove, remove, log, query, results)


def library_rows(engine: Engine) -> list[list]:
    """One row per indexed document: title, author, year, chunks, file."""
    info = {}
    for p in engine.index.passages:
        info.setdefault(p.doc.file, p.doc)
    return [[d.title, d.author, str(d.year or ""), entry["passages"], name]
            for name, entry in sorted(engine.index.manifest["files"].items()) if (d := info.get(name))]


def library_view(engine: Engine) -> tuple:
    """The table and the removal choices."""
    rows = library_rows(engine)
    return rows, gr.update(choices=[(f"{r[0]} ({r[4]})", r[4]) for r in rows], value=[])


def save_corrections(engine: Engine, edited: list[list]) -> tuple:
    """Store the titles, authors and years the user changed (kept across re-ingest); the table reloads."""
    before = {row[4]: row for row in library_rows(engine)}
    changed = []
    for row in edited or []:
        old = before.get(row[4])
        if old is None:
            continue
        update = {name: str(new).strip() for name, new, was in zip(EDITABLE, row[:3], old[:3], strict=True)
                  if str(new).strip() != str(was)}
        if update:
            engine.edit_document(row[4], **update)
            changed.append(row[4])
    message = f"saved corrections to: {', '.join(changed)}" if changed else "nothing to save: no title, author or year was changed"
    return message, *library_view(engine)


def safe_upload_name(name: str) -> str:
    """A file name fit for the upload folder: no folders, no odd characters, a supported suffix."""
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED:
        raise BadInput(f"cannot add {name!r}: use a .txt, .md, .html or .pdf file")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:100] or "upload"
    return f"{stem}.{suffix.lower()}"


def copy_uploads(engine: Engine, files: list[str]) -> list[Path]:
    """The uploaded files copied into the index's upload folder, checked first."""
    uploads = (Path(engine.settings.index_dir) / "uploads").resolve()
    uploads.mkdir(parents=True, exist_ok=True)
    targets = []
    for f in files:
        source = Path(f)
        if source.stat().st_size > MAX_UPLOAD_BYTES:
            raise BadInput(f"{source.name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB; split it or ingest it with `rag ingest`")
        target = (uploads / safe_upload_name(source.name)).resolve()
        if target.parent != uploads:  # cannot happen after safe_upload_name; a second guard for traversal
            raise BadInput(f"bad file name {source.name!r}")
        entry = engine.index.manifest["files"].get(target.name)
        if entry and Path(entry["source"]).resolve() != target:
            raise BadInput(f"a document named {target.name} is already in the library; rename your file or remove that one first")
        shutil.copyfile(source, target)
        targets.append(target)
    return targets


def add_files(engine: Engine, files: list[str] | None, progress) -> tuple:
    if not files:
        raise BadInput("choose one or more .txt, .md, .html or .pdf files first")
    targets = copy_uploads(engine, files)
    report = engine.ingest(targets, progress=lambda stage, done, total: progress((done, total or None), desc=stage),
                           remove_missing=False)
    return format_report(report, engine.settings.index_dir), None, *library_view(engine)


def remove_files(engine: Engine, names: list[str] | None) -> tuple:
    if not names:
        raise BadInput("choose the documents to remove first")
    uploads = (Path(engine.settings.index_dir) / "uploads").resolve()
    sources = {n: Path(engine.index.manifest["files"][n]["source"]) for n in names if n in engine.index.manifest["files"]}
    report = engine.remove_documents(names)
    for source in sources.values():
        if source.parent == uploads:
            source.unlink(missing_ok=True)  # only files we copied in; never the user's corpus
    return format_report(report, engine.settings.index_dir), *library_view(engine)


def search_html(engine: Engine, query: str) -> str:
    return results_html(engine.search(query))
