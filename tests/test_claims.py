"""Claim verification on the bundled corpus, with the real embedding model and index.

The claims here are written for these tests (not taken from the dev set). The LLM path is checked
with LangChain's fake chat model, whose replies are queued by each test.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.claims import gather, verify_claim
from rag.claims_llm import parse_reply
from rag.cli import main
from rag.errors import BadInput, GeneratorError
from rag.settings import AnswerSettings
from rag.text import normalize

SOURCE = "In July of 1932, the Politburo ordered a special commission to consider reducing the investment budget."
PARAPHRASE = (
    "Gregory writes that in July 1932 the Politburo told a special commission to look into cutting the investment budget."
)
WRONG_YEAR = (
    "Gregory writes that in July 1936 the Politburo told a special commission to look into cutting the investment budget."
)
WRONG_NUMBER = "According to Gregory, the Gosplan chairman proposed cutting planned investment by 25 percent."
OFF_TOPIC = "The Apollo 11 mission landed two astronauts on the Moon in July 1969."


def assert_verbatim(engine, result):
    """Every quotation occurs in its document, at the offsets it gives."""
    for q in result.quotes:
        document = engine.index.document_text(q.doc)
        assert normalize(document[q.start : q.end]) == normalize(q.text)
        assert normalize(q.text) in normalize(document)


def test_paraphrase_of_a_source_sentence_is_supported(corpus_engine):
    result = verify_claim(corpus_engine, PARAPHRASE)
    assert result.verdict == "supported", result.reason
    assert any(SOURCE in q.text for q in result.quotes)
    assert not result.conflicts
    assert_verbatim(corpus_engine, result)


def test_changed_year_is_refuted_with_the_conflicting_spans(corpus_engine):
    result = verify_claim(corpus_engine, WRONG_YEAR)
    assert result.verdict == "refuted", result.reason
    assert any("1936" in c.claim_span and "1932" in c.source_span for c in result.conflicts)
    assert any(SOURCE in q.text for q in result.quotes)
    assert_verbatim(corpus_engine, result)


def test_changed_percentage_is_refuted(corpus_engine):
    result = verify_claim(corpus_engine, WRONG_NUMBER)
    assert result.verdict == "refuted", result.reason
    assert any("25" in c.claim_span and "10 percent" in c.source_span for c in result.conflicts)
    assert_verbatim(corpus_engine, result)


def test_claim_naming_the_works_subject_is_supported_by_a_sentence_that_takes_it_for_granted(corpus_engine, capsys,
                                                                                              monkeypatch):
    """Ha's sentence says "the original proposal ... was finally adopted by the supreme Soviet in May" in an article
    titled "... the Sovnarkhoz Reform ...": the title supplies what the sentence takes for granted. (Whether the
    sentence before it, with a footnote marker, is quoted too depends on the CPU's int8 arithmetic: either is right.)"""
    claim = "The sovnarkhoz reform was adopted in 1957."
    result = verify_claim(corpus_engine, claim)
    assert result.verdict == "supported", (result.reason, result.scores)
    assert any("finally adopted by the supreme Soviet" in q.text for q in result.quotes)
    assert_verbatim(corpus_engine, result)
    monkeypatch.setattr("rag.cli.verify_commands.Engine", lambda settings: corpus_engine)
    assert main(["verify", claim]) == 0
    shown = capsys.readouterr().out
    assert "finally adopted by the supreme Soviet" in " ".join(shown.split()) and "<sup>" not in shown


def test_off_topic_claim_is_not_in_corpus_without_quotes(corpus_engine):
    result = verify_claim(corpus_engine, OFF_TOPIC)
    assert result.verdict == "not_in_corpus"
    assert result.quotes == [] and result.conflicts == []


def test_empty_claim_is_a_clear_error(corpus_engine, capsys, monkeypatch):
    with pytest.raises(BadInput, match="claim is empty"):
        verify_claim(corpus_engine, "   \n ")
    monkeypatch.setattr("rag.cli.verify_commands.Engine", lambda settings: corpus_engine)
    assert main(["verify", " "]) == 1
    assert capsys.readouterr().err.strip() == "error: the claim is empty; type a statement to check against the documents"


def refuting_model(monkeypatch):
    """A stand-in decision model that always says refuted (for tests of what is shown, not of the model)."""
    from rag import claims

    stub = {"coef": [[0.0] * len(claims.DECISION_FEATURES)] * 3, "intercept": [0.0, 2.0, 0.0], "support_min": 0.5}
    monkeypatch.setattr(claims, "claim_model", lambda: stub)


def test_cli_json_shape(corpus_engine, capsys, monkeypatch):
    refuting_model(monkeypatch)
    monkeypatch.setattr("rag.cli.verify_commands.Engine", lambda settings: corpus_engine)
    assert main(["verify", WRONG_YEAR, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"verdict", "quotes", "reason", "conflicts"}
    assert data["verdict"] == "refuted"
    assert all(set(q) == {"doc", "text", "start", "end", "citation"} for q in data["quotes"])
    assert all(set(c) == {"claim_span", "source_span"} for c in data["conflicts"])


def test_cli_text_shows_conflicts_side_by_side(corpus_engine, capsys, monkeypatch):
    refuting_model(monkeypatch)
    monkeypatch.setattr("rag.cli.verify_commands.Engine", lambda settings: corpus_engine)
    assert main(["verify", WRONG_YEAR]) == 0
    out = capsys.readouterr().out
    assert out.startswith("verdict: REFUTED")
    row = next(line for line in out.splitlines() if "1936" in line and "|" in line)
    assert "1936" in row.split("|")[0] and "1932" in row.split("|")[1]


def test_cli_eval_writes_one_line_per_claim(corpus_engine, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("rag.cli.verify_commands.Engine", lambda settings: corpus_engine)
    eval_file, out = tmp_path / "eval.jsonl", tmp_path / "verdicts.jsonl"
    items = [
        {"id": "c1", "type": "claim", "claim": PARAPHRASE, "label": "supported", "evidence": []},
        {"id": "q1", "type": "question", "question": "Who headed Gosplan?", "evidence": []},
        {"id": "c2", "type": "claim", "claim": OFF_TOPIC, "label": "not_in_corpus", "evidence": []},
        {"id": "c3", "type": "claim", "claim": "When was Gosplan set up?", "label": "not_in_corpus", "evidence": []},
    ]
    eval_file.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    assert main(["verify", "--eval", str(eval_file), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["c1", "c2", "c3"]  # an item that is no claim costs no other its verdict
    assert all(set(line) == {"id", "verdict", "quotes", "reason"} for line in lines)
    assert [line["verdict"] for line in lines] == [verify_claim(corpus_engine, PARAPHRASE).verdict, "not_in_corpus",
                                                   "not_in_corpus"]
    assert "is a question, not a claim" in lines[2]["reason"]
    assert main(["verify", "--eval", str(eval_file)]) == 1
    assert "--out" in capsys.readouterr().err


# ---------------------------------------------------------------- the LLM path, with a fake chat model


def passage_number(engine, claim: str, sentence: str) -> int:
    """The [Pn] under which the prompt shows the passage holding `sentence`."""
    _, passages, _ = gather(engine, claim)
    return next(n for n, sp in enumerate(passages, start=1) if sentence in sp.passage.text)


def test_llm_quotes_are_verified_and_invented_ones_dropped(corpus_engine):
    n = passage_number(corpus_engine, PARAPHRASE, SOURCE)
    reply = (
        f"VERDICT: supported\nREASON: the passage reports the July 1932 commission.\nQUOTES:\n"
        f'"{SOURCE}" [P{n}]\n"Stalin personally doubled the investment budget in July 1932." [P{n}]'
    )
    result = verify_claim(corpus_engine, PARAPHRASE, chat_model=FakeListChatModel(responses=[reply]))
    assert result.verdict == "supported"
    assert [q.text for q in result.quotes] == [SOURCE]
    assert result.dropped_quotes == 1
    assert result.reason == "the passage reports the July 1932 commission."
    assert_verbatim(corpus_engine, result)


def test_llm_verdict_without_a_verifiable_quote_becomes_not_in_corpus(corpus_engine):
    reply = 'VERDICT: supported\nREASON: yes.\nQUOTES:\n"The Politburo met every Tuesday in the Kremlin library." [P1]'
    result = verify_claim(corpus_engine, PARAPHRASE, chat_model=FakeListChatModel(responses=[reply]))
    assert result.verdict == "not_in_corpus"
    assert result.quotes == [] and result.dropped_quotes == 1


def test_llm_refuted_keeps_conflicts_found_in_its_quotes(corpus_engine):
    n = passage_number(corpus_engine, WRONG_YEAR, SOURCE)
    reply = (
        f'VERDICT: refuted\nREASON: the commission was set up in 1932.\nQUOTES:\n"{SOURCE}" [P{n}]\n'
        'CONFLICT: "July 1936" <> "July of 1932"\nCONFLICT: "in 1936" <> "in the spring of 1931"'
    )
    result = verify_claim(corpus_engine, WRONG_YEAR, chat_model=FakeListChatModel(responses=[reply]))
    assert result.verdict == "refuted"
    assert [(c.claim_span, c.source_span) for c in result.conflicts] == [("July 1936", "July of 1932")]


def test_unreadable_llm_reply_falls_back_to_the_extractive_verdict(corpus_engine, monkeypatch):
    refuting_model(monkeypatch)
    extractive = verify_claim(corpus_engine, WRONG_YEAR)
    result = verify_claim(corpus_engine, WRONG_YEAR, chat_model=FakeListChatModel(responses=["I think it is probably fine."]))
    assert result.verdict == extractive.verdict == "refuted"
    assert result.quotes == extractive.quotes
    assert "could not be read" in result.reason


def test_unreachable_llm_server_is_a_generator_error_naming_it(corpus_engine):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    settings = corpus_engine.settings.model_copy(
        update={"answer": AnswerSettings(generator="openai", openai_base_url=f"http://127.0.0.1:{port}/v1", timeout_s=10)})
    with pytest.raises(GeneratorError, match=rf"127\.0\.0\.1:{port}.*check that the server is running"):
        verify_claim(corpus_engine, "The reform was adopted by the Supreme Soviet in May 1957.", settings)


def test_parse_reply_formats():
    verdict, reason, quotes, conflicts = parse_reply(
        '**Verdict:** Not in corpus\nReason: nothing on this.\n"some words quoted here" [P3]'
    )
    assert (verdict, reason, quotes, conflicts) == ("not_in_corpus", "nothing on this.", [("some words quoted here", 3)], [])
    assert parse_reply("The claim looks right to me.") is None


def test_supported_quotes_the_closest_sentence_alone_not_its_diluted_pair(small_engine, monkeypatch):
    """When the model says supported, the quotation is the closest unit without a conflict: here the matching
    sentence alone, though the unit pairing it with the next sentence is aligned better."""
    from rag import claims

    stub = {"coef": [[0.0] * len(claims.DECISION_FEATURES)] * 3, "intercept": [2.0, 0.0, 0.0], "support_min": 0.5}
    monkeypatch.setattr(claims, "claim_model", lambda: stub)
    passages = small_engine.search("State Planning Commission created", k=1)
    first = "The State Planning Commission was created in February 1921."
    second = "It replaced an earlier commission for\nelectrification and at first had only advisory powers."
    pair = claims.Unit(1, f"{first} {second}", passages[0].passage.text, cosine=0.70, coverage=1.0)
    alone = claims.Unit(1, first, passages[0].passage.text, cosine=0.75, coverage=0.8)
    result = claims.judge_extractive(small_engine, "The State Planning Commission was set up in February 1921.", passages, [pair, alone])
    assert result.verdict == "supported"
    assert [q.text for q in result.quotes] == [first]


def test_a_sentence_saying_the_same_but_for_one_reversed_point_refutes(small_engine, monkeypatch):
    """When the model finds a sentence that says what the claim says, and that sentence differs from it on one typed
    point (here the month), the claim is refuted, with the two spans side by side, not left "not in the documents"."""
    from rag import claims

    stub = {"coef": [[0.0] * len(claims.DECISION_FEATURES)] * 3, "intercept": [2.0, 0.0, 0.0], "support_min": 0.5}
    monkeypatch.setattr(claims, "claim_model", lambda: stub)
    passages = small_engine.search("State Planning Commission created", k=1)
    source = "The State Planning Commission was created in February 1921."
    unit = claims.Unit(1, source, passages[0].passage.text, cosine=0.75, coverage=0.8)
    result = claims.judge_extractive(small_engine, "The State Planning Commission was set up in March 1921.", passages, [unit])
    assert result.verdict == "refuted", result.reason
    assert [q.text for q in result.quotes] == [source]
    assert [(c.claim_span, c.source_span) for c in result.conflicts] == [("set up in March 1921.", "was created in February 1921.")]


# ---------------------------------------------------------------- the fitted decision model, on tests/data


def test_claim_model_was_fitted_on_the_current_training_claims():
    """rag/claim_model.json comes from training/fit_claims.py on today's training/train files and features."""
    import json

    from rag.claims import DECISION_FEATURES, MODEL_FILE
    from training.fit_claims import fit_inputs

    model = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert model["inputs"] == fit_inputs(), "training files changed: run training/fit_claims.py"
    assert tuple(model["features"]) == DECISION_FEATURES
    assert 0.0 < model["support_min"] < 1.0


def test_support_floor_keeps_false_supported_within_the_allowed_share():
    import numpy as np

    from training.fit_claims import MAX_WRONG_SUPPORT, support_threshold, verdicts

    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], size=60)
    y = rng.integers(0, 3, size=60)
    floor = support_threshold(p, y)
    assert np.mean(verdicts(p, floor)[y != 0] == 0) <= MAX_WRONG_SUPPORT


@pytest.mark.parametrize("claim, verdict", [
    ("Bread rationing was brought in for the cities in 1929.", "supported"),
    ("In 1930 the targets for pig iron were lowered from seventeen to ten million tons.", "refuted"),
    ("The Apollo 11 mission landed two astronauts on the Moon in July 1969.", "not_in_corpus"),
])
def test_fitted_verdicts_on_the_test_documents(small_engine, claim, verdict):
    """A paraphrase supported, a reversal refuted, an unrelated claim not in the documents."""
    result = verify_claim(small_engine, claim)
    assert result.verdict == verdict, (result.reason, result.scores)
    assert bool(result.quotes) == (verdict != "not_in_corpus")
    assert_verbatim(small_engine, result)


def test_a_negation_reaches_past_an_aside():
    """"without, apparently, causing X" negates X: the aside between commas after the cue does not end its scope, and the
    span shown keeps the source's words in order."""
    from rag.conflicts import negated_terms

    terms, span = negated_terms("They did develop in 1929, but without, apparently, causing a real reduction in staff.")
    assert {"reduct", "staff"} <= terms and span == "without apparently causing a real reduction in"
    assert negated_terms("It was not so much reformed as abolished.")[0] == {"reform"}


def test_negations_of_other_forms_and_a_not_until_that_asserts():
    """"in place of X" and "too weak to X" deny X; "not finished until 1881" says it was finished, in 1881."""
    from rag.conflicts import negated_terms

    assert negated_terms("Fichas were handed to workers in place of cash.") == ({"cash"}, "in place of cash")
    assert negated_terms("Governments were too weak to impose the taxes.") == ({"impos", "tax"}, "too weak to impose the taxes")
    assert negated_terms("The valuation was not finished until some five years later.") == (set(), "")


def test_two_negations_that_cancel_assert():
    """"not without opposition from the board" says the board opposed, "did not shrink from destroying stocks" that
    they were destroyed: no negation, so no conflict with a claim that asserts it; "without opposition" still negates."""
    from rag.conflicts import negated_terms

    assert negated_terms("He insisted, not without opposition from the board, on higher standards.") == (set(), "")
    assert negated_terms("The directors did not shrink from destroying surplus stocks.") == (set(), "")
    assert negated_terms("He insisted without opposition from the board.")[0] == {"opposit", "board"}
    assert negated_terms("The directors did not, in the end, shrink from destroying stocks.") == (set(), "")
    assert {"fail", "harvest"} <= negated_terms("There were no failed harvests in 1932.")[0]
    assert negated_terms("He was not without friends and not rich.")[0] == {"rich"}


def test_a_section_heading_says_where_a_sentence_is_not_what_it_says():
    """A sentence under "Peel and the Indian corn" on the Corn Laws does not cover a claim's "Indian corn" by its
    heading's words; the work's title still counts (what the whole text is about). The heading still says what "the
    reform" is, so a claim that names it is not taken to name another ("the Supreme Soviet")."""
    from rag.claims import Unit, pair_features
    from rag.conflicts import content_stems, typed_conflicts

    sentence = "Peel used the emergency to argue for the repeal of the Corn Laws, the duties on imported grain."
    unit = Unit(1, sentence, sentence, title="Relief Policy in the Irish Famine", section="Peel and the Indian corn")
    claim = "Peel's Indian corn for the Irish was shipped from New Orleans."
    coverage = pair_features(claim, unit, content_stems(claim))[0]
    assert coverage == len({"peel", "corn", "irish"}) / len(content_stems(claim))

    source = "The reform was adopted by the Supreme Soviet in May."
    unit = Unit(1, source, source, title="The CPSU and its regions", section="The Sovnarkhoz reform")
    claim = "The Sovnarkhoz reform was adopted in May."
    kinds = [kind for kind, _ in typed_conflicts(claim, source, source, content_stems(claim), unit.context)]
    assert "name" not in kinds
    assert "name" in [kind for kind, _ in typed_conflicts(claim, source, source, content_stems(claim), unit.title)]


def test_a_heading_or_a_broken_off_fragment_is_no_evidence(small_engine):
    """A heading ("The malikâne reform of 1695") or a sentence cut off by the page asserts nothing, so neither can
    support a claim by itself; a sentence ending in a note marker, plain or HTML, is whole."""
    from rag.claims import evidence_units

    hit = small_engine.search("State Planning Commission", k=1)[0]
    created = "The State Planning Commission was created in February 1921 to replace the earlier planning bodies.4"
    staffed = "By the end of 1928 the State Planning Commission had a staff of about five hundred.<sup>15</sup>"
    text = f"The State Planning Commission of 1921\n\n{created}\n\n{staffed}\n\nIts staff had grown by the end of the year to"
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": text})})
    assert [u.text for u in evidence_units([passage])] == [created, staffed]


def test_a_rounded_number_is_the_same_number():
    """"almost 34 million" paraphrases "33.9 million": no conflict; 34 against 33, or a year against another, is one."""
    from rag.conflicts import typed_conflicts

    source = "The number of wage-earners grew almost threefold, from 11.4 to 33.9 million."
    assert typed_conflicts("Wage-earners reached almost 34 million.", source, source, {"wage", "earner"}) == []
    assert [kind for kind, _ in typed_conflicts("Wage-earners reached 33 million.", source, source, {"wage", "earner"})] \
        == ["number"]


def test_a_round_whole_number_and_a_fraction_are_the_numbers_they_stand_for():
    """"roughly 534,000" rounds "533,950", "about three-quarters" is 75 per cent and "half of" 50; "20,000" does not
    round "15,000", one year is not another, and "the first half of 1930" is a period, not a share."""
    from rag.conflicts import typed_conflicts
    from rag.numbers import numbers_of

    source = "Of some 533,950 operatives, about three-quarters were out of work."
    assert typed_conflicts("Roughly 534,000 operatives; some 75 per cent were out of work.", source, source, {"operat"}) == []
    found = typed_conflicts("Of 20,000 operatives, half were out of work.", source, source, {"operat"})
    assert [kind for kind, _ in found] == ["number", "number"]
    assert "20,000" in found[0][1].claim_span and "half were" in found[1][1].claim_span
    assert "three-quarters" in found[1][1].source_span
    assert numbers_of("In the first half of 1930 two-thirds of the mills, and a third of the looms, stood idle.") == \
        ["1930", "66.7", "33.3"]
    assert numbers_of("Half a century later a quarter of an hour's pay bought a loaf.") == []
    assert typed_conflicts("The line opened in 1900.", "The line opened in 1859.", "The line opened in 1859.", {"line"})


def test_an_ordinal_or_a_quantity_is_no_share():
    """"Over half a billion" trees and "the third plan" are no 50 or 33.3 per cent: a claim saying "from 220 million to
    over half a billion" where the source says "to some 520 million" has no number the source contradicts. "Two-thirds
    of a country's exports" is still a share, and a changed share is shown where the claim gives it."""
    from rag.conflicts import typed_conflicts, words_around
    from rag.numbers import numbers_of

    source = "The number of coffee trees in the state rose from about 220 million in 1890 to some 520 million in 1900."
    claim = "The stock of coffee trees more than doubled in the 1890s, from 220 million to over half a billion."
    assert typed_conflicts(claim, source, source, {"coffe", "tree"}) == []
    assert numbers_of("The third Five-Year Plan, the fifth congress, a third of a ton and living quarters.") == []
    assert numbers_of("One and a half years, a half billion, a quarter century, the first two-thirds of it.") == []
    assert numbers_of("A third of the budget, one-fifth of the land, three quarters of the mills, two-thirds of a "
                      "country's exports and half of an estimated 10 million.") == ["10", "33.3", "20", "75", "66.7", "50"]
    assert numbers_of("Nine-tenths of the peasants and a tenth of the grain, at the tenth congress.") == ["90", "10"]
    assert numbers_of("Seven eighths of the mills stood idle for five quarters.") == ["87.5"]  # quarters of a year
    assert words_around("A third of the land was sown with wheat.", "33.3") == {"land", "sown", "wheat"}
    assert words_around("Two-thirds of the members were peasants.", "66.7") == {"member", "peasant"}
    assert numbers_of("Two and a third times, one and a quarter, half of one per cent, half-a-dozen, half a pound.") == []
    source = "Under the Third Plan defence took 40 per cent of the budget."
    [(kind, conflict)] = typed_conflicts("Under the third plan defence took a third of the budget.", source, source, {"plan"})
    assert kind == "number" and "took a third of the" in conflict.claim_span and "third plan" not in conflict.claim_span


def test_a_decade_gives_a_year_only_where_the_source_names_none_in_it():
    """A year within the decade a claim names gives it. A decade gives a claim's year where the source names no year in
    it ("the mid-1970s", "roughly 1975"), not where it names another ("the 1930s ... 1936" against "1933")."""
    from rag.claims import PAIR_FEATURES, Unit, pair_features
    from rag.conflicts import typed_conflicts

    def unseen_and_rival(claim: str, source: str) -> tuple[float, float]:
        features = pair_features(claim, Unit(number=1, text=source, paragraph=source), {"harvest", "advis", "steer"})
        return features[PAIR_FEATURES.index("number_unseen")], features[PAIR_FEATURES.index("number_rival")]

    source = "The harvest fell up to the middle of the 1930s. The worst harvest was that of 1936."
    stems = {"worst", "harvest"}
    assert typed_conflicts("The worst harvest of the 1930s was that of 1936.", source, source, stems) == []
    assert [kind for kind, _ in typed_conflicts("The worst harvest of the 1930s was that of 1933.", source, source, stems)] \
        == ["number"]
    assert unseen_and_rival("The worst harvest came in the 1930s.", "The worst harvest was that of 1936.") == (0.0, 0.0)
    decade_only = "Until the mid-1970s advisers steered students away from the Stalin era."
    claim = "Before roughly 1975 advisers steered students away from the Stalin era."
    assert unseen_and_rival(claim, decade_only) == (0.0, 0.0)
    with_a_year = "Until the mid-1970s, and in 1972 above all, advisers steered students away from the Stalin era."
    assert unseen_and_rival(claim, with_a_year) == (0.0, 1.0)


def test_a_number_the_paragraph_states_elsewhere_still_conflicts_where_the_sentence_gives_another_in_its_place():
    """The paragraph names 1936 (another event's year), but the sentence that says what the claim says dates the
    strike to 1937 in the same words: a changed date, not a date the source gives. A claim's number stated elsewhere
    in the paragraph, with no rival in the same words, is no conflict."""
    from rag.claims import PAIR_FEATURES, Unit, pair_features
    from rag.conflicts import content_stems, typed_conflicts

    paragraph = ("Short-time working was general in 1936. The second strike began in February 1937 at the Titaghur mills "
                 "and by late March about 225,000 workers were out.")
    sentence = paragraph.split(". ", 1)[1]
    claim = "The second strike began at the Titaghur mills in February 1936 and drew out about 225,000 workers."
    found = typed_conflicts(claim, sentence, paragraph, content_stems(claim))
    assert [(kind, "1936" in c.claim_span, "1937" in c.source_span) for kind, c in found] == [("number", True, True)]
    features = pair_features(claim, Unit(number=1, text=sentence, paragraph=paragraph), content_stems(claim))
    assert features[PAIR_FEATURES.index("number_swap")] == 1.0
    assert typed_conflicts("Short-time working was general in 1936.", sentence, paragraph, {"short", "time", "work"}) == []


def test_a_changed_date_of_a_statement_the_source_makes_word_for_word_refutes_it(corpus_engine):
    """Ha's sentence says the proposal "was finally adopted by the supreme Soviet in May" in 1957, and the article's title
    names the sovnarkhoz reform: a claim saying all that but 1935 is refuted, with the two years side by side, not left
    "not in the documents" for a year the source lacks."""
    result = verify_claim(corpus_engine, "The sovnarkhoz reform was adopted by the Supreme Soviet in May 1935.")
    assert result.verdict == "refuted", (result.reason, result.scores)
    assert any("1935" in c.claim_span and "1957" in c.source_span for c in result.conflicts)
    assert any("finally adopted by the supreme Soviet" in q.text for q in result.quotes)
    assert_verbatim(corpus_engine, result)


def test_only_a_sentence_stating_the_claim_but_one_number_refutes_it_on_that_number():
    """One year given otherwise in the same words, the rest of the claim stated: refuted. Two numbers changed (a share
    for another year: the source does not give that year's), a count the source lacks, or a name it does not use
    ("Dredging"), is no such reversal."""
    from rag.claims import Unit, number_changed_only

    source = Unit(number=1, text="Work began on the beach at the site of the future Port Said on 25 April 1859.")
    assert number_changed_only("Work on the beach began at the site of the future Port Said on 25 April 1861.", [source])
    assert number_changed_only("Work began on the beach at Port Said on 25 April 1859.", [source]) is None  # no change
    assert number_changed_only("Dredging began on the beach at the site of the future Port Said in April 1861.",
                               [source]) is None  # "dredging": not what the source says
    counted = Unit(number=1, text="The reform was adopted in May 1957 by the deputies, 12 of whom abstained.")
    assert number_changed_only("Some 300 deputies adopted the reform in May 1957.", [counted]) is None  # not counted there
    shares = Unit(number=1, text="Nitrate duties supplied about 5 per cent of ordinary government revenue in 1880.")
    assert number_changed_only("Nitrate duties supplied about 30 per cent of ordinary government revenue in 1920.",
                               [shares]) is None


def test_the_same_day_in_another_year_refutes_a_claim_however_it_is_worded():
    """A day's date marks its event: a claim dating the source's event to the same day of another year is refuted though
    it words the rest otherwise ("first carried traffic" for "was opened to traffic"), and the conflict shown is that
    day's year, not another year of the sentence. Another day is no such mark; nor is the same day of another event: a name or a count the source does not give, few of the claim's words, or a paragraph
    that gives the claim's own date too (an anniversary)."""
    from rag.claims import Unit, number_changed_only
    from rag.conflicts import content_stems, typed_conflicts
    from rag.numbers import same_day_other_years

    source = Unit(number=1, text="Begun in 1869, the bridge was opened to traffic on 24 May 1883, after fourteen years of "
                                 "work that cost some twenty lives.")
    claim = "The bridge first carried traffic on 24 May 1881, fourteen years after work on it started."
    assert same_day_other_years(claim, source.text, "1881") == ["1883"]
    assert same_day_other_years("It opened on May 24th, 1881.", source.text, "1881") == ["1883"]
    assert same_day_other_years("It opened on 23-24 May 1881.", source.text, "1881") == []  # a span of days
    assert same_day_other_years("It opened on 24 May 1881.", "On 24 May 2500 workers marched; it opened on 24 May 1883.",
                                "1881") == ["1883"]  # 2500 workers, not a year
    assert number_changed_only(claim, [source]) is source
    # without the day, another year in the same words: the claim's words around its year must all be the source's
    assert number_changed_only("The bridge was opened to traffic in May 1881, after fourteen years of work.",
                               [source]) is source
    assert number_changed_only("The bridge first carried traffic in May 1881, fourteen years after work on it started.",
                               [source]) is None
    kinds = typed_conflicts(claim, source.text, source.text, content_stems(claim))
    assert [(k, c.source_span) for k, c in kinds if k == "number"] == [("number", "on 24 May 1883, after fourteen years")]
    for other_event in ["The bridge first carried traffic on 25 May 1881, fourteen years after work on it started.",  # day
                        "The Brooklyn ferry first carried traffic on 24 May 1881.",  # a name
                        "Brooklyn's ferry first carried traffic on 24 May 1881.",  # a name, first
                        "Three hundred men opened the bridge to traffic on 24 May 1881.",  # a count in words
                        "The second bridge was opened to traffic on 24 May 1881.",  # an ordinal
                        "Its keeper was appointed on 24 May 1881."]:  # few of its words
        assert number_changed_only(other_event, [source]) is None, other_event
    marked = "The bridge was opened to traffic on 24 May 1883.<sup>13</sup>"
    kinds = typed_conflicts(claim, marked, marked, content_stems(claim))
    assert [c.source_span for k, c in kinds if k == "number"] == ["on 24 May 1883."]  # no note mark
    father = Unit(number=1, text="Stalin's father died in 1890 in Tiflis.")
    assert number_changed_only("Stalin's mother died in 1937 in Tiflis.", [father]) is None  # "mother" by the year
    assert number_changed_only("Shakespeare was born on 23 April 1564.",
                               [Unit(number=1, text="Shakespeare died at Stratford on 23 April 1616.")]) is None  # months aside
    same_year = Unit(number=1, text="In the same year the kolkhozes received their land in perpetual use, and in 1936 the new "
                                    "constitution confirmed that grant.",
                     paragraph="In 1935 the Supreme Soviet adopted the new kolkhoz statute. In the same year the kolkhozes "
                               "received their land in perpetual use, and in 1936 the new constitution confirmed that grant.")
    assert number_changed_only("The kolkhozes received their land in perpetual use in 1935.", [same_year]) is None
    opened = Unit(number=1, text="The bridge was opened to traffic on 24 May 1883.")
    assert number_changed_only("The bridge was planned on 24 May 1881 and opened to traffic on 24 May 1883.",
                               [opened]) is None  # the day's year the source gives is the claim's own
    paragraph = "The bridge was opened to traffic on 24 May 1883. Its builder died on 24 May 1888, five years to the day after."
    died = Unit(number=1, text="Its builder died on 24 May 1888, five years to the day after.", paragraph=paragraph)
    assert number_changed_only("The bridge was opened to traffic on 24 May 1883.", [died]) is None  # an anniversary


def test_a_claim_naming_the_works_author_as_its_actor_still_meets_the_name_the_source_gives():
    """The author's name says who writes, not who acted: a source naming another actor in the claim's words conflicts
    though the work is the claim's actor's memoir."""
    from rag.claims import Unit
    from rag.conflicts import content_stems, typed_conflicts

    claim = "At the Presidium meeting, Khrushchev proposed the arrest of Beria."
    unit = Unit(number=1, text="At the Presidium meeting, Malenkov proposed the arrest of Beria.", title="Memoirs",
                author="Nikita Khrushchev")
    kinds = typed_conflicts(claim, unit.text, unit.text, content_stems(claim), unit.context)
    assert "name" in [kind for kind, _ in kinds]


def test_a_name_is_used_where_its_parts_stand_together_and_an_ordinal_is_its_number():
    from rag.conflicts import unnamed
    from rag.numbers import numbers_of

    source = "Prussia concluded a treaty with Hesse-Darmstadt, and the yacht L'Aigle led the procession past Kassel."
    assert unnamed("Prussia's treaty with Hesse-Darmstadt came before L'Aigle's voyage.", source) == set()
    assert unnamed("Prussia's treaty with Hesse-Kassel came first.", source) == {"hesse-kassel"}
    assert unnamed("Baden joined the union.", source) == set()  # a first word may be no name...
    assert unnamed("Baden joined the union.", source, first_word=True) == {"baden"}  # ...or one
    assert numbers_of("on May 21st, 1881, in the 1920s") == ["21", "1881", "1920s"]


def test_a_number_in_the_same_words_is_found_past_the_function_words_around_it():
    """"the worst harvest was that of 1936" puts "worst" and "harvest" beside the year, as the claim's "worst grain
    harvest ... was that of 1933" does, though "was that of" stands between them."""
    from rag.conflicts import restated_otherwise

    claim = "The worst grain harvest of the decade was that of 1933."
    assert restated_otherwise(claim, "The worst harvest was that of 1936.", "1933") == ["1936"]
    assert restated_otherwise(claim, "Exports of timber rose in 1936.", "1933") == []


def test_a_view_or_account_attributed_is_left_out_of_what_is_checked():
    """"According to X," and "X writes that" are not what the sources must say, nor are "X's view is that", "In X's
    account," or "By X's reckoning": the claim is what the view holds."""
    from rag.claims import split_attribution

    names = {"Haworth", "Siegelbaum", "Suny"}
    assert split_attribution("Haworth's view is that a glut of cloth masqueraded as a shortage.", names) == \
        ("A glut of cloth masqueraded as a shortage.", ["Haworth"])
    assert split_attribution("By Haworth's reckoning only about 25,000 people left.", names)[0] == \
        "Only about 25,000 people left."
    assert split_attribution("In Haworth's 1962 account, the mills closed.", names)[0] == "The mills closed."
    assert split_attribution("Siegelbaum and Suny report Kuromiya's view that the campaign bound cadres.", names)[0] \
        == "The campaign bound cadres."
    assert split_attribution("In Haworth\u2019s view, the mills closed.", names)[0] == "The mills closed."
    # a view that is what the claim is about stays: the claim is that it was mistaken, or rejected
    for claim in ("Haworth's view that the mills closed is mistaken.",
                  "Britain's claim that the islands were hers was rejected in 1833.",
                  "Kirkcaldy's view that the Association kept prices high was rejected by Ghoshal."):
        assert split_attribution(claim, names)[0] == claim


def test_the_conflict_shown_is_the_number_given_in_the_same_words():
    """Of two years in the source sentence, the one in the claim's words is the rival shown, not the first."""
    from rag.conflicts import content_stems, typed_conflicts

    claim = "The Moscow committee purged its members in 1938."
    source = "In 1921 the party was reorganized, and the Moscow committee purged its members in 1937."
    found = typed_conflicts(claim, source, source, content_stems(claim))
    assert [(kind, "1938" in c.claim_span, "1937" in c.source_span) for kind, c in found] == [("number", True, True)]


def test_opposite_trends_conflict_only_where_the_source_states_one():
    """A claim that the burden rose conflicts with a source saying it fell; not with a source saying it rose in one
    region and fell in another, which does not say which trend the claim's terms took."""
    from rag.conflicts import content_stems, typed_conflicts

    claim = "The reform raised the tax burden of the peasants."
    terms = content_stems(claim)
    fell = "After the reform the tax burden of the peasants fell sharply."
    both = "The reform raised the tax burden of the peasants in the north-east and lowered their tax burden in the towns."
    assert [kind for kind, _ in typed_conflicts(claim, fell, fell, terms)] == ["direction"]
    assert typed_conflicts(claim, both, both, terms) == []


def test_another_name_in_the_source_is_a_conflict():
    """A claim naming a sultan of Tidore where the source's sentence names the sultan of Ternate does not say the same;
    a name the source's paragraph or its work's title holds is no conflict, nor is a source naming more than the claim."""
    from rag.conflicts import typed_conflicts

    source = "Under a treaty of 1652 the sultan of Ternate received 12,000 rix-dollars a year for the trees cut down."
    found = typed_conflicts("A treaty of 1652 paid the sultan of Tidore 12,000 rix-dollars a year.", source, source, set())
    assert [(kind, c.claim_span, c.source_span) for kind, c in found] == \
        [("name", "the sultan of Tidore 12,000 rix-dollars a", "the sultan of Ternate received 12,000 rix-dollars")]
    assert typed_conflicts("A treaty paid the sultan of Ternate a yearly sum.", source, source, set()) == []
    assert typed_conflicts("Ternate's sultan received 12,000 rix-dollars a year.", source, source, set()) == []
    assert typed_conflicts("A treaty paid the VOC's ally a yearly sum for the trees.", source, source, set()) == []
    assert typed_conflicts("The Company paid the sultan a yearly sum.", source, source, set(), "The Company in the Moluccas") == []


@pytest.fixture(scope="module")
def wordnet_reader():
    from rag.wordnet import wordnet

    reader = wordnet()
    if reader is None:
        pytest.skip("WordNet is not installed (make setup installs Debian's wordnet-base)")
    return reader


def test_another_name_for_the_same_body_or_a_place_within_it_is_no_conflict(wordnet_reader):
    """"The Quakers" are "the Society of Friends", "American" is of "the United States", and what was sold in London was
    sold in Britain (rag.wordnet); a place that is not another name nor within the claim's is still a conflict."""
    from rag.conflicts import typed_conflicts

    friends = "The Central Relief Committee of the Society of Friends opened its first soup kitchen at Cork in November 1846."
    assert typed_conflicts("The Quakers opened a soup kitchen at Cork in November 1846.", friends, friends, set()) == []
    maize = "Peel authorised the purchase of Indian corn from the United States, arranged in secret through Baring Brothers."
    assert typed_conflicts("Peel ordered the purchase of American maize in secret.", maize, maize, set()) == []
    london = "Frozen beef could be sold in London only at a discount of a fifth to a third against chilled."
    assert typed_conflicts("Frozen beef sold in Britain at a discount against chilled.", london, london, set()) == []
    found = typed_conflicts("Frozen beef sold in France at a discount against chilled.", london, london, set())
    assert [kind for kind, _ in found] == ["name"]


@pytest.mark.parametrize("trouble", ["not installed", "could not be read"])
def test_without_wordnet_names_are_taken_as_they_are(monkeypatch, caplog, tmp_path, trouble):
    """Without the WordNet package, or with a damaged copy of it in the cache, a warning says so and claim checks go on,
    taking a name the source does not use for a different one."""
    from rag import wordnet

    damaged = tmp_path / "nltk_data"
    (damaged / "corpora" / "wordnet").mkdir(parents=True)
    (damaged / "corpora" / "wordnet" / "lexnames").write_text("00\tadj.all\t3\n")  # and none of the database's files
    monkeypatch.setattr(wordnet, "_reader", wordnet._NOT_LOADED)
    monkeypatch.setattr(wordnet, "data_root", lambda: None if trouble == "not installed" else damaged)
    wordnet.names_for.cache_clear()
    try:
        assert wordnet.names_for("quakers") == frozenset()
        assert f"WordNet {'is ' if trouble == 'not installed' else ''}{trouble}" in caplog.text
    finally:
        wordnet.names_for.cache_clear()


def test_wordnet_folder_is_made_once_from_the_debian_files(tmp_path, monkeypatch, wordnet_reader):
    """nltk's folder is built from Debian's database with the `lexnames` list Debian leaves out, and kept."""
    from rag import wordnet

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = wordnet.data_root()
    folder = root / "corpora" / "wordnet"
    lines = (folder / "lexnames").read_text().splitlines()
    assert len(lines) == 45 and lines[3] == "03\tnoun.Tops\t1" and lines[-1] == "44\tadj.ppl\t3"
    assert all((folder / name).stat().st_size == (wordnet.DEBIAN_WORDNET / name).stat().st_size for name in wordnet.FILES)
    stamp = (folder / "lexnames").stat().st_mtime_ns
    assert wordnet.data_root() == root and (folder / "lexnames").stat().st_mtime_ns == stamp
    assert wordnet.data_root(tmp_path / "nowhere") is None
