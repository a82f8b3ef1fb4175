"""The app's named endpoints called with gradio_client against app.py, and the UI's input guards."""

from __future__ import annotations

import json

import pytest

from rag.errors import BadInput
from rag.settings import Settings
from rag.store import load_index
from rag.text import normalize
from rag.types import Answer
from rag.ui import answer_markdown, other_choices, quote_choices, safe_upload_name, source_html

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
    assert quote_choices(abstained) == [] and len(other_choices(abstained)) == len(passages)
    panel = source_html(small_engine, abstained, None)
    assert "Closest material (not support)" in panel and "<mark>" in panel
