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
from rag.extractive import ExtractiveGenerator, content_words
from rag.generation import Draft, Generator
from rag.quotes import verify_quote
from rag.retrieve import clean_question
from rag.settings import Settings
from rag.types import Answer, Quote, ScoredPassage

History = list[tuple[str, str]]
ABSTAIN_TEXT = "The documents don't answer this question."
REMOVED_TEXT = "*[a quotation was removed: it could not be verified in the cited source]*"
_FOLLOW_UP = re.compile(r"^\s*(and|but|so|also|what about|how about|what of)\b|\b(it|its|they|them|their|this|that|these|those|he|she|him|his|her)\b", re.IGNORECASE)


def make_generator(engine: Engine, settings: Settings) -> Generator:
    """The generator named by settings.answer.generator."""
    if settings.answer.generator == "extractive":
        reader = engine.reader if settings.answer.mode == "read" else None
        return ExtractiveGenerator(engine.embedder, settings.answer, engine.vocabulary, reader)
    from rag.llm import make_generator as make_llm_generator

    return make_llm_generator(settings)


def standalone_question(question: str, history: History | None, chat_model=None) -> str:
    """The question rewritten to stand alone: by the LLM if there is one, else by joining a
    follow-up ("and what did they think of it?") to the previous question."""
    question = clean_question(question, 10_000)
    if not history:
        return question
    if chat_model is not None:
        from rag.llm import condense_question

        return condense_question(chat_model, history, question)
    if _FOLLOW_UP.search(question) or len(content_words(question)) <= 2:
        return f"{history[-1][0]} {question}"
    return question


def retrieval_chain(engine: Engine, settings: Settings, chat_model=None):
    """The first steps as a runnable: {"question", "history"} -> the same plus "standalone" and "passages"."""
    wanted = max(settings.answer.passages_in_prompt, settings.retrieval.k)
    return (
        RunnablePassthrough.assign(standalone=RunnableLambda(lambda x: standalone_question(x["question"], x.get("history"), chat_model)))
        | RunnablePassthrough.assign(passages=RunnableLambda(lambda x: engine.search(x["standalone"], wanted)))
    )


def build_chain(engine: Engine, generator: Generator, settings: Settings, chat_model=None):
    """The chain as a runnable: input {"question", "history"} -> Answer."""
    n = settings.answer.passages_in_prompt
    return (
        retrieval_chain(engine, settings, chat_model)
        | RunnablePassthrough.assign(draft=RunnableLambda(lambda x: generator.draft(x["standalone"], x["passages"][:n])))
        | RunnableLambda(lambda x: finish(engine, x["question"], x["standalone"], x["passages"], n, x["draft"], generator.name))
    )


def answer(engine: Engine, question: str, history: History | None = None, generator: Generator | None = None,
           settings: Settings | None = None) -> Answer:
    """Answer a question (with optional chat history) using verified quotations only."""
    settings = settings or engine.settings
    generator = generator or make_generator(engine, settings)
    chain = build_chain(engine, generator, settings, getattr(generator, "chat_model", None))
    return chain.invoke({"question": question, "history": history or []})


def stream_answer(engine: Engine, question: str, history: History | None = None, generator: Generator | None = None,
                  settings: Settings | None = None) -> Iterator[str | Answer]:
    """Like `answer`, but yields the generator's text tokens as they come, then the verified Answer."""
    settings = settings or engine.settings
    generator = generator or make_generator(engine, settings)
    n = settings.answer.passages_in_prompt
    found = retrieval_chain(engine, settings, getattr(generator, "chat_model", None)).invoke(
        {"question": question, "history": history or []})
    standalone, passages = found["standalone"], found["passages"]
    draft = None
    for piece in generator.stream(standalone, passages[:n]):
        if isinstance(piece, Draft):
            draft = piece
        else:
            yield piece
    yield finish(engine, question, standalone, passages, n, draft or Draft(text="", abstained=True), generator.name)


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
