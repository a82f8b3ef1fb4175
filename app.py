"""Serve the research assistant's chat app: `python app.py [--port N]` (or GRADIO_SERVER_PORT; default 7860).

The default index is built first if it is missing, without adapting the embedding model (30-45 s on 2 cores).
The index and the model load in a background thread while the web server starts, so the app
answers as soon as both are up. Then, if settings.adapt.enabled and the model is not yet adapted to
the indexed documents, it is adapted in the background (minutes, rag.adapt) and the app switches to
the adapted index when it is ready, between two requests.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def console_progress(stage: str, done: int, total: int) -> None:
    """Ingest progress on one console line."""
    end = "\n" if stage == "done" else ""
    print(f"\r  {stage[:50]:<50} {done}/{total}", end=end, file=sys.stderr, flush=True)


def load_engine(settings):
    from rag.api import Engine

    t0 = time.perf_counter()
    engine = Engine(settings)
    files = len(engine.index.manifest["files"])
    print(f"index loaded: {files} documents, {len(engine.index.passages)} passages ({time.perf_counter() - t0:.1f} s)",
          file=sys.stderr, flush=True)
    return engine


def main() -> int:
    parser = argparse.ArgumentParser(description="Serve the research assistant on 127.0.0.1")
    parser.add_argument("--port", type=int, default=os.environ.get("GRADIO_SERVER_PORT", "7860"))
    args = parser.parse_args()

    from rag.api import ensure_index
    from rag.errors import RagError
    from rag.settings import Settings
    from rag.wordnet import wordnet

    settings = Settings()
    app = None
    try:
        from rag.store import current_generation

        if current_generation(settings.index_dir) is None:
            print(f"no index at {settings.index_dir}; building it from {settings.corpus_dir} (a few minutes, once)",
                  file=sys.stderr, flush=True)
            ensure_index(settings, progress=console_progress)
        print("loading the index and the embedding model...", file=sys.stderr, flush=True)
        engine = ThreadPoolExecutor(max_workers=1).submit(load_engine, settings)

        from rag.ui import CSS, THEME, build_app

        app = build_app(engine.result, settings)
        app.queue(default_concurrency_limit=2)
        app.launch(server_name="127.0.0.1", server_port=args.port, css=CSS, theme=THEME, max_file_size="20mb",
                   show_error=True, quiet=True, prevent_thread_lock=True, footer_links=["api"])
        engine.result()  # surface a load error here, before saying we are ready
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        if app is not None:
            app.close()
        return 1
    print(f"ready: http://127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    if settings.answer.mode == "read":
        # the reading model, once the app serves (seconds; about a minute the first time, converted from GGUF
        # once): until it is loaded, answers come from the fast mode
        engine.result().reader.start_loading()
    threading.Thread(target=wordnet, daemon=True, name="wordnet").start()  # for claim checks (rag.wordnet)
    if settings.adapt.enabled:
        threading.Thread(target=adapt_in_background, args=(engine.result(),), daemon=True, name="adapt").start()
    app.block_thread()
    return 0


def adapt_in_background(engine) -> None:
    """Adapt the embedding model to the indexed documents while the app serves, then switch to that index."""
    from rag.errors import RagError

    if engine.adapted:
        return
    print("adapting the embedding model to the documents in the background (minutes); until it is done, answers "
          "come from the unadapted index", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        engine.adapt()
    except (RagError, OSError) as e:  # the unadapted index goes on serving
        print(f"adapting the embedding model failed ({e}); the unadapted index stays in use", file=sys.stderr, flush=True)
        return
    print(f"adapted index in use: {engine.index.generation.name} (adapting took {time.perf_counter() - t0:.0f} s)",
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
