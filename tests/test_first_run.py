"""First run: the index serves unadapted at once, the model adapts in the background, and every engine
switches to the adapted index when its CURRENT pointer moves, while requests go on."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from rag.api import Engine
from rag.ingest import ingest
from rag.settings import PROJECT_ROOT, AdaptSettings, Settings
from tests.conftest import DATA

QUICK = AdaptSettings(batch_size=2, max_steps=2)  # the mechanics, not the quality


@pytest.fixture
def plain_index(tmp_path, embedder):
    docs = tmp_path / "docs"
    shutil.copytree(DATA / "docs", docs)
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=docs, adapt=QUICK)
    ingest([docs], settings, settings.index_dir, embedder)
    return settings


def test_engine_adapts_while_it_answers_and_other_engines_follow(plain_index):
    serving, other = Engine(plain_index), Engine(plain_index)  # `other` stands for another process on the same index
    assert not serving.adapted and serving.index.model_dir is None
    errors, answered = [], []

    def keep_asking():
        while not done.is_set():
            try:
                answered.append(bool(serving.search("When was the State Planning Commission created?", k=3)))
            except Exception as e:  # noqa: BLE001 (any failure of a request during the swap is the defect)
                errors.append(e)
            time.sleep(0.05)  # a user's pace; a tight loop would starve the training

    done = threading.Event()
    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        assert serving.adapt()
    finally:
        done.set()
        asker.join()
    assert not errors and answered and all(answered)
    assert serving.adapted and serving.embedder.path == serving.index.model_dir is not None
    assert not serving.adapt(), "already adapted to these files"

    assert other.search("bread rationing", k=1)  # its next request loads the new generation
    assert other.index.generation == serving.index.generation and other.embedder.path == serving.index.model_dir


@pytest.mark.slow
def test_app_serves_the_unadapted_index_first_then_switches_to_the_adapted_one(tmp_path):
    """app.py on a folder with no index: builds it without adapting, answers, adapts in the background, switches."""
    from gradio_client import Client

    docs = tmp_path / "docs"
    shutil.copytree(DATA / "docs", docs)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the fast mode answers both questions: in the read mode, which answers once the reading model has loaded in the
    # background, the second answer would depend on how far that load had got (the switch is what is tested here)
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_CORPUS_DIR": str(docs), "RAG_ANSWER__MODE": "fast",
           "RAG_ADAPT__BATCH_SIZE": "2", "RAG_ADAPT__MAX_STEPS": "2", "GRADIO_SERVER_PORT": str(port)}
    log = tmp_path / "app.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "app.py")], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(log, proc, "ready: http")
        client = Client(f"http://127.0.0.1:{port}", verbose=False)
        first = client.predict("When was the State Planning Commission created?", api_name="/ask")
        assert first["quotes"] and "adapted index in use" not in log.read_text()
        wait_for(log, proc, "adapted index in use")
        again = client.predict("When was the State Planning Commission created?", api_name="/ask")
        assert again["quotes"] and again["quotes"][0]["doc"] == "planning.md"
        assert Engine(Settings(index_dir=tmp_path / "index")).adapted
        assert "no index at" in log.read_text() and "Traceback" not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(30)


def wait_for(log, proc, text: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout  # generous: the machine may be busy
    while not re.search(re.escape(text), log.read_text(errors="replace")):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"app.py never said {text!r}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
