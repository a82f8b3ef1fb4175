"""The answer chain (langchain-core runnables):
history + question -> standalone question -> retrieval -> generator draft -> quote verification -> Answer.

Every quotation in the final Answer has been found in the document it cites (rag.quotes); what
cannot be found is removed and the answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from rag.api import Engine
from rag.display import markdown_literal
from rag.errors import BadInput
from rag.extractive import ExtractiveGenerator, content_words
from rag.generation import Draft, Generator
from rag.quotes import verify_quote
from rag.retrieve import clean_question
from rag.settings import Settings
from rag.text import YEAR
from rag.types import Answer, Quote, ScoredPassage

History = list[tuple[str, str]]
ABSTAIN_TEXT = "The documents don't answer this question."
REMOVED_TEXT = "*[a quotation was removed: it could not be verified in the cited source]*"
CONTEXT_TURNS = 3  # most earlier questions a follow-up is read with
# A question that points back and names at most this many things of its own ("Who opposed them?", "How often did it
# meet?") has nothing else to search by: its subject is in the conversation, so it is read there without a contest.
OWN_WORDS_OF_A_FOLLOW_UP = 2
# What may point outside the question (English grammar, not a topic list): a sentence opening that
# continues the conversation, or a pronoun, demonstrative or pro-form standing for something named earlier.
_POINTS_BACK = re.compile(r"^\s*(and|but|so|also|or|then|what about|how about|what of|what else)\b"
                          r"|\b(it|its|they|them|their|theirs|this|that|these|those|he|she|him|his|her|hers|there|then)\b",
                          re.IGNORECASE)
# a year named relative to one the conversation named, and how far from it
_RELATIVE_YEAR = re.compile(r"\b(?:in )?(?:the (?:following|next|previous) year|the year (?:after|before)|a year (?:later|earlier)|"
                            r"that (?:same )?year|the same year)\b", re.IGNORECASE)
_QUOTED = re.compile(r"\u201c(.*?)\u201d \[\d+\]", re.DOTALL)  # a quotation in an answer's text, as verify_draft writes it


def make_generator(engine: Engine, settings: Settings) -> Generator:
    """The generator named by settings.answer.generator."""
    if settings.answer.generator == "extractive":
        reader = engine.reader if settings.answer.mode == "read" else None
        return ExtractiveGenerator(engine.embedder, settings.answer, engine.vocabulary, reader, engine.index)
    from rag.llm import make_generator as make_llm_generator

    return make_llm_generator(settings)


def as_history(turns) -> History:
    """A conversation as callers give it: [question, answer] pairs, or objects with "question" and "answer" (the
    JSON that /ask and `rag ask --json` return), oldest first. BadInput, saying which turn, for anything else."""
    if turns is None:
        return []
    if not isinstance(turns, (list, tuple)):
        raise BadInput("the history must be a list of [question, answer] pairs")
    history = []
    for n, turn in enumerate(turns, start=1):
        if isinstance(turn, dict):
            turn = (turn.get("question"), turn.get("answer", ""))
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise BadInput(f"turn {n} of the history is not a [question, answer] pair of texts")
        history.append((turn[0], turn[1]))
    return history


def may_need_context(question: str) -> bool:
    """True when a question might lean on the conversation: it opens as a continuation ("and why...?",
    "what about...?"), holds a pronoun or demonstrative or a year relative to another ("the following year"), or
    names nothing ("Why?"). False means it stands alone for certain and is searched as it is."""
    return bool(_POINTS_BACK.search(question) or _RELATIVE_YEAR.search(question)) or not content_words(question)


def conversation_context(history: History) -> str:
    """The earlier questions a follow-up continues: the last one, and before it those it itself leaned on."""
    asked: list[str] = []
    for question, _ in reversed(history[-CONTEXT_TURNS:]):
        asked.insert(0, " ".join(str(question).split()))
        if not may_need_context(question):
            break
    return " ".join(asked)


def with_years(question: str, context: str) -> str:
    """The question with a year it names relative to the conversation ("the following year", "that year") written as
    the year it means, counted from the last year the earlier questions named; as it is if they named none."""
    years = [year for year, decade in YEAR.findall(context) if not decade]
    if not years:
        return question

    def absolute(match: re.Match) -> str:
        words = match.group(0).lower()
        step = 1 if re.search(r"following|next|after|later", words) else -1 if re.search(r"previous|before|earlier", words) else 0
        return f"in {int(years[-1]) + step}"

    return _RELATIVE_YEAR.sub(absolute, question)


def resolve_question(engine: Engine, question: str, history: History | None, k: int,
                     scorer: ExtractiveGenerator | None = None, shown: int = 6) -> tuple[str, list[ScoredPassage]]:
    """The question as it is searched, and the k passages found for it.

    A question that may lean on the conversation (may_need_context) is searched after the earlier questions it
    may continue; if it names little of its own (OWN_WORDS_OF_A_FOLLOW_UP), that reading is the one. Otherwise it
    is also searched as it is, and the reading whose passages answer it better wins:
    the extractive evidence score (the one that decides abstention) of the best sentence among the
    first `shown` passages, each reading scored as it was searched. An independent question is
    answered best as itself (the earlier topic only dilutes it); a follow-up ("and why did they
    oppose it?") finds little on its own and much once its subject is back. A year it names relative to the
    conversation ("the following year") is written out first (with_years).
    """
    question = clean_question(question, 10_000)
    if not history or not may_need_context(question):
        return question, engine.search(question, k)
    context = conversation_context(history)
    question = with_years(question, context)
    joined = f"{context} {question}"
    together = engine.search(joined, k)
    if len(content_words(question)) <= OWN_WORDS_OF_A_FOLLOW_UP:
        return joined, together
    alone = engine.search(question, k)
    scorer = scorer or ExtractiveGenerator(engine.embedder, engine.settings.answer)
    # the fast mode's evidence scores: the reading model would double a follow-up's wait for the same contest
    if scorer.select(joined, together[:shown], reading=False)[1] > scorer.select(question, alone[:shown], reading=False)[1]:
        return joined, together
    return question, alone


def standalone_question(question: str, history: History | None, chat_model=None, engine: Engine | None = None) -> str:
    """The question rewritten to stand alone: by the LLM if there is one, else as resolve_question reads it
    against the engine's documents (without an engine: the question as it is)."""
    question = clean_question(question, 10_000)
    if not history:
        return question
    if chat_model is not None:
        from rag.llm import condense_question

        return condense_question(chat_model, history, question)
    if engine is None:
        return question
    return resolve_question(engine, question, history, engine.settings.retrieval.k)[0]


def retrieval_chain(engine: Engine, settings: Settings, generator: Generator | None = None):
    """The first steps as a runnable: {"question", "history"} -> the same plus "standalone" and "passages".
    With an LLM the LLM condenses a follow-up; without one, resolve_question reads it against the documents."""
    wanted = max(settings.answer.passages_in_prompt, settings.retrieval.k)
    chat_model = getattr(generator, "chat_model", None)
    scorer = generator if isinstance(generator, ExtractiveGenerator) else None

    n = settings.answer.passages_in_prompt

    def find(x: dict) -> dict:
        if chat_model is not None:
            standalone = standalone_question(x["question"], x.get("history"), chat_model)
            passages = engine.search(standalone, wanted)
            return {**x, "standalone": standalone, "passages": passages, "fresh": None}
        history = x.get("history") or []
        standalone, passages = resolve_question(engine, x["question"], history, wanted, scorer, n)
        follows = standalone != clean_question(x["question"], 10_000)
        return {**x, "standalone": standalone, "passages": passages,
                "fresh": without_quoted(passages[:n], history) if follows else None}

    return RunnableLambda(find)


def without_quoted(passages: list[ScoredPassage], history: History) -> list[ScoredPassage]:
    """The passages with the sentences the conversation has already quoted blanked out, for drafting a
    follow-up: it should bring what the earlier answers have not shown (verification still reads the documents)."""
    quoted = [q for _, said in history[-CONTEXT_TURNS:] for q in _QUOTED.findall(str(said))]
    if not quoted:
        return passages
    blanked = []
    for sp in passages:
        text = sp.passage.text
        for q in quoted:
            text = text.replace(q, "\n\n")  # a paragraph break: no quotation is drafted across the gap
        blanked.append(sp if text == sp.passage.text else sp.model_copy(update={"passage": sp.passage.model_copy(update={"text": text})}))
    return blanked


def drafts(generator: Generator, found: dict, shown: int) -> Iterator[str | Draft]:
    """The generator's tokens and Draft for what retrieval found. A follow-up is drafted first from the passages
    without the conversation's earlier quotations ("fresh"), and again from all of them if that finds nothing."""
    draft, generator = None, _drafter(generator, found)
    for passages in ([found["fresh"]] if found.get("fresh") else []) + [found["passages"][:shown]]:
        for piece in generator.stream(found["standalone"], passages):
            if isinstance(piece, Draft):
                draft = piece
            else:
                yield piece
        if draft is not None and not draft.abstained:
            break
    yield draft or Draft(text="", abstained=True)


def _drafter(generator: Generator, found: dict) -> Generator:
    """Who drafts: the generator, but for a follow-up the extractive one in its fast mode, since the reading model
    would take the conversation's earlier question as a part of this one and answer it again."""
    if found.get("fresh") is not None and isinstance(generator, ExtractiveGenerator):
        return generator.without_reader()
    return generator


def build_chain(engine: Engine, generator: Generator, settings: Settings):
    """The chain as a runnable: input {"question", "history"} -> Answer."""
    n = settings.answer.passages_in_prompt
    return (
        retrieval_chain(engine, settings, generator)
        | RunnablePassthrough.assign(draft=RunnableLambda(lambda x: _final_draft(generator, x, n)))
        | RunnableLambda(lambda x: finish(engine, x["question"], x["standalone"], x["passages"], n, x["draft"], generator.name))
    )


def answer(engine: Engine, question: str, history: History | None = None, generator: Generator | None = None,
           settings: Settings | None = None) -> Answer:
    """Answer a question (with optional chat history) using verified quotations only."""
    settings = settings or engine.settings
    generator = generator or make_generator(engine, settings)
    chain = build_chain(engine, generator, settings)
    return chain.invoke({"question": question, "history": history or []})


def stream_answer(engine: Engine, question: str, history: History | None = None, generator: Generator | None = None,
                  settings: Settings | None = None) -> Iterator[str | Answer]:
    """Like `answer`, but yields the generator's text tokens as they come, then the verified Answer."""
    settings = settings or engine.settings
    generator = generator or make_generator(engine, settings)
    n = settings.answer.passages_in_prompt
    found = retrieval_chain(engine, settings, generator).invoke(
        {"question": question, "history": history or []})
    for piece in drafts(generator, found, n):
        if isinstance(piece, Draft):
            yield finish(engine, question, found["standalone"], found["passages"], n, piece, generator.name)
        else:
            yield piece


def _final_draft(generator: Generator, found: dict, shown: int) -> Draft:
    if not found.get("fresh"):
        return generator.draft(found["standalone"], found["passages"][:shown])
    return next(piece for piece in drafts(generator, found, shown) if isinstance(piece, Draft))


def finish(engine: Engine, question: str, standalone: str, passages: list[ScoredPassage], shown: int,
           draft: Draft, generator_name: str) -> Answer:
    """Verify the draft's quotations and build the Answer the user sees."""
    text, quotes, dropped = verify_draft(engine, draft, passages[:shown])
    abstained = draft.abstained or (not quotes and generator_name == "extractive")
    if abstained:
        closest = "\n".join(f"- {sp.passage.citation} ({sp.passage.location})" for sp in passages[:3])
        text = f"{ABSTAIN_TEXT}\n\nClosest material (not an answer):\n{closest}" if closest else ABSTAIN_TEXT
        quotes = []
    elif dropped:
        text += f"\n\n*{dropped} quotation(s) could not be verified in the cited sources and were removed.*"
    if changed := engine.index.changed_sources(q.doc for q in quotes):
        text += (f"\n\n*{', '.join(map(markdown_literal, changed))} changed after it was indexed: the quotations are verbatim from the indexed "
                 "text, and their places may have moved in the file; run `rag ingest` again to update.*")
    return Answer(question=question, standalone_question=standalone, text=text, quotes=quotes, passages=passages,
                  abstained=abstained, dropped_quotes=dropped, generator=generator_name)


def verify_draft(engine: Engine, draft: Draft, passages: list[ScoredPassage]) -> tuple[str, list[Quote], int]:
    """Replace each quotation marker by the verified quotation and its number, or by a removal notice."""
    text, quotes, dropped = draft.text, [], 0
    numbers: dict[tuple[str, int, int], int] = {}
    for dq in draft.quotes:
        quote = None
        if 1 <= dq.passage <= len(passages):
            quote = verify_quote(engine.index, passages[dq.passage - 1].passage.doc.file, dq.text)
        if quote is None:
            dropped += 1
            text = text.replace(dq.marker, REMOVED_TEXT) if dq.marker else text
            continue
        key = (quote.doc, quote.start, quote.end)
        if key not in numbers:
            quotes.append(quote)
            numbers[key] = len(quotes)
        rendered = f"\u201c{quote.text}\u201d [{numbers[key]}]"
        text = text.replace(dq.marker, rendered) if dq.marker else text
    return text, quotes, dropped
