"""Load on the chat app: many tabs asking at once, then a long run of questions, watching memory.

Starts `python app.py --port <free>` over the default index (it must exist; `make setup` builds it),
then through gradio_client's /ask endpoint:
1. N concurrent questions (default 50), each from its own client, as from separate tabs: all must be
   answered; failures are printed, then p50/p95 latency (wall time from sending to the answer, queueing
   included: the app runs at most a few requests at a time);
2. M sequential questions (default 500): the app process's resident memory (RSS) is printed after the
   first 50 and at the end; the target is growth within 20%.

    .venv/bin/python benchmarks/load.py [--concurrent 50] [--sequential 500]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import describe_machine, p50_p95

ROOT = Path(__file__).resolve().parent.parent
EVAL_FILE = ROOT.parent / "shared" / "eval" / "dev.jsonl"
MEMORY_TARGET = 0.20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[str]:
    """The dev set's questions and claims (as questions), so answers touch every document."""
    items = [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item.get("question") or item["claim"] for item in items]


def start_app(port: int, log) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=env)


def connect(url: str, proc: subprocess.Popen, log, timeout_s: float = 600):
    """A gradio_client Client once the app answers /ask."""
    import httpx
    from gradio_client import Client

    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise SystemExit(f"app.py did not come up:\n{log.read().decode(errors='replace')[-3000:]}")
        try:
            client = Client(url, verbose=False)
            client.predict("What were the sovnarkhozy supposed to do?", api_name="/ask")  # waits for the index
            return client
        except (httpx.HTTPError, ValueError):
            time.sleep(0.5)


def ask(client, question: str) -> tuple[float, str | None]:
    """Seconds to the answer, and an error message if it failed."""
    t0 = time.perf_counter()
    try:
        result = client.predict(question, api_name="/ask")
    except Exception as e:  # noqa: BLE001 (any failure counts; say what it was)
        return time.perf_counter() - t0, f"{type(e).__name__}: {e}"
    if not isinstance(result, dict) or not result.get("answer"):
        return time.perf_counter() - t0, f"no answer in {str(result)[:200]}"
    return time.perf_counter() - t0, None


def concurrent_round(url: str, qs: list[str], n: int) -> bool:
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(n)]  # one per tab
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(ask, clients, [qs[i % len(qs)] for i in range(n)]))
    wall = time.perf_counter() - t0
    failures = [(qs[i % len(qs)], err) for i, (_, err) in enumerate(results) if err]
    p50, p95 = p50_p95([s for s, _ in results])
    print(f"\n{n} concurrent questions: {n - len(failures)} answered, {len(failures)} failed, all done in {wall:.1f} s")
    for question, err in failures:
        print(f"  FAILED: {question[:60]!r}: {err}")
    print(f"  latency (queueing included): p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(s for s, _ in results):.2f} s")
    return not failures


def sequential_round(client, proc, qs: list[str], n: int) -> bool:
    import psutil

    app = psutil.Process(proc.pid)

    def mb() -> float:
        return app.memory_info().rss / 2**20

    print(f"\n{n} sequential questions; app RSS before: {mb():.0f} MB")
    latencies, failures, after_50 = [], 0, None
    for i in range(n):
        seconds, err = ask(client, qs[i % len(qs)])
        latencies.append(seconds)
        if err:
            failures += 1
            print(f"  FAILED #{i + 1}: {err}")
        if i + 1 == 50:
            after_50 = mb()
            print(f"  RSS after the first 50: {after_50:.0f} MB")
        elif (i + 1) % 100 == 0:
            print(f"  RSS after {i + 1}: {mb():.0f} MB")
    end = mb()
    growth = (end - after_50) / after_50
    p50, p95 = p50_p95(latencies)
    print(f"  {n - failures} answered, {failures} failed; latency p50 {p50:.2f} s, p95 {p95:.2f} s")
    verdict = "within" if abs(growth) <= MEMORY_TARGET else "NOT within"
    print(f"  RSS at the end: {end:.0f} MB ({growth:+.1%} since the first 50; {verdict} the {MEMORY_TARGET:.0%} target)")
    return not failures and abs(growth) <= MEMORY_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=500)
    args = parser.parse_args()
    print(describe_machine())
    qs = questions()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = start_app(port, log)
        try:
            t0 = time.perf_counter()
            client = connect(url, proc, log)
            print(f"app up and answering on {url} after {time.perf_counter() - t0:.1f} s; {len(qs)} distinct questions")
            ok = concurrent_round(url, qs, args.concurrent)
            ok = sequential_round(client, proc, qs, args.sequential) and ok
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("\nresult:", "all answered, memory within target" if ok else "FAILED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
