"""Startup time of the chat app: from starting `python app.py` until its /ask endpoint has answered.

Uses the default index (it must exist; `make setup` builds it) and only reads it. The target is
10 s on an otherwise idle machine; wall time depends heavily on what else is running, so the
machine's load is printed with the figures, and so is the CPU time the app used until it answered
(user + system), which does not.

    .venv/bin/python benchmarks/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import describe_machine

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What were the sovnarkhozy supposed to do?"
TARGET_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run() -> dict[str, float]:
    """Seconds from process start to: server accepting connections, first /ask answer; then a warm /ask."""
    import httpx
    import psutil
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        try:
            client = None
            while client is None:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"app.py exited:\n{log.read().decode(errors='replace')[-2000:]}")
                try:
                    client = Client(url, verbose=False)
                except (httpx.HTTPError, ValueError):  # not listening yet
                    time.sleep(0.1)
            listening = time.perf_counter() - t0
            result = client.predict(QUESTION, api_name="/ask")
            answered = time.perf_counter() - t0
            cpu = psutil.Process(proc.pid).cpu_times()
            assert result["quotes"], "the benchmark question should get a quoted answer"
            t1 = time.perf_counter()
            client.predict(QUESTION, api_name="/ask")
            warm = time.perf_counter() - t1
        finally:
            proc.terminate()
            proc.wait(30)
    return {"listening": listening, "answered": answered, "cpu": cpu.user + cpu.system, "warm_ask": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (ROOT / "index" / "default" / "CURRENT").exists():
        raise SystemExit("no default index; build it first with `make setup` (or `rag ingest corpus/ --index index/default`)")
    print(describe_machine())
    print(f"question: {QUESTION!r}")
    print(f"{'run':<5}{'listening s':>13}{'first /ask answered s':>24}{'app CPU s by then':>20}{'warm /ask s':>13}")
    runs = []
    for n in range(1, args.runs + 1):
        r = one_run()
        runs.append(r)
        print(f"{n:<5}{r['listening']:>13.1f}{r['answered']:>24.1f}{r['cpu']:>20.1f}{r['warm_ask']:>13.2f}", flush=True)
    best = min(r["answered"] for r in runs)
    median = sorted(r["answered"] for r in runs)[len(runs) // 2]
    verdict = "within" if median <= TARGET_S else "over"
    print(f"ready to answer: median {median:.1f} s, best {best:.1f} s ({verdict} the {TARGET_S:.0f} s target)")
    print(describe_machine())


if __name__ == "__main__":
    main()
