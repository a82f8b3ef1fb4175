"""LLM answer generators: a chat model per backend, the answer prompt, and parsing replies into Drafts.

The model sees the passages as [P1]..[Pn] and is asked to quote them as  "exact words" [P3] .
`parse_llm_answer` turns each such quotation into a marker ({{Q1}}, ...) and a DraftQuote; the chain
then verifies every DraftQuote against the cited document and shows only what it finds there.
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from rag.errors import BadInput, GeneratorError, ModelMissing
from rag.generation import Draft, DraftQuote
from rag.settings import PROJECT_ROOT, AnswerSettings, Settings
from rag.types import ScoredPassage

ABSTAIN_TOKEN = "NOT_IN_DOCUMENTS"
ANSWER_FIELDS = frozenset({"question", "passages"})
CONDENSE_FIELDS = frozenset({"history", "question"})
HISTORY_TURNS = 3  # earlier turns rarely matter for resolving "it" or "they"
HISTORY_ANSWER_CHARS = 600

# One or more passage citations: [P3], [P1, P4], [p2; 5] (no two blank runs side by side: on a long run they backtracked)
_CITES = r"\[\s*P\s*\d+(?:\s*[,;]\s*(?:P\s*)?\d+)*\s*\]"
# A quotation in straight or curly double quotes, then its citations: "words" [P3]
_QUOTED_CITED = re.compile(
    rf'(?:"(?P<a>[^"]{{1,2000}}?)"|\u201c(?P<b>[^\u201d]{{1,2000}}?)\u201d)\s*\(?(?P<cite>{_CITES})\)?', re.IGNORECASE)
_CITATION = re.compile(rf"\(?{_CITES}\)?", re.IGNORECASE)
_ABSTAIN = re.compile(r"NOT[_ ]IN[_ ]DOCUMENTS", re.IGNORECASE)
# What only the chain may write: quotation markers and the [1], [2] numbers of verified quotations
_MARKER_LIKE = re.compile(r"\{\{[^{}]*\}\}|\[\s*\d+\s*\]")


def load_prompt(path: Path, fields: frozenset[str]) -> str:
    """Read a prompt template; reject it unless its placeholders are exactly `fields`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read prompt template {path}: {exc.strerror or exc}") from exc
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise BadInput(f"prompt template {path} is malformed ({exc}); write literal braces as {{{{ and }}}}") from exc
    unknown, missing = used - fields, fields - used
    if unknown:
        raise BadInput(f"prompt template {path} uses placeholders the chain does not supply: "
                       f"{', '.join('{' + n + '}' for n in sorted(unknown))} (allowed: {', '.join(sorted(fields))})")
    if missing:
        raise BadInput(f"prompt template {path} lacks the placeholders {', '.join('{' + n + '}' for n in sorted(missing))}")
    return text


def format_passages(passages: list[ScoredPassage]) -> str:
    """The passages as the model sees them: [Pn], the citation, then the text."""
    return "\n\n".join(f"[P{i}] {sp.passage.citation}\n{sp.passage.text}" for i, sp in enumerate(passages, 1))


def parse_llm_answer(text: str, n_passages: int) -> Draft:
    """Turn a model's reply into a Draft: each cited quotation becomes a marker and a DraftQuote.

    A quotation citing several passages is attributed to the first one that exists; one citing only
    passages that don't exist keeps its claimed number, so the chain drops and counts it. Quotation
    marks with no citation are removed (an unchecked quotation must not look like one), as are
    citations not attached to a quotation, and markers or [n] numbers the model wrote itself.
    """
    if _ABSTAIN.search(text):
        return Draft(text="", quotes=[], abstained=True)
    text = _MARKER_LIKE.sub("", text)
    quotes: list[DraftQuote] = []

    def to_marker(m: re.Match) -> str:
        words = _clean_quotation(m.group("a") or m.group("b") or "")
        numbers = [int(n) for n in re.findall(r"\d+", m.group("cite"))]
        if not words:
            return ""
        passage = next((n for n in numbers if 1 <= n <= n_passages), numbers[0])
        marker = f"{{{{Q{len(quotes) + 1}}}}}"
        quotes.append(DraftQuote(text=words, passage=passage, marker=marker))
        return marker

    body = _QUOTED_CITED.sub(to_marker, text)
    body = _CITATION.sub("", body)
    body = re.sub(r'["\u201c\u201d]', "", body)
    body = re.sub(r"(?<![ \t])[ \t]+([.,;:!?])", r"\1", body)  # from a run's start: linear on long runs
    body = re.sub(r"[ \t]{2,}", " ", body).strip()
    return Draft(text=body, quotes=quotes, abstained=False)


def _clean_quotation(words: str) -> str:
    """Whitespace collapsed and outer punctuation cut: a shorter verbatim span is still verbatim."""
    return re.sub(r"\s+", " ", words).strip(" .,;:\u2026")


class LLMGenerator:
    """A Generator backed by a LangChain chat model and the answer prompt."""

    def __init__(self, chat_model: BaseChatModel, template: str, name: str = "llm"):
        self.chat_model = chat_model
        self.template = template
        self.name = name

    def messages(self, question: str, passages: list[ScoredPassage]) -> list[BaseMessage]:
        """The prompt as chat messages (one user turn: some chat formats, e.g. Gemma's, drop system turns)."""
        return [HumanMessage(self.template.format(question=question.strip(), passages=format_passages(passages)))]

    def draft(self, question: str, passages: list[ScoredPassage]) -> Draft:
        """Ask the model once and parse its reply."""
        with translated_errors(self.chat_model):
            reply = self.chat_model.invoke(self.messages(question, passages))
        return parse_llm_answer(reply.text, len(passages))

    def stream(self, question: str, passages: list[ScoredPassage]) -> Iterator[str | Draft]:
        """Yield the reply's tokens as they arrive, then the parsed Draft."""
        parts: list[str] = []
        with translated_errors(self.chat_model):
            for chunk in self.chat_model.stream(self.messages(question, passages)):
                token = chunk.text
                if token:
                    parts.append(token)
                    yield token
        yield parse_llm_answer("".join(parts), len(passages))


def condense_question(chat_model: BaseChatModel, history: list[tuple[str, str]], question: str,
                      prompts_dir: Path | None = None) -> str:
    """Rewrite a follow-up question so it stands alone; the question unchanged without history."""
    if not history:
        return question
    template = load_prompt(Path(prompts_dir or PROJECT_ROOT / "prompts") / "condense.txt", CONDENSE_FIELDS)
    lines = []
    for asked, answered in history[-HISTORY_TURNS:]:
        short = answered if len(answered) <= HISTORY_ANSWER_CHARS else answered[:HISTORY_ANSWER_CHARS] + "..."
        lines += [f"User: {asked.strip()}", f"Assistant: {short.strip()}"]
    prompt = template.format(history="\n".join(lines), question=question.strip())
    with translated_errors(chat_model):
        reply = chat_model.invoke([HumanMessage(prompt)]).text
    first = next((line.strip() for line in reply.splitlines() if line.strip()), "")
    first = re.sub(r"^(standalone question|question)\s*:\s*", "", first, flags=re.IGNORECASE).strip(" \"'\u201c\u201d")
    if not first or _ABSTAIN.search(first) or len(first) > 4 * len(question) + 500:
        return question
    return first


def make_chat_model(answer_settings: AnswerSettings) -> BaseChatModel:
    """The chat model for an LLM generator kind, configured from settings."""
    s = answer_settings
    if s.generator == "openai":
        from langchain_openai import ChatOpenAI

        # llama.cpp's server ignores max_completion_tokens (what langchain-openai sends), so max_tokens
        # also goes in the body, or generation runs to the end of the context.
        return ChatOpenAI(base_url=s.openai_base_url, model=s.openai_model, api_key=s.openai_api_key,
                          timeout=s.timeout_s, temperature=s.temperature, max_tokens=s.max_tokens,
                          max_retries=1, streaming=True, extra_body={"max_tokens": s.max_tokens})
    if s.generator == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(base_url=s.ollama_base_url, model=s.ollama_model, temperature=s.temperature,
                          num_predict=s.max_tokens, client_kwargs={"timeout": s.timeout_s})
    if s.generator == "llamacpp":
        return LlamaCppChat.load(s.llamacpp_model_path, max_tokens=s.max_tokens, temperature=s.temperature)
    raise BadInput(f"generator {s.generator!r} does not use a language model (choose openai, ollama or llamacpp)")


def make_generator(settings: Settings, chat_model: BaseChatModel | None = None) -> LLMGenerator:
    """The LLM generator named by settings.answer.generator (pass chat_model to reuse or fake one)."""
    template = load_prompt(Path(settings.prompts_dir) / "answer.txt", ANSWER_FIELDS)
    return LLMGenerator(chat_model or make_chat_model(settings.answer), template, name=settings.answer.generator)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the model's server or runtime failed, not a bug in this code."""
    import httpx
    import openai

    errors: list[type[BaseException]] = [openai.APIError, httpx.HTTPError, ConnectionError, TimeoutError]
    try:
        import ollama

        errors.append(ollama.ResponseError)
    except ImportError:
        pass
    return tuple(errors)


@contextmanager
def translated_errors(chat_model: BaseChatModel) -> Iterator[None]:
    """Turn a backend failure into a GeneratorError that names the server and what to check."""
    try:
        yield
    except _transport_errors() as exc:
        raise GeneratorError(f"{_describe(chat_model)} failed ({type(exc).__name__}: {exc}); {_advice(chat_model)}") from exc


def _describe(chat_model: BaseChatModel) -> str:
    if getattr(chat_model, "openai_api_base", None):
        return f"the OpenAI-compatible server at {chat_model.openai_api_base} (model {chat_model.model_name!r})"
    if chat_model._llm_type == "chat-ollama":
        return f"the Ollama server at {chat_model.base_url or 'http://127.0.0.1:11434'} (model {chat_model.model!r})"
    return f"the language model ({chat_model._llm_type})"


def _advice(chat_model: BaseChatModel) -> str:
    if getattr(chat_model, "openai_api_base", None):
        return ("check that the server is running and reachable, and RAG_ANSWER__OPENAI_BASE_URL, RAG_ANSWER__OPENAI_MODEL "
                "and RAG_ANSWER__TIMEOUT_S")
    if chat_model._llm_type == "chat-ollama":
        return "check that `ollama serve` is running, the model is pulled, and RAG_ANSWER__OLLAMA_BASE_URL"
    return "check the model's settings"


class LlamaCppChat(BaseChatModel):
    """A GGUF model run in-process by llama-cpp-python, as a LangChain chat model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    max_tokens: int = 512
    temperature: float = 0.1
    llama: Any = None
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # a Llama is not thread-safe

    @classmethod
    def load(cls, model_path: str, n_ctx: int = 4096, **fields: Any) -> LlamaCppChat:
        """Load the GGUF; ModelMissing if llama-cpp-python or the file is missing."""
        if not model_path:
            raise ModelMissing("no GGUF file is set for the llamacpp generator; set RAG_ANSWER__LLAMACPP_MODEL_PATH")
        if not Path(model_path).is_file():
            raise ModelMissing(f"GGUF file not found: {model_path}; check RAG_ANSWER__LLAMACPP_MODEL_PATH")
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelMissing("llama-cpp-python is not installed; install it with pip install -e '.[llamacpp]'") from exc
        try:
            llama = Llama(model_path=str(model_path), n_ctx=n_ctx, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelMissing(f"cannot load the GGUF file {model_path}: {exc}") from exc
        return cls(model_path=str(model_path), llama=llama, **fields)

    @property
    def _llm_type(self) -> str:
        return "llamacpp-in-process"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool) -> Any:
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        payload = [{"role": roles.get(m.type, "user"), "content": m.text} for m in messages]
        return self.llama.create_chat_completion(messages=payload, max_tokens=self.max_tokens,
                                                 temperature=self.temperature, stop=stop, stream=stream)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        with self._lock:
            out = self._request(messages, stop, stream=False)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(out["choices"][0]["message"]["content"] or ""))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self._request(messages, stop, stream=True):
                token = part["choices"][0]["delta"].get("content")
                if token:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
                    if run_manager:
                        run_manager.on_llm_new_token(token, chunk=chunk)
                    yield chunk
