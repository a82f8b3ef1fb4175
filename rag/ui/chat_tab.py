"""The Chat tab: conversations (kept in the browser), the chat, the sources panel and the exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr

from rag.api import Engine
from rag.chain import stream_answer
from rag.display import markdown_literal
from rag.errors import RagError
from rag.types import Answer
from rag.ui.context import AppContext
from rag.ui.conversations import Conversations
from rag.ui.export import export_files
from rag.ui.render import chat_messages, other_choices, quote_choices, source_html
from rag.ui.settings_tab import session_settings

# Clicking an inline [n] (a link to "#cite-<turn>-<n>") opens that quotation: the click is caught before the
# link is followed, its target is left in window.ragCite, and the hidden #cite-go button sends it to the server.
CITE_JS = """() => {
  if (window.ragCiteInstalled) return;
  window.ragCiteInstalled = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href^='#cite-']");
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    window.ragCite = link.getAttribute("href").slice("#cite-".length);
    document.querySelector("#cite-go").click();
  }, true);
}"""
PICK_CITE_JS = "(cite, store) => [window.ragCite || '', store]"
# The context box scrolls to put the highlighted quotation in view (the page itself does not move).
SCROLL_TO_MARK_JS = """() => { const box = document.querySelector('#sources .rag-context');
  const mark = box && box.querySelector('mark');
  if (mark) box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 4; }"""


@dataclass
class ChatTab:
    store: gr.BrowserState
    current: gr.State  # which answer of the open conversation the sources panel shows
    conversations: gr.Radio
    new: gr.Button
    delete: gr.Button
    export_md: gr.DownloadButton
    export_bib: gr.DownloadButton
    export_ris: gr.DownloadButton
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    citations: gr.Radio
    sources: gr.HTML
    others: gr.Radio
    cite: gr.Textbox
    cite_go: gr.Button

    @property
    def view(self) -> list:
        """The outputs of conversation_view, in its order."""
        return [self.chatbot, self.current, self.citations, self.others, self.sources, self.conversations,
                self.export_md, self.export_bib, self.export_ris]


def build_chat_tab(secret: str) -> ChatTab:
    store = gr.BrowserState(Conversations().to_browser(), storage_key="rag-conversations", secret=secret)
    current = gr.State(0)
    with gr.Tab("Chat"), gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=200, elem_id="conv-col"):
            new = gr.Button("+ New conversation", size="sm", elem_id="new-conv")
            conversations = gr.Radio(label="Conversations", choices=[], elem_id="conversations")
            gr.Markdown("**Export this conversation**", elem_classes="rag-export-head")
            export_md = gr.DownloadButton("Markdown (.md)", size="sm", interactive=False, elem_id="export-md")
            export_bib = gr.DownloadButton("BibTeX (.bib)", size="sm", interactive=False, elem_id="export-bib")
            export_ris = gr.DownloadButton("RIS (.ris)", size="sm", interactive=False, elem_id="export-ris")
            delete = gr.Button("Delete this conversation", size="sm", variant="secondary", elem_id="delete-conv")
        with gr.Column(scale=4, min_width=420):
            chatbot = gr.Chatbot(show_label=False, height=640, elem_id="chat", buttons=["copy"],
                                 placeholder="**Ask about the documents.** Every answer is built from quotations "
                                             "checked word for word against the source; click a number to see it.")
            with gr.Row():
                question = gr.Textbox(placeholder="Ask about the documents, e.g. What were the sovnarkhozy supposed to do?",
                                      show_label=False, scale=5, elem_id="question", lines=1, max_lines=6)
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="ask")
        with gr.Column(scale=3, min_width=320, elem_id="side"):
            citations = gr.Radio(label="Quotations \u2014 click one to open it in its source", choices=[], elem_id="citations")
            sources = gr.HTML(source_html(None, None, None), elem_id="sources", padding=True)
            others = gr.Radio(label="Retrieved but not quoted \u2014 click to open", choices=[], elem_id="others")
            cite = gr.Textbox(visible="hidden", elem_id="cite-target")  # inside the tab: a component between
            cite_go = gr.Button(visible="hidden", elem_id="cite-go")  # two tabs would split the tab bar
    return ChatTab(store, current, conversations, new, delete, export_md, export_bib, export_ris, chatbot, question,
                   ask, citations, sources, others, cite, cite_go)


def answer_panel(engine: Engine | None, answer: Answer | None, choice: str | None = None) -> tuple:
    """Quotation choices, other passages and the sources panel for one answer; `choice` is opened (default: the first)."""
    if answer is None or engine is None:
        return gr.update(choices=[], value=None), gr.update(choices=[], value=None), source_html(None, None, None)
    quotes, others = quote_choices(engine, answer), other_choices(answer)
    first = choice or (quotes[0][1] if quotes else (others[0][1] if others else None))
    label = "Closest material (not support)" if answer.abstained else "Retrieved but not quoted"
    return (gr.update(choices=quotes, value=first if first and first.startswith("q") else None),
            gr.update(choices=others, value=first if first and first.startswith("p") else None,
                      label=f"{label} \u2014 click to open"),
            source_html(engine, answer, first))


def conversation_view(engine: Engine, store: Conversations, turn: int | None = None, choice: str | None = None) -> tuple:
    """Everything shown for the open conversation: chat, selected answer's sources, the list, the exports."""
    conv = store.current()
    turn = len(conv.answers) - 1 if turn is None else min(turn, len(conv.answers) - 1)
    answer = conv.answers[turn] if conv.answers else None
    files = export_files(engine, conv)
    downloads = [gr.update(value=f, interactive=f is not None) for f in files]
    return (chat_messages(engine, conv.answers), max(turn, 0), *answer_panel(engine, answer, choice),
            gr.update(choices=store.choices(), value=conv.id if conv.answers else None), *downloads)


class ChatHandlers:
    """The Chat tab's events; each takes the browser's stored conversations and returns them updated."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def restore(self, raw: dict) -> tuple:
        """On page load: the conversation the browser had open."""
        store = Conversations.from_browser(raw)
        return store.to_browser(), *conversation_view(self.ctx.engine, store)

    def respond(self, question: str, raw: dict, *options) -> Iterator[tuple]:
        """Answer in the open conversation, showing the generator's text as it streams."""
        engine, store = self.ctx.engine, Conversations.from_browser(raw)
        settings = session_settings(engine.settings, *options)
        conv = store.current()
        shown = chat_messages(engine, conv.answers)
        pending = [{"role": "user", "content": markdown_literal(question)},
                   {"role": "assistant", "content": "*Searching the documents\u2026*"}]
        keep = (gr.update(),) * 10
        yield shown + pending, *keep
        try:
            draft = ""
            for piece in stream_answer(engine, question, conv.history(), generator=self.ctx.generator_for(settings),
                                       settings=settings):
                if isinstance(piece, Answer):
                    store = store.with_answer(piece)
                    break
                draft += piece
                pending[1]["content"] = markdown_literal(draft) + "\n\n*(checking quotations\u2026)*"
                yield shown + pending, *keep
        except RagError as e:
            yield shown, *keep
            raise self.ctx.error(e) from e
        chat, *view = conversation_view(engine, store)
        yield chat, store.to_browser(), "", *view

    def pick_answer(self, raw: dict, evt: gr.SelectData) -> tuple:
        """A click on a message: its answer's quotations open on the right."""
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        answers = Conversations.from_browser(raw).current().answers
        if not answers or index is None:
            return (gr.update(),) * 4
        turn = min(int(index) // 2, len(answers) - 1)
        return turn, *answer_panel(self.ctx.engine, answers[turn])

    def open_source(self, raw: dict, turn: int, choice: str | None) -> tuple:
        """Open a quotation or passage of the selected answer; the other list is cleared (one item open at a time)."""
        answers = Conversations.from_browser(raw).current().answers
        answer = answers[turn] if 0 <= turn < len(answers) else None
        return source_html(self.ctx.engine, answer, choice), gr.update(value=None)

    def open_citation(self, cite: str, raw: dict) -> tuple:
        """An inline [n] clicked in answer `turn` ("<turn>-<n>"): that answer's quotation n opens, highlighted."""
        try:
            turn, n = (int(x) for x in cite.split("-"))
        except ValueError:
            return (gr.update(),) * 4
        answers = Conversations.from_browser(raw).current().answers
        if not 0 <= turn < len(answers) or not 1 <= n <= len(answers[turn].quotes):
            return (gr.update(),) * 4
        return turn, *answer_panel(self.ctx.engine, answers[turn], f"q{n - 1}")

    def new_conversation(self, raw: dict) -> tuple:
        store = Conversations.from_browser(raw).started()
        return store.to_browser(), *conversation_view(self.ctx.engine, store)

    def open_conversation(self, raw: dict, conv_id: str | None) -> tuple:
        store = Conversations.from_browser(raw)
        store = store.opened(conv_id) if conv_id else store
        return store.to_browser(), *conversation_view(self.ctx.engine, store)

    def delete_conversation(self, raw: dict) -> tuple:
        store = Conversations.from_browser(raw)
        store = store.without(store.active)
        return store.to_browser(), *conversation_view(self.ctx.engine, store)


def wire_chat(ctx: AppContext, tab: ChatTab, options: list) -> ChatHandlers:
    """The Chat tab's events (UI-only, so private); progress shows on the component an event is about."""
    h = ChatHandlers(ctx)
    answering = [tab.chatbot, tab.store, tab.question, *tab.view[1:]]
    for event in (tab.question.submit, tab.ask.click):
        event(h.respond, [tab.question, tab.store, *options], answering, api_visibility="private", show_progress_on=tab.chatbot)
    panel = [tab.current, tab.citations, tab.others, tab.sources]
    tab.chatbot.select(h.pick_answer, tab.store, panel, api_visibility="private", show_progress_on=tab.sources)
    tab.citations.input(h.open_source, [tab.store, tab.current, tab.citations], [tab.sources, tab.others],
                        api_visibility="private", show_progress_on=tab.sources)
    tab.others.input(h.open_source, [tab.store, tab.current, tab.others], [tab.sources, tab.citations],
                     api_visibility="private", show_progress_on=tab.sources)
    tab.cite_go.click(h.open_citation, [tab.cite, tab.store], panel, js=PICK_CITE_JS, api_visibility="private",
                      show_progress_on=tab.sources)
    tab.sources.change(None, js=SCROLL_TO_MARK_JS)
    switching = [tab.store, *tab.view]
    tab.new.click(h.new_conversation, tab.store, switching, api_visibility="private")
    tab.conversations.input(h.open_conversation, [tab.store, tab.conversations], switching, api_visibility="private")
    tab.delete.click(h.delete_conversation, tab.store, switching, api_visibility="private")
    return h
