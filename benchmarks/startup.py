"""Startup time of the chat app.

Warm start (default): from starting `python app.py` until its /ask endpoint has answered. Uses the
default index (it must exist; `make setup` builds it) and only reads it. The target is 10 s on an
otherwise idle machine.

First run (--first-run): a fresh clone of this repository (../shared linked beside it, as the Makefile
expects) run as a new user would. It measures the seconds from the end of pip (the Makefile's
.venv/.stamp-main appearing) to the first /ask answer (target 60 s: the index is built without adapting
the model, then served), and on to the moment the app says the adapted index is in use (it adapts in
the background). With --venv PATH, pip is skipped: that virtualenv runs the clone's code (PYTHONPATH)
and the Makefile's two steps after pip (`rag ingest corpus/ --index index/default`, `python app.py`)
are run as it would run them.

Wall time depends heavily on what else is running, so the machine's load is printed with the figures,
and so is the CPU time the app used until it answered (user + system), which does not.

    .venv/bin/python benchmarks/startup.py [--runs 3]
    .venv/bin/python benchmarks/startup.py --first-run [--venv .venv] [--no-adapt-wait]
"""

from __future__ import annotations

import argparse
import os
import shutil
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
FIRST_RUN_TARGET_S = 60.0


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


def wait_for_answer(url: str, proc: subprocess.Popen, log) -> dict:
    """Poll until the app at `url` answers QUESTION on /ask; exit with its log if it dies first."""
    import httpx
    from gradio_client import Client

    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the app exited:\n{log.read().decode(errors='replace')[-3000:]}")
        try:
            return Client(url, verbose=False).predict(QUESTION, api_name="/ask")
        except (httpx.HTTPError, ValueError, ConnectionError):  # not listening yet
            time.sleep(0.5)


def first_run(venv: Path | None, wait_adapt: bool) -> None:
    """A fresh clone, run as `make run` would: seconds from the end of pip to the first answer and to the adapted index."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="rag-first-run-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (work / "shared").symlink_to(ROOT.parent / "shared")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_PORT": str(port)}
    if venv is None:  # the whole of `make run`: venv, pip (warm cache), index, app
        command = ["make", "-C", str(clone), "run"]
    else:  # what `make run` does after pip, with an existing virtualenv
        bin_dir = venv.resolve() / "bin"
        env["PYTHONPATH"] = str(clone)
        command = ["sh", "-c", f"cd {clone} && {bin_dir}/rag ingest corpus/ --index index/default && exec {bin_dir}/python app.py"]
    stamp = clone / ".venv" / ".stamp-main"
    print(f"fresh clone: {clone}; running: {' '.join(command)}", flush=True)
    with tempfile.TemporaryFile() as log:
        t0 = time.time()
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=clone, start_new_session=True)
        try:
            while venv is None and not stamp.exists():
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"make run exited during setup:\n{log.read().decode(errors='replace')[-3000:]}")
                time.sleep(0.5)
            pip_done = stamp.stat().st_mtime if venv is None else t0
            result = wait_for_answer(f"http://127.0.0.1:{port}", proc, log)
            answered = time.time()
            assert result["quotes"], "the benchmark question should get a quoted answer"
            print(f"pip (warm cache): {pip_done - t0:.0f} s" if venv is None else "pip: skipped (--venv)")
            verdict = "within" if answered - pip_done <= FIRST_RUN_TARGET_S else "over"
            print(f"first /ask answered {answered - pip_done:.1f} s after pip finished "
                  f"({verdict} the {FIRST_RUN_TARGET_S:.0f} s target)", flush=True)
            if wait_adapt:
                while b"adapted index in use" not in read_all(log):
                    if proc.poll() is not None:
                        raise SystemExit(f"the app exited while adapting:\n{read_all(log).decode(errors='replace')[-3000:]}")
                    time.sleep(2)
                adapted = time.time()
                again = wait_for_answer(f"http://127.0.0.1:{port}", proc, log)
                assert again["quotes"], "the adapted index should answer too"
                print(f"adapted index in use {adapted - pip_done:.0f} s after pip finished "
                      f"({adapted - answered:.0f} s after the first answer), and answering", flush=True)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(30)
            shutil.rmtree(work, ignore_errors=True)


def read_all(log) -> bytes:
    log.seek(0)
    return log.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--first-run", action="store_true", help="measure a fresh clone's first `make run`")
    parser.add_argument("--venv", type=Path, help="with --first-run: use this virtualenv instead of running pip")
    parser.add_argument("--no-adapt-wait", action="store_true", help="with --first-run: stop after the first answer")
    args = parser.parse_args()
    if args.first_run:
        print(describe_machine())
        first_run(args.venv, not args.no_adapt_wait)
        print(describe_machine())
        return
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
