"""The Gradio app: one module per tab (chat, claim check, library, settings), rendering in render.py,
wiring in app.py. Everything the app does is a call into rag.api, rag.chain or rag.claims."""

from rag.ui.app import CSS, THEME, build_app

__all__ = ["CSS", "THEME", "build_app"]
