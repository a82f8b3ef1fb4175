"""Odd questions and claims: a clear BadInput, or a normal bounded answer whose quotations verify; never a crash."""

from __future__ import annotations

import pytest

from rag.chain import answer
from rag.claims import verify_claim
from rag.cli import main
from rag.errors import BadInput
from rag.extractive import document_vocabulary, shared_words, unknown_names
from rag.quotes import text_at
from rag.retrieve import clean_question

EMPTY = {
    "empty": "",
    "whitespace only": " \n\t\u00a0\u3000 \r\n",
    "control characters only": "\x00\x01\x1b\x7f\u200b\u2028",
}

ODD = {
    "100,000 characters": "What happened to bread prices in the villages? " * 2128,
    "100,000 characters, one word": "a" * 100_000,
    "100,000 Chinese characters": "\u9762\u5305" * 50_000,
    "control characters inside": "What\x00 happened\x1b[2J to bread\u200b prices?\r\n",
    "Cyrillic": "\u0427\u0442\u043e \u0441\u043b\u0443\u0447\u0438\u043b\u043e\u0441\u044c \u0441 \u0446\u0435\u043d\u0430\u043c\u0438 \u043d\u0430 \u0445\u043b\u0435\u0431?",
    "Chinese": "\u9762\u5305\u4ef7\u683c\u53d1\u751f\u4e86\u4ec0\u4e48\u53d8\u5316\uff1f",
    "Arabic": "\u0645\u0627\u0630\u0627 \u062d\u062f\u062b \u0644\u0623\u0633\u0639\u0627\u0631 \u0627\u0644\u062e\u0628\u0632\u061f",
    "emoji": "\U0001f35e\U0001f4c8\u2753",
    "lone surrogate": "bread \ud800 prices",
    "right-to-left override": "\u202ebread prices\u202c",
    "combining marks": "b\u0336r\u0336e\u0336a\u0336d\u0336 " * 200,
}


def assert_quotes_verified(engine, quotes) -> None:
    for quote in quotes:
        assert text_at(engine.index.document_text(quote.doc), quote.start, quote.end) == quote.text


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_questions_are_refused_clearly(name, small_engine):
    question = EMPTY[name]
    with pytest.raises(BadInput, match="question is empty"):
        small_engine.search(question)
    with pytest.raises(BadInput, match="question is empty"):
        answer(small_engine, question)
    with pytest.raises(BadInput, match="is empty"):
        verify_claim(small_engine, question)


def test_a_question_that_is_not_text_is_refused(small_engine):
    with pytest.raises(BadInput, match="must be text"):
        small_engine.search(None)
    with pytest.raises(BadInput, match="must be text"):
        answer(small_engine, 42)


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_questions_get_a_bounded_answer(name, small_engine):
    question = ODD[name]
    results = small_engine.search(question)
    assert 0 < len(results) <= small_engine.settings.retrieval.k
    result = answer(small_engine, question)
    assert len(result.standalone_question) <= 10_000  # the work done is bounded, whatever came in
    assert len(result.text) < 5_000 and len(result.quotes) <= small_engine.settings.answer.max_quotes
    assert_quotes_verified(small_engine, result.quotes)
    assert result.abstained or result.quotes


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_claims_get_a_verdict(name, small_engine):
    claim = ODD[name].translate(str.maketrans("?\uff1f\u061f", "...")) + "."  # stated, not asked
    result = verify_claim(small_engine, claim)
    assert result.verdict in ("supported", "refuted", "not_in_corpus")
    assert_quotes_verified(small_engine, result.quotes)


def test_control_characters_do_not_change_the_search(small_engine):
    plain = [r.passage.passage_id for r in small_engine.search("What happened to bread prices?")]
    noisy = [r.passage.passage_id for r in small_engine.search("What\x00 happened\x1b to\u200b bread prices?\r\n")]
    assert noisy == plain


@pytest.mark.parametrize("command", ["ask", "search"])
def test_empty_question_on_the_command_line(command, small_index_dir, shared_embedder, capsys):
    status = main([command, " \t ", "--index", str(small_index_dir)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.strip() == "error: the question is empty; type a question about the documents"


@pytest.mark.parametrize("question", ["the of and is", "?!?... ;;", "\U0001f69c\U0001f69c\U0001f69c", "9999?",
                                      "Когда была реформа?"])
def test_a_question_sharing_no_word_with_the_documents_is_declined(question, small_engine):
    """Stop words, signs, emoji or another script: the searches still return their nearest passages, which do not
    answer it."""
    result = answer(small_engine, question)
    assert result.abstained and not result.quotes


def test_words_in_any_alphabet_are_the_documents_words():
    """A corpus in another alphabet is read in its own words: its questions are not declined for want of them."""
    vocabulary = document_vocabulary(["Совнархоз был создан в 1957 году. The line reached Gällivare."])
    question = "Когда был создан Совнархоз?"
    assert shared_words(question, vocabulary) == {"был", "создан", "совнархоз"}
    assert unknown_names(question, vocabulary) == []
    assert unknown_names("When did the line reach Gällivare and Malmö?", vocabulary) == ["Malmö"]
    assert shared_words("And what about 1957?", vocabulary) == {"1957"}  # a follow-up naming a year only
    assert unknown_names("What happened at Shakhty?", document_vocabulary(["the trial at Shakhty10 opened"])) == []


@pytest.mark.parametrize("claim", ["When was the plan adopted?", "Was the plan adopted in 1929 ?",
                                   "and why did the plan fail?"])
def test_a_question_is_not_judged_as_a_claim(claim, small_engine):
    """Judged as a claim, a question read as refuted ("refuted 95%") or unfounded."""
    with pytest.raises(BadInput, match="is a question, not a claim"):
        verify_claim(small_engine, claim)


@pytest.mark.parametrize("claim", ["Lenin set out his theses in What Is To Be Done?", 'Stalin asked, "Who will remember?"',
                                   "What the plan asked for was never built."])
def test_a_claim_about_a_question_is_judged(claim, small_engine):
    assert verify_claim(small_engine, claim).verdict in ("supported", "refuted", "not_in_corpus")


@pytest.mark.parametrize("k", [0, -5, 2.5, True, "3"])
def test_a_search_for_no_or_a_negative_number_of_passages_is_refused(k, small_engine):
    with pytest.raises(BadInput, match="at least 1"):
        small_engine.search("What happened to bread prices?", k)


def test_a_search_takes_any_kind_of_whole_number(small_engine):
    import numpy as np

    assert len(small_engine.search("What happened to bread prices?", np.int64(2))) == 2


def test_terminal_escape_sequences_are_not_searched():
    assert clean_question("What was\x01 the \x1b[31mNEP\x1b[0m?", 100) == "What was the NEP?"


def test_a_long_question_says_how_much_of_it_was_searched(small_index_dir, shared_embedder, capsys, monkeypatch):
    monkeypatch.setenv("RAG_ANSWER__MODE", "fast")
    question = "What happened to bread prices in the villages? " * 200
    assert main(["ask", question, "--index", str(small_index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"(a long question: its first 2,000 of {len(question.strip()):,} characters were searched)")
    assert len(out.splitlines()[0]) < 100
