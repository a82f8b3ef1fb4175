"""What every tab's handlers share: the engine (loaded in the background), the settings it started
with, one cached generator, and the translation of library errors into messages on screen."""

from __future__ import annotations

import functools
from collections.abc import Callable

import gradio as gr

from rag.api import Engine
from rag.chain import make_generator
from rag.errors import RagError
from rag.generation import Generator
from rag.settings import Settings
from rag.ui.render import esc


class AppContext:
    """The engine and settings behind one app."""

    def __init__(self, engine: Engine | Callable[[], Engine], settings: Settings,
                 on_screen: Callable[[str], str] = lambda message: message):
        self._get_engine = engine if callable(engine) else (lambda: engine)
        self.base = settings
        self.on_screen = on_screen  # rewrites an error message to name the fields the user sees
        self._generators: dict[str, Generator] = {}

    @property
    def engine(self) -> Engine:
        """The engine; waits for it while it is still loading."""
        return self._get_engine()

    def generator_for(self, settings: Settings) -> Generator:
        """The generator the settings ask for; one is kept (an in-process model is large), and made again when
        the index changes (an upload, the adapted model): it holds the index's embedder and vocabulary."""
        key = f"{self.engine.index.generation}:{settings.answer.model_dump_json()}"
        if key not in self._generators:
            self._generators.clear()
            self._generators[key] = make_generator(self.engine, settings)
        return self._generators[key]

    def error(self, e: RagError) -> gr.Error:
        """A library error as the toast shows it (which renders HTML)."""
        return gr.Error(esc(self.on_screen(str(e))))

    def guarded(self, fn: Callable) -> Callable:
        """fn with library errors shown as a toast; the session goes on."""
        @functools.wraps(fn)  # keeps the signature: gr.api and gr.Progress read it
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except RagError as e:
                raise self.error(e) from e
        return wrapper
