"""The Blocks app: the four tabs, their events, and the named endpoints (/ask, /search, /verify)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from rag.api import Engine
from rag.chain import answer as answer_question
from rag.claims import verify_claim
from rag.settings import Settings
from rag.ui.chat_tab import CITE_JS, build_chat_tab, wire_chat
from rag.ui.context import AppContext
from rag.ui.library_tab import LibraryTab, add_files, build_library_tab, library_view, remove_files, save_corrections, search_html
from rag.ui.render import verify_html
from rag.ui.settings_tab import SettingsTab, build_settings_tab, check_ollama, check_openai, on_screen, session_settings
from rag.ui.verify_tab import VerifyTab, build_verify_tab

# System fonts only: the page loads nothing from another host (Gradio's default theme fetches Google Fonts).
THEME = gr.themes.Default(primary_hue="indigo", neutral_hue="slate",
                       font=["Inter", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
CSS = """
.rag-context { font-family: Georgia, 'Times New Roman', serif; font-size: 1.02em; line-height: 1.55; max-height: 460px;
  overflow-y: auto; padding: 0.2em 0.9em; border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-secondary); }
.rag-context p { margin: 0.6em 0; }
.rag-context mark { background: #ffe066; color: #000; padding: 0 2px; border-radius: 2px; }
.rag-cite { font-weight: 600; margin-top: 0.2em; }
.rag-loc { color: var(--body-text-color-subdued); font-size: 0.85em; margin-bottom: 0.4em; }
.rag-hint { color: var(--body-text-color-subdued); }
.rag-results { padding-left: 1.2em; } .rag-results li { margin-bottom: 0.8em; }
.rag-snippet { font-family: Georgia, serif; line-height: 1.45; }
.rag-snippet summary { cursor: pointer; list-style: none; } .rag-more { color: var(--link-text-color); font-size: 0.85em; }
#chat a[href^='#cite-'] { text-decoration: none; font-weight: 600; color: var(--link-text-color); cursor: pointer; }
#chat a[href^='#cite-']:hover { text-decoration: underline; }
#conv-col .rag-export-head { margin-top: 0.8em; }
"""


def ui_secret(index_dir: Path) -> str:
    """The key the browser's stored conversations are encrypted with: kept beside the index, so they
    survive a restart of the app; a fresh one each start if the folder is read-only."""
    path = Path(index_dir) / "ui-secret"
    try:
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()
    except OSError:
        return secrets.token_urlsafe(24)


def wire_verify(ctx: AppContext, tab: VerifyTab, options: list) -> None:
    def check(claim: str, *opts):
        engine = ctx.engine
        result = verify_claim(engine, claim, settings=session_settings(engine.settings, *opts))
        return verify_html(engine, result), result.to_json_dict()

    for event in (tab.claim.submit, tab.check.click):
        event(ctx.guarded(check), [tab.claim, *options], [tab.verdict, tab.json], api_visibility="private",
              show_progress_on=tab.verdict)


def wire_library(ctx: AppContext, tab: LibraryTab) -> None:
    def add(files: list[str] | None, progress=gr.Progress()):  # noqa: B008 (how Gradio injects a progress bar)
        return add_files(ctx.engine, files, progress)

    private = {"api_visibility": "private", "show_progress_on": tab.log}
    tab.add.click(ctx.guarded(add), tab.upload, [tab.log, tab.upload, tab.table, tab.to_remove], **private)
    tab.remove.click(ctx.guarded(lambda names: remove_files(ctx.engine, names)), tab.to_remove,
                     [tab.log, tab.table, tab.to_remove], **private)
    tab.save.click(ctx.guarded(lambda rows: save_corrections(ctx.engine, rows)), tab.table,
                   [tab.log, tab.table, tab.to_remove], **private)
    tab.query.submit(ctx.guarded(lambda q: search_html(ctx.engine, q)), tab.query, tab.results, api_visibility="private")


def wire_settings(tab: SettingsTab) -> None:
    tab.test_openai.click(check_openai, [tab.openai_url, tab.openai_model, tab.openai_key], tab.openai_status,
                          api_visibility="private")
    tab.test_ollama.click(check_ollama, [tab.ollama_url, tab.ollama_model], tab.ollama_status, api_visibility="private")


def add_endpoints(ctx: AppContext) -> None:
    """The named endpoints for gradio_client: the JSON of the matching CLI commands."""
    def ask(question: str, history: list[list[str]] | None = None) -> dict:
        """Answer a question with verified quotations; history: earlier [question, answer text] pairs of the conversation."""
        engine = ctx.engine
        pairs = [(str(q), str(a)) for q, a in (history or [])]
        return answer_question(engine, question, history=pairs, settings=engine.settings).to_json_dict()

    def search(question: str) -> list[dict]:
        """Passages for a question, best first, with citations and locations: the JSON of `rag search --json`."""
        return [{"rank": n, **sp.to_json_dict()} for n, sp in enumerate(ctx.engine.search(question), start=1)]

    def verify(claim: str) -> dict:
        """Check a claim against the documents: verdict (supported, refuted, not_in_corpus), quotes, reason."""
        return verify_claim(ctx.engine, claim).to_json_dict()

    gr.api(ctx.guarded(ask), api_name="ask")
    gr.api(ctx.guarded(verify), api_name="verify")
    gr.api(ctx.guarded(search), api_name="search")


def build_app(engine: Engine | Callable[[], Engine], settings: Settings) -> gr.Blocks:
    """The Blocks app over an engine (or a function that returns it once it has loaded in the background)."""
    ctx = AppContext(engine, settings, on_screen=on_screen)
    with gr.Blocks(title="Research assistant") as app:
        gr.Markdown("## Research assistant \u2014 answers built from verified quotations", elem_id="title")
        chat = build_chat_tab(ui_secret(settings.index_dir))
        verify = build_verify_tab()
        library = build_library_tab()
        options = build_settings_tab(settings)
        handlers = wire_chat(ctx, chat, options.options)
        wire_verify(ctx, verify, options.options)
        wire_library(ctx, library)
        wire_settings(options)
        app.load(None, js=CITE_JS)
        app.load(handlers.restore, chat.store, [chat.store, *chat.view], api_visibility="private")
        app.load(lambda: library_view(ctx.engine), None, [library.table, library.to_remove], api_visibility="private")
        add_endpoints(ctx)
    return app
