"""The answer chain with the default extractive generator: verified quotations, follow-ups, abstention."""

from __future__ import annotations

import numpy as np
import pytest

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


def _in_mode(engine, mode: str):
    settings = engine.settings.model_copy(deep=True)
    settings.answer.mode = mode
    return settings


def test_independent_question_after_another_is_searched_as_itself(small_engine):
    settings = _in_mode(small_engine, "fast")
    first = answer(small_engine, "When was bread rationing introduced in the cities?", settings=settings)
    history = [(first.question, first.text)]
    result = answer(small_engine, "Where was the Turksib line joined?", history, settings=settings)
    assert result.standalone_question == "Where was the Turksib line joined?"
    assert any("Aina-Bulak" in q.text for q in result.quotes)


@pytest.mark.xfail(strict=True, reason="the reading model prefers the sentence that names the Turksib (and a place) over "
                   "'The line was joined near Aina-Bulak', which names neither; reading the sentence before with it, or "
                   "fusing its ranking with the fast mode's, fixed this case but lowered dev and held-out recall")
def test_read_mode_quotes_where_the_line_was_joined(small_engine):
    result = answer(small_engine, "Where was the Turksib line joined?", settings=_in_mode(small_engine, "read"))
    assert "Aina-Bulak" in result.quotes[0].text


def test_follow_up_is_read_with_the_question_it_continues(small_engine):
    for asked, follow_up, source in [("When was the State Planning Commission created?", "What did it replace?", "planning.md"),
                                     ("When was the Turksib railway begun?", "Where was it joined?", "turksib.pdf")]:
        first = answer(small_engine, asked)
        result = answer(small_engine, follow_up, [(asked, first.text)])
        assert result.standalone_question == f"{asked} {follow_up}"
        assert result.quotes and {q.doc for q in result.quotes} == {source}, result.text
        _assert_verbatim(small_engine, result)


def test_a_chain_of_follow_ups_keeps_its_subject(small_engine):
    history = [("When was the State Planning Commission created?", "..."), ("What did it replace?", "...")]
    rewritten = standalone_question("And what powers did it have at first?", history, engine=small_engine)
    assert rewritten.startswith("When was the State Planning Commission created? What did it replace?")
    assert standalone_question("And what powers did it have at first?", history) == "And what powers did it have at first?"


def test_follow_ups_on_the_corpus(corpus_engine):
    """An independent question after another is searched as itself, even with a pronoun of its own or two words;
    a follow-up is read with the question it continues and quotes what that question was about."""
    strikes = answer(corpus_engine, "Why did workers go on strike during the NEP?")
    history = [(strikes.question, strikes.text)]
    for question in ("How often did Stalin's Politburo meet, and how were its decisions made?", "What did Gosplan do?"):
        result = answer(corpus_engine, question, history)
        assert result.standalone_question == question and not result.abstained
    reform = "Why did Khrushchev want the sovnarkhozy?"
    first = answer(corpus_engine, reform)
    result = answer(corpus_engine, "and why did they oppose it?", [(reform, first.text)])
    assert result.standalone_question == f"{reform} and why did they oppose it?"
    assert result.quotes and {q.doc for q in result.quotes} == {"000_a19c33ad08a36252.txt"}  # Ha on the 1957 reform
    assert not {q.text for q in result.quotes} & {q.text for q in first.quotes}, "a follow-up brings new quotations"


def test_a_follow_up_on_the_following_year_asks_for_that_year(small_engine):
    from rag.chain import with_years

    earlier = "What were the targets for pig iron in 1929?"
    assert with_years("And what happened the following year?", earlier) == "And what happened in 1930?"
    assert with_years("What about the year before, and that same year?", earlier) == "What about in 1928, and in 1929?"
    assert with_years("And the following year?", "Why did they hide reserves?") == "And the following year?"
    result = answer(small_engine, "And the following year?", [(earlier, "The documents don't answer this question.")])
    assert result.standalone_question == f"{earlier} And in 1930?"
    assert any(q.text.startswith("In 1930 the targets for pig iron were raised") for q in result.quotes)
    without_cue = answer(small_engine, "What happened the following year?", [(earlier, "")])  # no "and", no pronoun
    assert without_cue.standalone_question.endswith("What happened in 1930?")


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


def test_extractive_answer_never_quotes_a_sentence_that_breaks_off(small_engine):
    """A sentence cut off by a table or a page ("..., as we have seen,21") is not quoted, however well it matches;
    one that ends with a full stop and a note number is."""
    from rag.extractive import quotable_sentences

    hit = small_engine.search("State Planning Commission", k=1)[0]
    text = ("The State Planning Commission created in February 1921 was given tasks which were, as we have seen,21\n\n"
            "The State Planning Commission was created in February 1921 to replace the earlier planning bodies.4")
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    candidates = quotable_sentences([passage])
    kept = "The State Planning Commission was created in February 1921 to replace the earlier planning bodies.4"
    assert [c.text for c in candidates] == [kept]


def test_a_sentence_is_quotable_across_a_page_break_and_with_a_superscript_note_number(small_engine):
    """A blank line inside a sentence (a page break in the source) does not cut it into two fragments, neither of which
    could be quoted; a superscript note number after the full stop, in Unicode or in HTML, does not make a sentence
    look cut off."""
    from rag.extractive import quotable_sentences

    hit = small_engine.search("State Planning Commission", k=1)[0]
    text = ("The State Planning Commission was created in February 1921 and given tasks\n\n"
            "which the earlier planning bodies had never been able to carry out.\n\n"
            "Its chairman paid with his life for his independence from the Politburo.\u00b9\u2079\n\n"
            "His successor kept the post until the commission was reorganized in 1930.<sup>20</sup>")
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    assert [c.text for c in quotable_sentences([passage])] == [
        ("The State Planning Commission was created in February 1921 and given tasks which the earlier planning bodies "
         "had never been able to carry out."),
        "Its chairman paid with his life for his independence from the Politburo.\u00b9\u2079",
        "His successor kept the post until the commission was reorganized in 1930.<sup>20</sup>"]


def test_references_and_page_numbers_are_not_quoted(small_engine):
    """A reference (an italic title with its date or place of publication) cites, it does not answer; a page or note
    number the layout left before a sentence is not part of its quotation; each note of a list of notes stands alone."""
    from rag.extractive import quotable_sentences

    hit = small_engine.search("State Planning Commission", k=1)[0]
    text = ("- 66 Krzhizhanovsky, *Pravda* (June 2, 1928).\n- 67 The State Planning Commission had a staff of 500 by the end of 1928.\n"
            "- 68 Krzhizhanovsky, *Pravda* (June 23, 1928); Kuibyshev, *Izvestiia* (June 12, 1928), on the planning bodies.\n\n"
            "See R. W. Davies, *The Industrialisation of Soviet Russia* (London, 1980), for the planning bodies of the time.\n\n"
            "197 The State Planning Commission was created in February 1921 to replace the earlier planning bodies.")
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    assert [c.text for c in quotable_sentences([passage])] == [
        "The State Planning Commission had a staff of 500 by the end of 1928.",
        "The State Planning Commission was created in February 1921 to replace the earlier planning bodies."]


def test_inline_markup_leaves_a_sentence_quotable_as_it_stands(small_engine):
    """Bold, italic, code and a link inside a sentence are the source's own text: the sentence is quoted with them,
    verbatim (the display reduces them to their words, as it does an HTML note marker); a heading, a table row or a
    line in bold that is no sentence is still not quoted."""
    from rag.extractive import quotable_sentences

    hit = small_engine.search("State Planning Commission", k=1)[0]
    sentences = ["The chief engineer of the works, **Boris Steelman**, reported a first month of 900 tonnes.",
                 "**Boris Steelman** reported that the furnace produced 900 tonnes of pig iron in its first month.",
                 "The furnace was described as _the pride of Siberia_ in *Pravda* at the time of its opening.",
                 "The works kept their output in a ledger called `pig-iron-1932` until the first plan was met.",
                 "The furnace was designed by [the Freyn company](https://example.org/freyn) of Chicago, as was the mill."]
    furniture = "# The Kuznetsk steel works and the furnace\n\n**Table 1 Pig iron produced in the first months**\n\n| a | b |"
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": furniture + "\n\n" + "\n\n".join(sentences)})})
    assert [c.text for c in quotable_sentences([passage])] == sentences


def test_bold_around_a_sentence_end_neither_joins_sentences_nor_cuts_one_off(small_engine):
    """A sentence in bold, or one after a sentence that opens in bold, is a sentence of its own, quoted whole."""
    from rag.chunking import split_sentences
    from rag.extractive import quotable_sentences
    from rag.text import breaks_off

    text = ("The Kuznetsk works fired their first blast furnace in April 1932. **Boris Steelman** was the chief engineer "
            "of the works. **The furnace produced 900 tonnes of pig iron in its first month.** It was relined in 1934.")
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "The Kuznetsk works fired their first blast furnace in April 1932.",
        "**Boris Steelman** was the chief engineer of the works.",
        "**The furnace produced 900 tonnes of pig iron in its first month.**", "It was relined in 1934."]
    assert not breaks_off("It said *the plan is law.*") and breaks_off("It said that the plan *was*")
    hit = small_engine.search("State Planning Commission", k=1)[0]
    bold = "**The furnace produced 900 tonnes of pig iron in its first month, a record for the region.**"
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": bold})})
    assert [c.text for c in quotable_sentences([passage])] == [bold]


def test_a_quotation_runs_on_only_within_its_paragraph_and_never_into_a_note(small_engine):
    """Each candidate knows its quotation run on to the next sentence, which the read mode gives for a why question;
    there is none at the end of a paragraph or where the next sentence is a reference."""
    from rag.extractive import quotable_sentences

    hit = small_engine.search("State Planning Commission", k=1)[0]
    first = ("The State Planning Commission was created in February 1921 to replace the earlier planning bodies, which "
             "had been set up in haste during the Civil War and had never agreed on what a plan should contain.")
    second = "Its chairman was Krzhizhanovsky."
    note = "See R. W. Davies, *The Industrialisation of Soviet Russia* (London, 1980)."
    text = f"{first} {second}\n\n{first} {note}"
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    candidates = quotable_sentences([passage])
    assert [(c.text, c.run_on) for c in candidates] == [(first, f"{first} {second}"), (first, "")]


class _ScriptedReader:
    """Reading gains looked up by a sentence's opening words: the selection logic around the reader, without the model
    (tests/test_reader.py reads with the model itself)."""

    loading = False

    def __init__(self, gains: dict[str, tuple]):
        self.gains = gains  # opening words -> (gain for the whole question, gain for each part[, each token's gain])

    def gain(self, parts, texts):
        from rag.reader import Scores

        rows = [next((g for start, g in self.gains.items() if t.startswith(start)), (-1.0, (-1.0,) * len(parts)))
                for t in texts]
        tokens = [r[2] if len(r) > 2 else (r[0],) * 4 for r in rows]  # by default, each token gains the mean
        return Scores(overall=np.array([r[0] for r in rows]), by_part=np.array([r[1] for r in rows]), tokens=np.array(tokens))


def _read_scripted(engine, text: str, gains: dict, question: str, **answer_settings):
    """ExtractiveGenerator.read over one passage of `text`, the reader scripted by `gains` (see _ScriptedReader)."""
    from rag.extractive import ExtractiveGenerator

    hit = engine.search("pig iron targets", k=1)[0]
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    settings = engine.settings.answer.model_copy(update=answer_settings)
    picked, features = ExtractiveGenerator(engine.embedder, settings, reader=_ScriptedReader(gains)).read(question, [passage])
    return [quoted for _, quoted in picked], features


# a two-part question (when, then why) and the sentence answering each part
_TWO_PART_QUESTION = ("When was the Turksib railway completed, and why did the factory directors of the Urals hide their "
                      "reserves?")
_TURKSIB = ("The Turksib railway, which joined the cotton lands of Central Asia to the grain and timber of Siberia, was "
            "completed in 1930, a year ahead of the date set for it in the first five-year plan.")
_URALS = ("In 1930 the factory directors of the Urals, faced with targets for pig iron that no engineer believed could "
          "be reached, hid a large part of their reserves of coke, ore and labour from the planners in Moscow.")


def test_the_answer_to_a_why_part_runs_on_and_the_answer_to_a_when_part_does_not(small_engine):
    reason = "They feared that any reserve they reported would be written into the next year's plan."
    text = f"{_TURKSIB} It was built by the People's Commissariat of Transport.\n\n{_URALS} {reason}"
    gains = {"The Turksib": (2.0, (2.0, 0.1)), "In 1930 the factory": (1.0, (0.0, 1.5))}
    quoted, _ = _read_scripted(small_engine, text, gains, _TWO_PART_QUESTION)
    assert quoted == [_TURKSIB, f"{_URALS} {reason}"]


# the reading of "Why did the Urals factory directors hide their reserves?": a sentence opening with the Urals gains
# 12 nats on that name alone, one opening "In 1930" gains evenly over the question's tokens
_URALS_QUESTION = "Why did the Urals factory directors hide their reserves?"
_NAME_OR_ANSWER = {"The Urals": (3.0, (3.0,), (12.0, 0.0, 0.0, 0.0)), "In 1930": (2.6, (2.6,), (2.6, 2.6, 2.6, 2.6))}


def test_the_lead_quotation_explains_most_of_the_question_not_its_rare_name_alone(small_engine):
    """A sentence sharing the question's rare name gains most on that one token; the sentence that explains more of the
    question's words leads, and the other, close to the best gain, is quoted after it."""
    named = ("The Urals factory directors met the planners of Gosplan in Moscow every spring to argue over the coming "
             "year's figures for pig iron, coke and labour.")
    answering = "In 1930 the factory directors hid their reserves because any reserve reported became next year's target."
    quoted, features = _read_scripted(small_engine, f"{named} {answering}", _NAME_OR_ANSWER, _URALS_QUESTION)
    assert quoted[:2] == [answering, named]
    assert features["best_gain"] == 3.0  # whether to answer at all still rests on the best gain


@pytest.mark.parametrize("named, page_number", [
    (("The Urals factory directors met the planners of Gosplan in Moscow every spring to argue over the coming year's "
      "figures for pig iron, coke and labour."), ""),
    ("The Urals factory directors met the planners of Gosplan in Moscow every spring.", ""),  # quoted with the next
    ("The Urals factory directors met the planners of Gosplan in Moscow every spring.", "197 "),  # a page's number
])
def test_a_why_answers_lead_runs_on_only_into_a_sentence_not_quoted_already(small_engine, named, page_number):
    """The lead explains the most of a why question; the sentence after it, the best by uncapped gain, is quoted
    on its own (or with the one after it), so the lead does not run on into it: no sentence is quoted twice, whatever
    number of a page stands before it in the source."""
    answering = ("In 1930 the factory directors of the Urals hid their reserves of coke and ore because any reserve they "
                 "reported was written into the next year's plan as a target.")
    after = "Output of pig iron in the Urals nevertheless rose in 1931, though far less than the plan had demanded of it."
    quoted, _ = _read_scripted(small_engine, f"{answering} {page_number}{named} {after}", _NAME_OR_ANSWER, _URALS_QUESTION)
    assert quoted[0].startswith(answering) and any(q.startswith(named) for q in quoted)
    assert all(sum(sentence in q for q in quoted) <= 1 for sentence in (answering, named, after))


def test_the_lead_takes_no_part_answers_place(small_engine):
    """With room for two quotations, a two-part question quotes each part's answer, though a third sentence explains
    more of the question once each token's gain is capped: the lead is chosen among the quotations, not added."""
    planners = ("The planners in Moscow set the targets for the railway and the Urals factories alike in the spring of "
                "every year of the first five-year plan, and revised them upwards whenever a target was reached.")
    gains = {"The Turksib": (3.0, (3.5, 0.1), (12.0, 0.0, 0.0, 0.0)), "In 1930": (1.0, (0.0, 1.5), (1.0, 1.0, 1.0, 1.0)),
             "The planners": (2.0, (1.0, 1.0), (2.0, 2.0, 2.0, 2.0))}
    quoted, _ = _read_scripted(small_engine, f"{_TURKSIB}\n\n{_URALS}\n\n{planners}", gains, _TWO_PART_QUESTION, max_quotes=2)
    assert [q[:20] for q in quoted] == [_TURKSIB[:20], _URALS[:20]]


# "How many tons ...?" over four sentences the reading model finds about as good, each a paragraph of its own: the two
# giving a figure read second and fourth
_TONS_QUESTION = "How many tons of pig iron did the Urals works produce in 1931?"
_SHORT_OF_COKE = "The Urals works, whose pig iron the planners in Moscow watched closely in 1931, were short of coke all year."
_TONS = "In 1931 the Urals works produced 2.1 million tons of pig iron, against a plan of 3.4 million tons."
_TARGETS_RAISED = "The planners in Moscow raised the targets for pig iron whenever the Urals works came near to reaching them."
_BLAST_FURNACES = "Four new blast furnaces were lit at Magnitogorsk and Kuznetsk in 1931 to make up for the Urals' shortfall."
_TONS_TEXT = f"{_SHORT_OF_COKE}\n\n{_TONS}\n\n{_TARGETS_RAISED}\n\n{_BLAST_FURNACES}"
_TONS_GAINS = {"The Urals works": (2.0, (2.0,)), "In 1931": (1.9, (1.9,)), "The planners": (1.85, (1.85,)),
               "Four new": (1.8, (1.8,))}


def test_the_quotations_giving_the_figure_asked_for_come_first(small_engine):
    """Of close readings, the sentences that give the figure a "how many" question asks for are quoted before one that
    reads better but gives none, and the best of them leads; the best reading is quoted too."""
    quoted, _ = _read_scripted(small_engine, _TONS_TEXT, _TONS_GAINS, _TONS_QUESTION)
    assert quoted == [_TONS, _SHORT_OF_COKE, _BLAST_FURNACES]


def test_whether_the_figure_is_given_rests_on_the_reading_models_own_choice(small_engine):
    """With room for two quotations and the reading of the sentence with the figure lowered, the reading model's two
    best give no figure: the answer quotes them as they are, and so declines (missing_details), rather than reaching
    down for a sentence with a figure, as it would for a near miss whose passages give some other figure."""
    from rag.extractive import missing_details

    gains = {**_TONS_GAINS, "In 1931": (1.7, (1.7,)), "Four new": (1.6, (1.6,))}
    quoted, _ = _read_scripted(small_engine, _TONS_TEXT, gains, _TONS_QUESTION, max_quotes=2)
    assert quoted == [_SHORT_OF_COKE, _TARGETS_RAISED]
    assert missing_details(_TONS_QUESTION, quoted) == ["a figure"]


@pytest.mark.parametrize("max_quotes, quoted", [
    (3, [_TONS, _SHORT_OF_COKE, _TARGETS_RAISED]),  # the one figure sentence, third by score, leads
    (2, [_SHORT_OF_COKE, _TARGETS_RAISED]),  # the two best give no figure: quoted as they are, so the answer declines
])
def test_the_fast_mode_leads_with_the_quotation_giving_the_figure_asked_for(small_engine, monkeypatch, max_quotes, quoted):
    """The fast mode, its cheap scores scripted: of the candidates within its gap of the best, one giving the figure
    asked for leads, where its first choice gives the figure at all; the evidence stays the best candidate's."""
    from rag.extractive import Candidate, ExtractiveGenerator
    from rag.settings import AnswerSettings

    candidates = [Candidate(1, text) for text in (_SHORT_OF_COKE, _TONS, _TARGETS_RAISED)]
    cheap = np.array([0.80, 0.70, 0.75])
    generator = ExtractiveGenerator(small_engine.embedder, AnswerSettings(max_quotes=max_quotes))
    monkeypatch.setattr(generator, "_shortlist", lambda question, passages: (candidates, cheap, cheap, np.eye(3)))
    picked, evidence = generator.select(_TONS_QUESTION, [], reading=False)
    assert [text for _, text in picked] == quoted
    assert evidence == pytest.approx(0.80 - 0.25 / 2)


def test_a_sentence_on_the_texts_own_plan_is_not_quoted(small_engine):
    """"This study is composed of three sections." says where an answer is, not what it is; a sentence on the first
    part of something else is quoted."""
    from rag.extractive import quotable_sentences

    hit = small_engine.search("State Planning Commission", k=1)[0]
    kept = "The first part of the plan was fulfilled by the State Planning Commission in February 1921, ahead of time."
    text = ("This study is composed of three sections.\n\n"
            "The second part makes general observations about the State Planning Commission and its staff in 1921.\n\n"
            f"{kept}")
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    assert [c.text for c in quotable_sentences([passage])] == [kept]


def test_answer_json_says_what_was_searched(small_engine):
    history = [("When was the State Planning Commission created?", "...")]
    result = answer(small_engine, "What did it replace?", history)
    data = result.to_json_dict()
    assert data["standalone_question"] == result.standalone_question != ""
    assert data["question"] == "What did it replace?"


def test_extractive_shortlist_ranks_every_sentence_by_the_index_vectors(small_engine):
    """Candidates from an indexed passage take the index's own sentence vectors (no embedding at question time), so
    sentences beyond the first few by word overlap can still be read; a candidate the index lacks is embedded now."""

    from rag.extractive import quotable_sentences, stored_vectors

    hits = small_engine.search("When was the Turksib railway finished?", k=2)
    candidates = quotable_sentences(hits)
    stored = stored_vectors(small_engine.index, candidates, hits)
    assert stored is not None and len(stored) == len(candidates)
    checked = 0
    for candidate, vector in zip(candidates, stored):
        p = hits[candidate.passage - 1].passage
        own = [s for s in small_engine.index.sentences_in(p.doc.file, p.start, p.end) if s.text.strip() == candidate.text]
        if own:  # a candidate that is one whole sentence carries exactly that sentence's vector
            assert np.allclose(vector, own[0].vector / np.linalg.norm(own[0].vector), atol=1e-5)
            checked += 1
    assert checked > 0
    assert stored_vectors(None, candidates, hits) is None  # no index: embed as before


def test_two_quotations_never_share_a_sentence():
    """A short sentence is quoted with the next one, so two candidates can overlap by a sentence: the second is a
    repeat however different the rest of it is."""

    from rag.extractive import _repeats

    first = "What is interesting is how varied the perceptions were. These ran from demands for more rights to recentralization."
    overlapping = "These ran from demands for more rights to recentralization. Complaints were many and loud in every region."
    other = "Something else entirely was said about grain procurement in the autumn of that year."
    unrelated_vectors = np.eye(3)
    assert _repeats([first, overlapping, other], unrelated_vectors, 1, [0])
    assert not _repeats([first, overlapping, other], unrelated_vectors, 2, [0])


@pytest.mark.parametrize("mode", ["read", "fast"])
def test_a_figure_given_for_another_year_does_not_answer(small_engine, mode):
    """Asked for the 1930 pig iron target, the answer quotes it; asked for 1932's, the same sentence is a near miss:
    the documents give no figure for that year, and the answer says so instead of quoting 1930's."""
    settings = small_engine.settings.model_copy(deep=True)
    settings.answer.mode = mode
    asked = answer(small_engine, "How many tons of pig iron did the targets call for in 1930?", settings=settings)
    assert not asked.abstained and any("seventeen million tons" in q.text for q in asked.quotes)
    near_miss = answer(small_engine, "How many tons of pig iron did the targets call for in 1932?", settings=settings)
    assert near_miss.abstained and not near_miss.quotes
    assert "Closest material" in near_miss.text


def test_quotations_are_introduced_by_their_authors_in_the_right_number():
    from rag.extractive import compose
    from rag.types import DocumentInfo, Passage, ScoredPassage

    def passage(file: str, author: str) -> ScoredPassage:
        doc = DocumentInfo(doc_id=file, file=file, title="A work", author=author, year=1993)
        return ScoredPassage(passage=Passage(passage_id=file, doc=doc, start=0, end=10, line_start=1, line_end=1,
                                             text="Some text."), score=1.0)

    two, one = passage("a.txt", "Lewis Siegelbaum and Ronald Grigor Suny"), passage("b.txt", "Charles Bettelheim")
    text = compose([(1, "First."), (1, "Second."), (2, "Third."), (1, "Fourth.")], [two, one]).text
    leads = [line.split(" {{")[0] for line in text.split("\n\n")]
    assert leads == ["According to Siegelbaum and Suny (1993):", "Siegelbaum and Suny also write:", "Bettelheim (1993) writes:",
                     "Siegelbaum and Suny (1993) write:"]


def test_a_question_needs_the_date_or_the_year_it_asks_for_quoted():
    from rag.extractive import missing_details
    from rag.numbers import gives_a_share

    later = ["By 1850 some 6,000 miles of line were open."]
    assert missing_details("How many miles of railway were open in 1847?", later) == ["1847"]
    assert missing_details("What share of the land was farmed by tenants in the 1880s?", ["In 1884 a third was."]) == []
    assert missing_details("What price did beef fetch in the 1920s?", ["In 1914 beef fetched 6d a pound."]) == ["1920s"]
    assert missing_details("How much did the population fall between 1841 and 1851?",
                           ["The census of 1841 counted 8,175,124 people. Ten years later it found 6,552,385."]) == []
    assert missing_details("How much did the population fall between 1841 and 1851?", later) == ["1841 or 1851"]
    assert missing_details("Why did the railway boom end in 1847?", later) == []  # not a figure: context may date it
    assert missing_details("When was the line opened, and who built it?", ["The line was built by a Scottish firm."]) == ["a date"]
    assert missing_details("Who built the line, and when was it opened?", ["The line was built by a Scottish firm."]) == ["a date"]
    assert missing_details("When was the line opened in 1850?", ["The line was opened in 1850."]) == ["a date"]
    assert missing_details("When was the line opened?", ["The line was opened in May, after two years of work."]) == []
    assert missing_details("How much did the line cost?", ["The line cost a great deal."]) == ["a figure", "a sum of money"]
    assert missing_details("How much did the line cost?", ["The line carried 1,200 passengers a day."]) == ["a sum of money"]
    assert missing_details("What wage did a navvy earn in 1846?", ["In 1846 a navvy earned 3s 6d a day."]) == []
    assert missing_details("What did the line cost to build?", ["It took 1,200 men four years."]) == ["a sum of money"]
    assert missing_details("What did the famine cost Ireland?", ["A million people died."]) == []  # lives, not money
    assert missing_details("What share of the capital came from Leeds?", ["Leeds investors put in 2,000 shares."]) == ["a share"]
    assert missing_details("What share of the capital came from Leeds?", ["Leeds put up a third of it."]) == []
    assert missing_details("What share of the capital came from Leeds?", ["Leeds put up nine-tenths of it."]) == []
    assert missing_details("What share of the capital came from Leeds?", ["Its percentage rose from 3.9 to 7.6."]) == []
    assert missing_details("What share of the capital came from Leeds?", ["Leeds put up a sixth of it."]) == []
    assert not gives_a_share("Three outbreaks per century.") and gives_a_share("Its percentage fell.")
    # a share is a fraction of something: a part of a period, an ordinal or a quantity is none
    for no_share in ("In the first half of 1846 Leeds put up more.", "The third call came from Leeds.",
                     "Leeds put up half a million.", "Leeds put up more for six quarters."):
        assert missing_details("What share of the capital came from Leeds?", [no_share]) == ["a share"], no_share
    assert missing_details("At what rate of interest did the state borrow in 1854?", ["It borrowed in 1854."]) == \
        ["a figure", "a share"]  # the year is the question's own, whatever punctuation follows it
    assert missing_details("How much did the line cost?", ["The line cost two million roubles."]) == []
    # "how many yen" asks for a sum, and a sum is a figure with its currency, not a currency named beside another figure
    fixed = ["The tax was fixed in yen, and its burden fell by about half in the years around 1880."]
    assert missing_details("How many yen did the land tax bring in during 1880?", fixed) == ["a sum of money"]
    assert missing_details("How many yen did the land tax bring in during 1880?", ["In 1880 it brought in 42 million yen."]) == []
    assert missing_details("How many gold marks did Germany pay?", ["Germany paid some 8 billion gold marks."]) == []
    assert missing_details("What price did nutmeg fetch?", ["It fetched a high price per pound, 60 a bale."]) == ["a sum of money"]
    assert missing_details("How many yen did the tax bring in during 1880?", ["In 1880 the yen value of it fell by half."]) \
        == ["a sum of money"]  # a year that dates something, or a share, is no sum
    for sum_written in ("132 billion pre-war gold marks", "100 million U.S. dollars", "rupees 2,000", "9½d a pound"):
        assert missing_details("What wage did a navvy earn in 1846?", [f"In 1846 it was {sum_written}."]) == [], sum_written
    assert missing_details("What fare did third-class passengers pay?", ["They paid a penny a mile."]) == []
    assert missing_details("How many pounds of cotton came in 1846?", ["In 1846 some 400 million lb came."]) == []  # a weight
    assert missing_details("How many of the 12 engines failed?", ["Of the 12 engines, most failed."]) == ["a figure"]
    # a span of time counts time, not the engines asked for
    assert missing_details("How many engines failed?", ["Two decades later, engines still failed."]) == ["a figure"]
    assert missing_details("How many decades did the engines run?", ["They ran for two decades."]) == []
    # a note number glued to a word, or the day of a date, is not the count asked for
    assert missing_details("How many engineers stood trial at Shakhty?", ["The trial at Shakhty10 began it."]) == ["a figure"]
    assert missing_details("How many were convicted under the June 1940 decree?", ["A decree of June 26, 1940 was passed."]) \
        == ["a figure"]
    assert missing_details("How many were convicted under the June 1940 decree?", ["By 26 June 1940, 30,000 were."]) == []
    # nor is a year, a note's number or a part's: they date or name what they stand by, they count nothing
    assert missing_details("How many workers were convicted under the decree?",
                           ["It broke the 1936 Constitution (modified only in 1947)."]) == ["a figure"]
    assert missing_details("How many workers were convicted under the decree?", ["Article 4 of the decree forbade it."]) \
        == ["a figure"]
    assert missing_details("How many scholars took part?", ["Historians met in Ann Arbor.<sup>29</sup>"]) == ["a figure"]
    assert missing_details("How many tractors were built?", ["In 1932 some 50,000 tractors were built.<sup>3</sup>"]) == []
    assert missing_details("How many years did the first plan run?", ["It ran from 1928 to 1932."]) == []
    assert missing_details("How many workers were convicted?", ["Article 58-10 of the code, of June 26., 1940, applied."]) \
        == ["a figure"]
    assert missing_details("How many scholars took part?", ["Historians met in Ann Arbor.<SUP>29, 30</SUP>"]) == ["a figure"]
    # ...but a number of that size that counts something does, and so does a label's word in lower case
    assert missing_details("How many delegates attended?", ["Some 1500 delegates attended the congress."]) == []
    assert missing_details("How much did it cost?", ["It cost 1500 roubles in 1930."]) == []
    assert missing_details("How long was the new line?", ["A section 40 miles long was opened."]) == []
    assert missing_details("How many miles of line were opened?", ["A section 40 miles long was opened."]) == []
    # any count written in words, the teens too
    for count in ("Fourteen", "Seventeen", "Dozens of"):
        assert missing_details("How many delegates abstained?", [f"{count} delegates abstained."]) == [], count
    assert missing_details("How much did the line cost?", ["The line cost eighteen roubles."]) == []
    # a duration counts time, not what the question counts; a question about time is answered by one
    assert missing_details("How many delegates attended the congress of January 1925?",
                           ["Nine months after the party congress, in January 1925, Zinoviev spoke at it."]) == ["a figure"]
    assert missing_details("How many were convicted under the decree?", ["It kept the seven-day week (six full-time days)."]) \
        == ["a figure"]
    assert missing_details("How many were convicted in its first two years?", ["In two years, 30,000 were convicted."]) == []
    assert missing_details("How many years did the first plan run?", ["The first plan ran for four years."]) == []
    assert missing_details("How much notice did a worker have to give?", ["It imposed a one-month notice."]) == []
    # how large, big or high something was is a magnitude, asked for as much as "how much"
    assert missing_details("How large were the gold reserves in 1934?", ["In 1934 the gold reserves were to grow."]) \
        == ["a figure"]
    assert missing_details("How high did the tax rise?", ["The tax rose to 3 per cent of the land's value."]) == []
    assert missing_details("How big was the army?", ["The army was the state's largest employer."]) == ["a figure"]
    assert missing_details("How large a role did the army play?", ["The army was the state's largest employer."]) == []
    assert missing_details("On what exact date did Dzerzhinsky die?", ["He died soon after his speech."]) == ["a date"]
    assert missing_details("On what date did Dzerzhinsky die?", ["He died on July 20, 1926."]) == []
    assert missing_details("When and where did Hudson die?", ["He died in London."]) == ["a date"]
    assert missing_details("Where and when did Hudson die?", ["He died in London in 1871."]) == []


def test_a_markdown_sentence_with_bold_words_answers_and_is_quoted_verbatim(tmp_path):
    """"The chief engineer, **Boris Steelman**, reported ..." answers who the chief engineer was: it is quoted, with its
    asterisks, at its place in the file, and its quotation verifies."""
    from rag.api import Engine
    from rag.ingest import ingest
    from rag.quotes import verify_quote
    from rag.settings import Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    text = ("---\ntitle: Notes on the Kuznetsk Steel Works\nauthor: Oleg Markdown\n---\n\n# Kuznetsk Steel Works\n\n"
            "The Kuznetsk steel works fired its first blast furnace in April 1932. The chief engineer, **Boris Steelman**, "
            "reported that the furnace produced 900 tonnes of pig iron in its first month.\n\n## Labour\n\n"
            "Around 20,000 workers were employed at the site in 1933, many of them former peasants from the Altai.\n")
    (folder / "notes.md").write_text(text, encoding="utf-8")
    (folder / "salt.txt").write_text("The Salt Cooperatives of Arkhangelsk\n\nIn 1926 the Arkhangelsk salt cooperative "
                                     "produced 3,400 tonnes of salt. The cooperative's chairman, Pavel Lebedev, argued that "
                                     "salt prices should be fixed by the district soviet.\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index")
    ingest([folder], settings, tmp_path / "index")
    engine = Engine(settings)
    result = answer(engine, "Who was the chief engineer of the Kuznetsk steel works?")
    assert not result.abstained and result.quotes
    quote = result.quotes[0]
    assert quote.doc == "notes.md" and "The chief engineer, **Boris Steelman**, reported" in quote.text
    assert text[quote.start : quote.end] == quote.text
    assert verify_quote(engine.index, "notes.md", quote.text, allow_repair=False) is not None
