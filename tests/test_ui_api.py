"""The app's named endpoints called with gradio_client against app.py, and the UI's rendering, exports,
stored conversations and input guards."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from rag.display import highlighted_html, markdown_literal, readable
from rag.errors import BadInput
from rag.settings import Settings
from rag.store import load_index
from rag.text import normalize
from rag.types import Answer
from rag.ui.conversations import Conversations
from rag.ui.export import bibtex, cited_works, conversation_markdown, export_files, ris
from rag.ui.library_tab import safe_upload_name
from rag.ui.render import answer_markdown, other_choices, quote_choices, source_html
from rag.ui.settings_tab import check_ollama, check_openai, on_screen

EVAL_QUESTIONS = [
    "What were the sovnarkhozy supposed to do?",
    "Why did regional party chiefs welcome the reorganization when it came to accommodation for workers?",
    "At what points in 1957 was the plan for regional economic councils first aired, spelled out, and finally enacted?",
]


@pytest.fixture(scope="module")
def client(ui_app):
    from gradio_client import Client

    return Client(ui_app.url, verbose=False)


@pytest.fixture(scope="module")
def app_index(ui_app):
    return load_index(ui_app.index_dir, Settings(index_dir=ui_app.index_dir))


@pytest.mark.slow
@pytest.mark.parametrize("question", EVAL_QUESTIONS)
def test_ask_quotations_are_verbatim_in_the_cited_documents(client, app_index, question):
    result = client.predict(question, api_name="/ask")
    assert {"question", "answer", "quotes", "abstained", "passages"} <= set(result)
    assert result["question"] == question and not result["abstained"] and result["quotes"]
    for n, quote in enumerate(result["quotes"], start=1):
        document = app_index.document_text(quote["doc"])
        assert normalize(quote["text"]) in normalize(document)
        assert normalize(document[quote["start"] : quote["end"]]) == normalize(quote["text"])
        assert f"[{n}]" in result["answer"] and quote["citation"]


@pytest.mark.slow
def test_ask_returns_the_json_of_rag_ask(client):
    result = client.predict("What were the sovnarkhozy supposed to do?", api_name="/ask")
    assert json.loads(json.dumps(result)) == result
    assert set(result) == set(Answer(question="q", text="t").to_json_dict())
    assert set(result["quotes"][0]) == {"doc", "text", "start", "end", "citation"}


@pytest.mark.slow
def test_search_and_verify_endpoints(client):
    passages = client.predict("sovnarkhoz reform 1957", api_name="/search")
    assert passages and passages[0]["rank"] == 1
    assert {"doc", "citation", "location", "text", "score"} <= set(passages[0])
    assert "sovnarkhoz" in " ".join(p["text"].lower() for p in passages[:3])
    verdict = client.predict("The sovnarkhoz reform was adopted in 1957.", api_name="/verify")
    assert verdict["verdict"] in {"supported", "refuted", "not_in_corpus"} and "reason" in verdict


@pytest.mark.slow
def test_errors_come_back_as_one_clear_message_and_the_app_goes_on(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", api_name="/ask")
    assert client.predict("What were the sovnarkhozy supposed to do?", api_name="/search")


@pytest.mark.parametrize("name, expected", [
    ("notes.txt", "notes.txt"),
    ("../../etc/cron.d/evil.md", "evil.md"),
    ("..\\..\\windows\\evil.html", "evil.html"),
    ("<script>x</script>.md", "script.md"),
    ("<img src=x onerror=alert(1)>.PDF", "img_src_x_onerror_alert_1.pdf"),
    ("....txt", "upload.txt"),
    ("r\u00e9sum\u00e9 final (2).md", "r_sum_final_2.md"),
])
def test_upload_names_are_sanitized(name, expected):
    assert safe_upload_name(name) == expected


@pytest.mark.parametrize("name", ["run.sh", "archive.tar.gz", "noextension", ".bashrc"])
def test_unsupported_uploads_are_refused(name):
    with pytest.raises(BadInput, match=r"\.txt, \.md, \.html or \.pdf"):
        safe_upload_name(name)


def test_an_abstention_is_shown_plainly_with_closest_material_not_as_support(small_engine):
    from rag.chain import finish
    from rag.generation import Draft

    question = "What did the bakers of Leningrad eat?"
    passages = small_engine.search(question, 4)
    abstained = finish(small_engine, question, question, passages, 4, Draft(text="", abstained=True), "extractive")
    message = answer_markdown(small_engine, abstained)
    assert "don't answer" in message and "Closest material" in message and "References" not in message
    assert quote_choices(small_engine, abstained) == [] and len(other_choices(abstained)) == len(passages)
    panel = source_html(small_engine, abstained, None)
    assert "Closest material (not support)" in panel and "<mark>" in panel


FOLLOW_UP_START = "What were the sovnarkhozy supposed to do?"


@pytest.mark.slow
def test_ask_with_history_searches_an_independent_question_as_itself(client):
    first = client.predict(FOLLOW_UP_START, api_name="/ask")
    question = "How often did Stalin's Politburo meet, and how were its decisions made?"
    second = client.predict(question, [[FOLLOW_UP_START, first["answer"]]], api_name="/ask")
    assert second["standalone_question"] == question
    assert second["quotes"] and not second["abstained"]


@pytest.mark.slow
def test_ask_with_history_resolves_a_follow_up_to_the_previous_subject(client):
    # the subject in its singular form: "sovnarkhozy" (the plural) is stemmed apart from the texts' "Sovnarkhoz"
    start = "What was the sovnarkhoz reform of 1957?"
    first = client.predict(start, api_name="/ask")
    follow_up = client.predict("Who opposed it?", [[start, first["answer"]]], api_name="/ask")
    assert "sovnarkhoz" in follow_up["standalone_question"].lower()
    assert follow_up["quotes"], follow_up["answer"]
    assert any("sovnarkhoz" in q["text"].lower() or "reform" in q["text"].lower() for q in follow_up["quotes"])


def test_footnotes_tags_and_hard_line_breaks_are_not_shown():
    raw = ("the same year.<sup>1</sup> However, in Sep-\ntember the <i>obkom</i>\nsecretaries met.<sup>22</sup>\n\n"
           "### **Aspects of the Reform**\n\nSee <https://example.org/x> and <a href=\"http://h/\">the handle</a>.")
    shown = readable(raw)
    assert shown == ("the same year.\u00b9 However, in September the obkom secretaries met.\u00b2\u00b2\n\n"
                     "Aspects of the Reform\n\nSee https://example.org/x and the handle.")
    assert readable("<script>alert('x')</script>Bread <img src=x onerror=alert(1)>queues") == "Bread queues"
    assert readable("in Sep-\ntember East-\nGerman words") == "in September East-German words"  # a capital keeps its hyphen


def test_the_highlight_survives_a_tag_it_starts_inside():
    text = 'Before <a href="http://h/">the link</a> after.\n\nNext paragraph here.'
    start = text.index("href")  # a span that starts inside a tag that is removed
    end = text.index("Next") + 4
    shown = highlighted_html(text, start, end)
    assert shown == "<p>Before <mark>the link after.</mark></p><p><mark>Next</mark> paragraph here.</p>"


def test_user_text_is_markdown_that_renders_as_typed():
    shown = markdown_literal("![x](http://host/a.png) <b>bold</b> **not** $x$")
    assert "![" not in shown and "<b>" not in shown and "**" not in shown
    assert html.unescape(shown.replace("\\", "")) == "![x](http://host/a.png) <b>bold</b> **not** $x$"


def test_answer_message_links_each_quotation_and_shows_readable_sources(corpus_engine):
    from rag.chain import answer

    result = answer(corpus_engine, "What did the obkom first secretaries say about the sovnarkhoz reform?")
    assert result.quotes
    message = answer_markdown(corpus_engine, result, turn=3)
    for n in range(1, len(result.quotes) + 1):
        assert f"[\\[{n}\\]](#cite-3-{n})" in message
    assert "<sup>" not in message and ".txt" not in message  # no raw tags, no file names
    labels = [label for label, _ in other_choices(result)]
    assert len(labels) == len(set(labels))  # passages of one work are told apart by section and lines
    panel = source_html(corpus_engine, result, "q0")
    assert "<mark>" in panel and "&lt;sup" not in panel and "000_a19c33ad08a36252.txt, line" in panel


def _conversation(engine, questions):
    from rag.chain import answer

    store = Conversations()
    for q in questions:
        store = store.with_answer(answer(engine, q, history=store.current().history()))
    return store


def test_conversations_survive_the_round_trip_through_the_browser(small_engine):
    store = _conversation(small_engine, ["When was the State Planning Commission created?", "What did it replace?"])
    store = store.started().with_answer(store.current().answers[0])
    restored = Conversations.from_browser(json.loads(json.dumps(store.to_browser())))
    assert [c.title for c in restored.items] == ["When was the State Planning Commission created?"] * 2
    assert restored.items[1].answers[1].quotes == store.items[1].answers[1].quotes
    assert restored.active == store.active and len(restored.choices()) == 2
    assert Conversations.from_browser({"items": "garbage"}) == Conversations()
    assert restored.without(restored.active).active == restored.items[1].id


def test_exports_hold_the_whole_conversation_and_its_cited_works(small_engine):
    import bibtexparser

    store = _conversation(small_engine, ["When was the State Planning Commission created and what did it replace?",
                                         "When was bread rationing introduced in the cities?"])
    conv = store.current()
    works = cited_works(small_engine, conv.answers)
    assert {w.file for w in works} == {q.doc for a in conv.answers for q in a.quotes}
    markdown = conversation_markdown(small_engine, conv)
    assert markdown.count("\n## ") == 3 and "## References" in markdown  # two questions, then the references
    assert "[1]" in markdown and "Ada Tester (2020). *A Short Note on Planning*." in markdown
    entries = bibtexparser.parse_string(bibtex(works)).entries
    assert sorted(e.fields_dict["title"].value for e in entries) == sorted(w.title for w in works)
    assert "TY  - " in ris(works) and "AU  - Tester, Ada" in ris(works)
    md_path, bib_path, ris_path = export_files(small_engine, conv)
    assert md_path.endswith(".md") and bib_path.endswith(".bib") and ris_path.endswith(".ris")
    assert Path(md_path).read_text(encoding="utf-8") == markdown


def test_errors_name_the_field_on_screen_and_a_dead_server_is_reported():
    message = on_screen("check that the server is running, and RAG_ANSWER__OPENAI_BASE_URL, RAG_ANSWER__OPENAI_MODEL")
    assert "RAG_ANSWER" not in message and "Base URL (Settings \u203a OpenAI-compatible server)" in message
    # nothing listens on the discard port: each test names the field to fix
    assert "Base URL (Settings \u203a OpenAI-compatible server)" in check_openai("http://127.0.0.1:9/v1", "local", "")
    assert "Base URL (Settings \u203a Ollama)" in check_ollama("http://127.0.0.1:9", "llama3.2")
