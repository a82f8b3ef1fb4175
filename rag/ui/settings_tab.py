"""The Settings tab: which generator answers, its server or model file, and a connection test."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

import gradio as gr

from rag.settings import Settings
from rag.ui.render import esc

INSTALL_LLAMACPP = "pip install -e '.[llamacpp]'"
# settings field -> where it is on screen; errors from the library name the environment variable instead
FIELD_LABELS = {
    "generator": "Answer generator (Settings)",
    "openai_base_url": "Base URL (Settings \u203a OpenAI-compatible server)",
    "openai_model": "Model (Settings \u203a OpenAI-compatible server)",
    "openai_api_key": "API key (Settings \u203a OpenAI-compatible server)",
    "ollama_base_url": "Base URL (Settings \u203a Ollama)",
    "ollama_model": "Model (Settings \u203a Ollama)",
    "llamacpp_model_path": "GGUF model path (Settings \u203a llama.cpp)",
    "timeout_s": "the request timeout (answer.timeout_s, set when the app starts)",
    "passages_in_prompt": "Passages given to the generator (Settings)",
}
_ENV_NAME = re.compile(r"RAG_ANSWER__([A-Z_]+)")


def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def on_screen(message: str) -> str:
    """An error message with each RAG_ANSWER__* variable replaced by the field it is set in on screen."""
    return _ENV_NAME.sub(lambda m: FIELD_LABELS.get(m.group(1).lower(), m.group(0)), message)


@dataclass
class SettingsTab:
    generator: gr.Radio
    passages: gr.Slider
    openai_url: gr.Textbox
    openai_model: gr.Textbox
    openai_key: gr.Textbox
    ollama_url: gr.Textbox
    ollama_model: gr.Textbox
    gguf: gr.Textbox
    test_openai: gr.Button
    test_ollama: gr.Button
    openai_status: gr.Markdown
    ollama_status: gr.Markdown

    @property
    def options(self) -> list:
        """The inputs session_settings reads, in its order."""
        return [self.generator, self.openai_url, self.openai_model, self.openai_key, self.ollama_url,
                self.ollama_model, self.gguf, self.passages]


def build_settings_tab(base: Settings) -> SettingsTab:
    a = base.answer
    with gr.Tab("Settings"):
        generators = ["extractive", "openai", "ollama"] + (["llamacpp"] if llamacpp_installed() else [])
        generator = gr.Radio(generators, value=a.generator if a.generator in generators else "extractive",
                             label="Answer generator", elem_id="generator",
                             info="extractive needs no model: it quotes the best sentences; the others need a server or a GGUF file")
        passages = gr.Slider(1, 20, value=a.passages_in_prompt, step=1, label="Passages given to the generator")
        with gr.Accordion("OpenAI-compatible server (llama.cpp server, vLLM, LM Studio, OpenAI)", open=False):
            openai_url = gr.Textbox(a.openai_base_url, label="Base URL", elem_id="openai-url")
            openai_model = gr.Textbox(a.openai_model, label="Model", elem_id="openai-model")
            openai_key = gr.Textbox(a.openai_api_key, label="API key", type="password")
            test_openai = gr.Button("Test connection", size="sm", elem_id="test-openai")
            openai_status = gr.Markdown(elem_id="openai-status")
        with gr.Accordion("Ollama", open=False):
            ollama_url = gr.Textbox(a.ollama_base_url, label="Base URL", elem_id="ollama-url")
            ollama_model = gr.Textbox(a.ollama_model, label="Model", elem_id="ollama-model")
            test_ollama = gr.Button("Test connection", size="sm", elem_id="test-ollama")
            ollama_status = gr.Markdown(elem_id="ollama-status")
        with gr.Accordion("llama.cpp (in process)", open=False):
            gguf = gr.Textbox(a.llamacpp_model_path, label="GGUF model path", visible=llamacpp_installed())
            if not llamacpp_installed():
                gr.Markdown(f"llama.cpp runs a GGUF model inside the app once llama-cpp-python is installed: "
                            f"`{INSTALL_LLAMACPP}`, then restart the app.", elem_id="llamacpp-missing")
    return SettingsTab(generator, passages, openai_url, openai_model, openai_key, ollama_url, ollama_model, gguf,
                       test_openai, test_ollama, openai_status, ollama_status)


def session_settings(base: Settings, generator: str, openai_url: str, openai_model: str, openai_key: str,
                     ollama_url: str, ollama_model: str, gguf: str, passages: float) -> Settings:
    """The engine's settings with the Settings tab's choices on top."""
    answer = base.answer.model_copy(update={
        "generator": generator, "openai_base_url": openai_url, "openai_model": openai_model,
        "openai_api_key": openai_key, "ollama_base_url": ollama_url, "ollama_model": ollama_model,
        "llamacpp_model_path": gguf, "passages_in_prompt": int(passages)})
    return base.model_copy(update={"answer": answer})


def _report(field: str, url: str, models: list[str], wanted: str) -> str:
    listed = ", ".join(f"`{m}`" for m in models[:8]) + (" \u2026" if len(models) > 8 else "")
    head = f"**Connected** to `{url}`: {len(models)} model(s) {listed}."
    if wanted and models and wanted not in models:
        return f"{head}\n\n**{FIELD_LABELS[field]}**: `{wanted}` is not among them."
    return head


def _failure(field: str, url: str, exc: Exception) -> str:
    return f"**Cannot connect.** {FIELD_LABELS[field]}: nothing answers at `{url or '(empty)'}` ({type(exc).__name__}: {esc(str(exc)[:200])})."


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What a client raises for a bad URL, a refused connection, a timeout or an error reply."""
    import httpx
    import ollama
    import openai

    return openai.APIError, ollama.ResponseError, httpx.HTTPError, httpx.InvalidURL, ConnectionError, TimeoutError, ValueError


def check_openai(url: str, model: str, key: str, timeout_s: float = 5.0) -> str:
    """List the models of an OpenAI-compatible server, with the client the generator uses."""
    import openai

    try:
        client = openai.OpenAI(base_url=url, api_key=key or "not-needed", timeout=timeout_s, max_retries=0)
        models = [m.id for m in client.models.list()]
    except _connection_errors() as e:
        return _failure("openai_base_url", url, e)
    return _report("openai_model", url, models, model)


def check_ollama(url: str, model: str, timeout_s: float = 5.0) -> str:
    """List the models an Ollama server has pulled."""
    import ollama

    try:
        models = [m.model for m in ollama.Client(host=url, timeout=timeout_s).list().models]
    except _connection_errors() as e:
        return _failure("ollama_base_url", url, e)
    names = models + [m.split(":")[0] for m in models if m.endswith(":latest")]  # "llama3.2" means "llama3.2:latest"
    return _report("ollama_model", url, models, model if model not in names else "")
