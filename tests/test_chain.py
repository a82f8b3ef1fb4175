"""The answer chain with the default extractive generator: verified quotations, follow-ups, abstention."""

from __future__ import annotations

from rag.chain import REMOVED_TEXT, answer, standalone_question, verify_draft
from rag.generation import Draft, DraftQuote
from rag.quotes import text_at


def _assert_verbatim(engine, result):
    for q in result.quotes:
        document = engine.index.document_text(q.doc)
        assert text_at(document, q.start, q.end) == q.text  # verbatim there, running heads left out


def test_answer_quotes_the_source_verbatim(small_engine):
    result = answer(small_engine, "When was the State Planning Commission created and what did it replace?")
    assert not result.abstained
    assert result.quotes and result.quotes[0].doc == "planning.md"
    assert any("February 1921" in q.text for q in result.quotes)
    assert "[1]" in result.text and "Tester" in result.text
    _assert_verbatim(small_engine, result)


def test_answer_on_the_corpus_cites_the_right_work(corpus_engine):
    result = answer(corpus_engine, "How big was the Communist Party's central apparatus at the start of 1930?")
    assert not result.abstained
    assert any(q.doc == "001_5df7ae714c181bd2.txt" for q in result.quotes)
    _assert_verbatim(corpus_engine, result)


def test_follow_up_is_joined_to_the_previous_question():
    history = [("Why did Khrushchev want the sovnarkhozy?", "...")]
    rewritten = standalone_question("and what did the obkom secretaries think of it?", history)
    assert "Khrushchev" in rewritten and "obkom" in rewritten
    assert standalone_question("Who ran Gosplan in 1930?", history) == "Who ran Gosplan in 1930?"


def test_unanswerable_question_abstains_with_closest_material(corpus_engine):
    result = answer(corpus_engine, "What was the population of Reykjavik according to the 1990 Icelandic census?")
    assert result.abstained and not result.quotes
    assert "don't answer" in result.text and "Closest material" in result.text


def test_unverifiable_quotations_are_removed(small_engine):
    passages = small_engine.search("pig iron targets", k=3)
    draft = Draft(text="A {{Q1}} B {{Q2}} C {{Q3}}", quotes=[
        DraftQuote(text="the targets for pig iron were raised from ten to seventeen million tons", passage=1, marker="{{Q1}}"),
        DraftQuote(text="the targets for pig iron were lowered to three million tons by Stalin himself", passage=1, marker="{{Q2}}"),
        DraftQuote(text="the targets for pig iron were raised from ten to seventeen million tons", passage=9, marker="{{Q3}}"),
    ])
    text, quotes, dropped = verify_draft(small_engine, draft, passages)
    assert [q.text for q in quotes] == ["the targets for pig iron were raised from ten to seventeen million tons"]
    assert dropped == 2 and text.count(REMOVED_TEXT) == 2 and "[1]" in text


def test_extractive_answer_never_opens_a_quotation_mid_sentence(small_engine):
    """A paragraph cut off by a page or note break starts in lower case: it is not quoted, however well it matches."""
    from rag.extractive import ExtractiveGenerator

    hit = small_engine.search("State Planning Commission", k=1)[0]
    text = ("expectation of the planners that the State Planning Commission would decide the plan, "
            "as the State Planning Commission was created to do.\n\n"
            "The State Planning Commission was created in February 1921 to replace the earlier planning bodies.")
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    picked, _ = ExtractiveGenerator(small_engine.embedder).select("What was the State Planning Commission created to do?", [passage])
    assert picked and all(sentence[0].isupper() for _, sentence in picked)
    assert picked[0][1].startswith("The State Planning Commission was created in February 1921")


def test_answer_json_says_what_was_searched(small_engine):
    history = [("When was the State Planning Commission created?", "...")]
    result = answer(small_engine, "What did it replace?", history)
    data = result.to_json_dict()
    assert data["standalone_question"] == result.standalone_question != ""
    assert data["question"] == "What did it replace?"
