"""The Gradio app: chat with cited answers, sources panel, claim check, library and settings.

A thin client of the library: every answer, search, check and ingest is a call into rag.api,
rag.chain or rag.claims; this module only turns their records into text and HTML. Document text
and user input are escaped before they go into any HTML or Markdown component, so markup in a
document, a file name or a question is shown, never run.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from rag.api import Engine
from rag.chain import answer as answer_question
from rag.chain import make_generator, stream_answer
from rag.claims import ClaimResult, verify_claim
from rag.cli.index_commands import format_report
from rag.errors import BadInput, RagError
from rag.loaders import SUPPORTED
from rag.quotes import passage_at
from rag.settings import Settings
from rag.text import line_of, line_starts
from rag.types import Answer, Passage, ScoredPassage

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_TYPES = [".txt", ".md", ".html", ".pdf"]
CONTEXT_CHARS = 700  # characters of surrounding text shown on each side of a quotation
GENERATORS = ["extractive", "openai", "ollama", "llamacpp"]
CSS = """
.rag-context { white-space: pre-wrap; font-family: Georgia, serif; line-height: 1.5; max-height: 420px;
  overflow-y: auto; padding: 0.6em; border: 1px solid var(--border-color-primary); border-radius: 6px; }
.rag-context mark { background: #ffe066; color: #000; padding: 0 1px; }
.rag-cite { font-weight: 600; } .rag-loc { color: var(--body-text-color-subdued); font-size: 0.9em; }
"""


def esc(text: str) -> str:
    """Text made safe to put into HTML or Markdown element content (never used in attributes): <, >, & become entities."""
    return html.escape(str(text), quote=False)


def location(engine: Engine, file: str, start: int, end: int) -> str:
    """'file, lines a-b' for a span of an indexed document."""
    starts = line_starts(engine.index.document_text(file))
    a, b = line_of(starts, start), line_of(starts, max(start, end - 1))
    return f"{file}, line {a}" if a == b else f"{file}, lines {a}-{b}"


def unquoted(answer: Answer) -> list[ScoredPassage]:
    """Retrieved passages that hold none of the answer's quotations."""
    def quoted(p: Passage) -> bool:
        return any(q.doc == p.doc.file and q.start < p.end and q.end > p.start for q in answer.quotes)
    return [sp for sp in answer.passages if not quoted(sp.passage)]


def answer_markdown(engine: Engine, answer: Answer) -> str:
    """An answer as a chat message: its text (quotations numbered inline), then the numbered references."""
    parts = [esc(answer.text)]
    if answer.standalone_question and answer.standalone_question != " ".join(answer.question.split()):
        parts.insert(0, f"*Searched as: {esc(answer.standalone_question)}*")
    if answer.quotes:
        refs = [f"[{n}] {esc(q.citation)} \u2014 {esc(location(engine, q.doc, q.start, q.end))}"
                for n, q in enumerate(answer.quotes, start=1)]
        parts.append("**References** (click a citation on the right to open it in its source)\n\n" + "  \n".join(refs))
    return "\n\n".join(parts)


def chat_messages(engine: Engine, answers: list[Answer]) -> list[dict]:
    """The chat as Chatbot messages: two per answer (question, answer)."""
    messages = []
    for a in answers:
        messages += [{"role": "user", "content": esc(a.question)},
                     {"role": "assistant", "content": answer_markdown(engine, a)}]
    return messages


def quote_choices(answer: Answer) -> list[tuple[str, str]]:
    """Radio choices for an answer's numbered quotations."""
    return [(f"[{n}] {q.citation}", f"q{n - 1}") for n, q in enumerate(answer.quotes, start=1)]


def other_choices(answer: Answer) -> list[tuple[str, str]]:
    """Radio choices for the passages retrieved but not quoted."""
    rest = {sp.passage.passage_id for sp in unquoted(answer)}
    return [(sp.passage.citation, f"p{i}") for i, sp in enumerate(answer.passages) if sp.passage.passage_id in rest]


def context_html(engine: Engine, file: str, start: int, end: int) -> str:
    """The text around [start, end) of a document, escaped, with the span highlighted."""
    text = engine.index.document_text(file)
    a = max(0, start - CONTEXT_CHARS)
    b = min(len(text), end + CONTEXT_CHARS)
    a = text.find(" ", a) + 1 if a > 0 and text.find(" ", a) < start else a  # begin on a word boundary
    cut = text.rfind(" ", end, b)
    b = cut if b < len(text) and cut > end else b
    lead, tail = ("\u2026" if a > 0 else ""), ("\u2026" if b < len(text) else "")
    return (f'<div class="rag-context">{lead}{esc(text[a:start])}<mark>{esc(text[start:end])}</mark>'
            f'{esc(text[end:b])}{tail}</div>')


def source_html(engine: Engine, answer: Answer | None, choice: str | None) -> str:
    """The sources panel: the chosen quotation (q<i>) or passage (p<i>) in its context, quoted span highlighted."""
    if answer is None:
        return "<p>Ask a question; its citations open here.</p>"
    if not choice:
        choice = "q0" if answer.quotes else "p0"
    kind, i = choice[0], int(choice[1:])
    if kind == "q" and i < len(answer.quotes):
        q = answer.quotes[i]
        head = f"[{i + 1}] {q.citation}"
        file, start, end = q.doc, q.start, q.end
    elif kind == "p" and i < len(answer.passages):
        p = answer.passages[i].passage
        head = f"{'Closest material (not support)' if answer.abstained else 'Retrieved passage'}: {p.citation}"
        file, start, end = p.doc.file, p.start, p.end
    else:
        return "<p>No sources for this answer.</p>"
    loc = f"{location(engine, file, start, end)} (chars {start}-{end})"
    return (f'<div class="rag-cite">{esc(head)}</div><div class="rag-loc">{esc(loc)}</div>'
            + context_html(engine, file, start, end))


def reference(engine: Engine, file: str, start: int, end: int, fallback: str) -> str:
    """A full reference for a quotation: author, year, title, container, page, section, location."""
    p = passage_at(engine.index, file, start, end) if file in engine.index.manifest["files"] else None
    if p is None:
        return fallback
    d = p.doc
    bits = [f"{d.author or 'Unknown author'}{f' ({d.year})' if d.year else ''}.", f"*{d.title}*."]
    if d.container:
        bits.append(f"{d.container}.")
    bits.append(f"{p.page_label}" + (f", section \u201c{p.section}\u201d" if p.section else "") + ".")
    bits.append(f"{location(engine, file, start, end)}.")
    return " ".join(bits)


def export_markdown(engine: Engine, answer: Answer | None) -> str:
    """An answer with its quotations and full references, as Markdown to copy."""
    if answer is None:
        return ""
    lines = [f"**Question:** {answer.question}", "", answer.text, ""]
    if answer.quotes:
        lines.append("**Quotations**\n")
        lines += [f"> \u201c{q.text}\u201d [{n}]\n" for n, q in enumerate(answer.quotes, start=1)]
        lines.append("**References**\n")
        lines += [f"[{n}] {reference(engine, q.doc, q.start, q.end, q.citation)}  " for n, q in enumerate(answer.quotes, start=1)]
    return "\n".join(lines).rstrip()


def passages_json(results: list[ScoredPassage]) -> list[dict]:
    """Search results as JSON: rank, then the shape `rag search --json` prints."""
    return [{"rank": n, **sp.to_json_dict()} for n, sp in enumerate(results, start=1)]


def results_html(rows: list[dict]) -> str:
    """Search results as escaped HTML."""
    if not rows:
        return "<p>Nothing found.</p>"
    items = "".join(f"<li><div class='rag-cite'>{esc(r['citation'])}</div><div class='rag-loc'>{esc(r['location'])}</div>"
                    f"<div class='rag-context'>{esc(r['text'])}</div></li>" for r in rows)
    return f"<ol>{items}</ol>"


def safe_upload_name(name: str) -> str:
    """A file name fit for the upload folder: no folders, no odd characters, a supported suffix."""
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED:
        raise BadInput(f"cannot add {name!r}: use a .txt, .md, .html or .pdf file")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:100] or "upload"
    return f"{stem}.{suffix.lower()}"


def library_rows(engine: Engine) -> list[list]:
    """One row per indexed document: title, author, year, chunks, file."""
    info = {}
    for p in engine.index.passages:
        info.setdefault(p.doc.file, p.doc)
    return [[d.title, d.author, d.year or "", entry["passages"], name]
            for name, entry in sorted(engine.index.manifest["files"].items()) if (d := info.get(name))]


def session_settings(base: Settings, generator: str, openai_url: str, openai_model: str, openai_key: str,
                     ollama_url: str, ollama_model: str, gguf: str, passages: float) -> Settings:
    """The engine's settings with the Settings tab's choices on top."""
    answer = base.answer.model_copy(update={
        "generator": generator, "openai_base_url": openai_url, "openai_model": openai_model,
        "openai_api_key": openai_key, "ollama_base_url": ollama_url, "ollama_model": ollama_model,
        "llamacpp_model_path": gguf, "passages_in_prompt": int(passages)})
    return base.model_copy(update={"answer": answer})


def verify_html(engine: Engine, result: ClaimResult) -> str:
    """A claim check for people: verdict, reason, the quotations with citations; else the closest material."""
    verdict = {"supported": "Supported", "refuted": "Refuted", "not_in_corpus": "Not in the documents"}[result.verdict]
    parts = [f"<h3>{verdict}</h3>", f"<p>{esc(result.reason)}</p>"]
    for n, q in enumerate(result.quotes, start=1):
        loc = location(engine, q.doc, q.start, q.end)
        parts.append(f"<blockquote>\u201c{esc(q.text)}\u201d [{n}]</blockquote>"
                     f"<div class='rag-cite'>[{n}] {esc(q.citation)}</div><div class='rag-loc'>{esc(loc)}</div>")
    for c in result.conflicts:
        parts.append(f"<p>The claim says \u201c{esc(c.claim_span)}\u201d; the source says \u201c{esc(c.source_span)}\u201d.</p>")
    if not result.quotes and result.passages:
        items = "".join(f"<li>{esc(sp.passage.citation)} <span class='rag-loc'>({esc(sp.passage.location)})</span></li>"
                        for sp in result.passages[:3])
        parts.append(f"<h4>Closest material (not support)</h4><ol>{items}</ol>")
    return "\n".join(parts)


def rag_errors(fn: Callable) -> Callable:
    """Show library errors as a gr.Error toast; the session goes on."""
    @functools.wraps(fn)  # keeps the signature: gr.api and gr.Progress read it
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RagError as e:
            raise gr.Error(esc(str(e))) from e  # the toast renders HTML
    return wrapper


def build_app(engine: Engine | Callable[[], Engine], settings: Settings) -> gr.Blocks:
    """The Blocks app over an engine (or a function that returns it once it has loaded in the background)."""
    get_engine = engine if callable(engine) else (lambda: engine)
    generators: dict[str, object] = {}

    def generator_for(settings: Settings):
        key = settings.answer.model_dump_json()
        if key not in generators:
            generators.clear()  # keep one: an in-process model is large
            generators[key] = make_generator(get_engine(), settings)
        return generators[key]

    def show(answer: Answer | None) -> tuple:
        """Citations, other passages, sources panel and export for the answer on display."""
        if answer is None:
            return (gr.update(choices=[], value=None), gr.update(choices=[], value=None), source_html(None, None, None), "")
        quotes, others = quote_choices(answer), other_choices(answer)
        label = "Closest material (not support)" if answer.abstained else "Retrieved but not quoted"
        first = quotes[0][1] if quotes else (others[0][1] if others else None)
        eng = get_engine()
        return (gr.update(choices=quotes, value=first if quotes else None),
                gr.update(choices=others, value=None if quotes else first, label=f"{label} \u2014 click to open"),
                source_html(eng, answer, first), export_markdown(eng, answer))

    def respond(question: str, answers: list[Answer], current: int, *options) -> Iterator[tuple]:
        eng = get_engine()
        settings = session_settings(eng.settings, *options)
        history = [(a.question, a.text) for a in answers]
        shown = chat_messages(eng, answers)
        searching = {"role": "assistant", "content": "*Searching the documents\u2026*"}
        pending = [{"role": "user", "content": esc(question)}, searching]
        keep = (gr.update(),) * 6
        yield shown + pending, answers, *keep
        try:
            draft = ""
            for piece in stream_answer(eng, question, history, generator=generator_for(settings), settings=settings):
                if isinstance(piece, Answer):
                    answers = answers + [piece]
                    break
                draft += piece
                pending[1]["content"] = esc(draft) + "\n\n*(checking quotations\u2026)*"
                yield shown + pending, answers, *keep
        except RagError as e:
            yield shown, answers, *keep
            raise gr.Error(esc(str(e))) from e  # the toast renders HTML
        yield chat_messages(eng, answers), answers, len(answers) - 1, "", *show(answers[-1])

    def pick_answer(answers: list[Answer], evt: gr.SelectData):
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not answers or index is None:
            return (gr.update(),) * 5
        current = min(int(index) // 2, len(answers) - 1)
        return current, *show(answers[current])

    @rag_errors
    def open_source(answers: list[Answer], current: int, choice: str):
        """Open a quotation or passage; the other radio is cleared so one item is selected at a time."""
        html_ = source_html(get_engine(), answers[current] if answers else None, choice)
        return html_, gr.update(value=None)

    def clear():
        return [], [], 0, *show(None)

    @rag_errors
    def search(question: str) -> list[dict]:
        """Passages for a question, best first, with citations and locations."""
        eng = get_engine()
        return passages_json(eng.search(question))

    @rag_errors
    def ask(question: str) -> dict:
        """Answer a question with verified quotations; the JSON of `rag ask --json`."""
        eng = get_engine()
        return answer_question(eng, question, settings=eng.settings).to_json_dict()

    @rag_errors
    def verify(claim: str) -> dict:
        """Check a claim against the documents: verdict (supported, refuted, not_in_corpus), quotes, reason."""
        return verify_claim(get_engine(), claim).to_json_dict()

    @rag_errors
    def verify_ui(claim: str, *options):
        eng = get_engine()
        result = verify_claim(eng, claim, settings=session_settings(eng.settings, *options))
        return verify_html(eng, result), result.to_json_dict()

    @rag_errors
    def search_ui(question: str) -> str:
        return results_html(search(question))

    def library_view():
        eng = get_engine()
        rows = library_rows(eng)
        return rows, gr.update(choices=[(f"{r[0]} ({r[4]})", r[4]) for r in rows], value=[])

    @rag_errors
    def add_files(files: list[str] | None, progress=gr.Progress()):  # noqa: B008 (how Gradio injects a progress bar)
        if not files:
            raise BadInput("choose one or more .txt, .md, .html or .pdf files first")
        eng = get_engine()
        uploads = (Path(eng.settings.index_dir) / "uploads").resolve()
        uploads.mkdir(parents=True, exist_ok=True)
        targets = []
        for f in files:
            source = Path(f)
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise BadInput(f"{source.name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB; split it or ingest it with `rag ingest`")
            target = (uploads / safe_upload_name(source.name)).resolve()
            if target.parent != uploads:  # cannot happen after safe_upload_name; a second guard for traversal
                raise BadInput(f"bad file name {source.name!r}")
            entry = eng.index.manifest["files"].get(target.name)
            if entry and Path(entry["source"]).resolve() != target:
                raise BadInput(f"a document named {target.name} is already in the library; rename your file or remove that one first")
            shutil.copyfile(source, target)
            targets.append(target)
        report = eng.ingest(targets, progress=lambda stage, done, total: progress((done, total or None), desc=stage),
                            remove_missing=False)
        return format_report(report, eng.settings.index_dir), None, *library_view()

    @rag_errors
    def remove_files(names: list[str] | None):
        if not names:
            raise BadInput("choose the documents to remove first")
        eng = get_engine()
        uploads = (Path(eng.settings.index_dir) / "uploads").resolve()
        sources = {n: Path(eng.index.manifest["files"][n]["source"]) for n in names if n in eng.index.manifest["files"]}
        report = eng.remove_documents(names)
        for source in sources.values():
            if source.parent == uploads:
                source.unlink(missing_ok=True)  # only files we copied in; never the user's corpus
        return (format_report(report, eng.settings.index_dir), *library_view())

    base = settings
    with gr.Blocks(title="Research assistant") as app:
        gr.Markdown("## Research assistant \u2014 answers built from verified quotations")
        answers = gr.State([])
        current = gr.State(0)  # which answer the citations, sources and export belong to
        with gr.Tab("Chat"), gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=620, elem_id="chat", buttons=["copy"])
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask about the documents, e.g. What were the sovnarkhozy?",
                                          show_label=False, scale=5, elem_id="question")
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                clear_btn = gr.Button("New conversation", size="sm")
            with gr.Column(scale=2, elem_id="side"):
                citations = gr.Radio(label="Citations \u2014 click one to open it in its source", choices=[],
                                     elem_id="citations")
                sources = gr.HTML(source_html(None, None, None), label="Sources", elem_id="sources", padding=True)
                others = gr.Radio(label="Retrieved but not quoted \u2014 click to open", choices=[], elem_id="others")
                export = gr.Textbox(label="Export (Markdown)", lines=6, max_lines=20, buttons=["copy"], elem_id="export")
        with gr.Tab("Verify a claim"):
            claim = gr.Textbox(label="Claim", placeholder="e.g. The sovnarkhoz reform was adopted in 1957.", elem_id="claim")
            verify_btn = gr.Button("Check", variant="primary", elem_id="verify")
            verdict = gr.HTML(elem_id="verdict", padding=True)
            verdict_json = gr.JSON(label="Result (JSON)")
        with gr.Tab("Library"):
            table = gr.Dataframe(headers=["Title", "Author", "Year", "Chunks", "File"], datatype="str",
                                 interactive=False, elem_id="library", wrap=True)
            with gr.Row():
                upload = gr.File(label="Add documents (.txt, .md, .html, .pdf)", file_count="multiple",
                                 file_types=UPLOAD_TYPES, elem_id="upload")
                with gr.Column():
                    add_btn = gr.Button("Add to library", variant="primary", elem_id="add")
                    to_remove = gr.Dropdown(label="Remove documents", multiselect=True, choices=[], elem_id="remove-choice")
                    remove_btn = gr.Button("Remove", variant="stop", elem_id="remove")
            ingest_log = gr.Textbox(label="Ingest report", lines=4, elem_id="ingest-log")
            lib_query = gr.Textbox(label="Search the library", elem_id="lib-query")
            lib_results = gr.HTML(elem_id="lib-results", padding=True)
        with gr.Tab("Settings"):
            gen = gr.Radio(GENERATORS, value=base.answer.generator, label="Answer generator",
                           info="extractive needs no model; the others need a running server or a GGUF file")
            n_passages = gr.Slider(1, 20, value=base.answer.passages_in_prompt, step=1, label="Passages given to the generator")
            with gr.Accordion("OpenAI-compatible server", open=False):
                openai_url = gr.Textbox(base.answer.openai_base_url, label="Base URL", elem_id="openai-url")
                openai_model = gr.Textbox(base.answer.openai_model, label="Model")
                openai_key = gr.Textbox(base.answer.openai_api_key, label="API key", type="password")
            with gr.Accordion("Ollama", open=False):
                ollama_url = gr.Textbox(base.answer.ollama_base_url, label="Base URL")
                ollama_model = gr.Textbox(base.answer.ollama_model, label="Model")
            with gr.Accordion("llama.cpp (in process)", open=False):
                gguf = gr.Textbox(base.answer.llamacpp_model_path, label="GGUF model path")
        options = [gen, openai_url, openai_model, openai_key, ollama_url, ollama_model, gguf, n_passages]

        # Events are UI-only (private); progress and errors show on the one component the event is about.
        panel = [citations, others, sources, export]
        for event in (question.submit, ask_btn.click):
            event(respond, [question, answers, current, *options], [chatbot, answers, current, question, *panel],
                  api_visibility="private", show_progress_on=chatbot)
        chatbot.select(pick_answer, answers, [current, *panel], api_visibility="private", show_progress_on=sources)
        citations.input(open_source, [answers, current, citations], [sources, others], api_visibility="private",
                        show_progress_on=sources)
        others.input(open_source, [answers, current, others], [sources, citations], api_visibility="private",
                     show_progress_on=sources)
        clear_btn.click(clear, None, [chatbot, answers, current, *panel], api_visibility="private")
        for event in (claim.submit, verify_btn.click):
            event(verify_ui, [claim, *options], [verdict, verdict_json], api_visibility="private", show_progress_on=verdict)
        lib_query.submit(search_ui, lib_query, lib_results, api_visibility="private")
        add_btn.click(add_files, upload, [ingest_log, upload, table, to_remove], api_visibility="private",
                      show_progress_on=ingest_log)
        remove_btn.click(remove_files, to_remove, [ingest_log, table, to_remove], api_visibility="private",
                         show_progress_on=ingest_log)
        app.load(library_view, None, [table, to_remove], api_visibility="private")
        gr.api(ask, api_name="ask")
        gr.api(verify, api_name="verify")
        gr.api(search, api_name="search")
    return app
