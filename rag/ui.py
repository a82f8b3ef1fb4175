"""Gradio app (minimal search UI until the chat UI lands)."""

from __future__ import annotations

import argparse
import os

import gradio as gr

from rag.api import Engine, ensure_index
from rag.settings import Settings


def build_app(engine: Engine) -> gr.Blocks:
    def search(question: str) -> str:
        results = engine.search(question, 5)
        return "\n\n".join(f"**[{i}] {r.passage.citation}**\n\n{r.passage.text}" for i, r in enumerate(results, 1))

    with gr.Blocks(title="Research assistant") as app:
        box = gr.Textbox(label="Question")
        out = gr.Markdown()
        box.submit(search, box, out, api_name="search")
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the research assistant")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = parser.parse_args()
    settings = Settings()
    ensure_index(settings)
    build_app(Engine(settings)).launch(server_name="127.0.0.1", server_port=args.port)
