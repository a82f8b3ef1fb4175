"""The command line as a user drives it: `rag chat` piped, `rag ask --history`, and output cut short by `| head`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from rag.cli import main

FIRST = "When was the State Planning Commission created?"


def run_chat(monkeypatch, capsys, index_dir, lines: list[str], *options: str) -> list[dict]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    assert main(["chat", "--json", "--index", str(index_dir), *options]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_chat_reads_follow_ups_in_context_from_a_pipe(small_index_dir, shared_embedder, monkeypatch, capsys):
    replies = run_chat(monkeypatch, capsys, small_index_dir,
                       [FIRST, "What did it replace?", "", "Where was the Turksib line joined?", "/new", "What did it replace?"])
    assert [r["question"] for r in replies] == [FIRST, "What did it replace?", "Where was the Turksib line joined?",
                                                 "What did it replace?"]
    assert replies[1]["standalone_question"] == f"{FIRST} What did it replace?"
    assert replies[1]["quotes"] and {q["doc"] for q in replies[1]["quotes"]} == {"planning.md"}
    assert replies[2]["standalone_question"] == "Where was the Turksib line joined?"  # stands alone
    assert replies[3]["standalone_question"] == "What did it replace?"  # /new forgot the conversation


def test_chat_goes_on_after_a_bad_question(small_index_dir, shared_embedder, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\x00\x01\n" + FIRST + "\n"))
    assert main(["chat", "--index", str(small_index_dir)]) == 0
    out, err = capsys.readouterr()
    assert "error: the question is empty" in err and "February 1921" in out


def test_ask_with_a_history_file(small_index_dir, shared_embedder, tmp_path, capsys):
    pairs = tmp_path / "history.json"
    pairs.write_text(json.dumps([[FIRST, "It was created in February 1921."]]))
    assert main(["ask", "What did it replace?", "--history", str(pairs), "--index", str(small_index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"(searched as: {FIRST} What did it replace?)") and "planning.md" in out

    lines = tmp_path / "chat.jsonl"  # what `rag chat --json` printed
    lines.write_text(json.dumps({"question": FIRST, "answer": "It was created in February 1921."}) + "\n")
    assert main(["ask", "What did it replace?", "--history", str(lines), "--json", "--index", str(small_index_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["standalone_question"] == f"{FIRST} What did it replace?"


@pytest.mark.parametrize(("content", "message"), [
    ("[[1, 2]]", "turn 1 of the history is not a [question, answer] pair of texts"),
    ("{not json", "is not JSON"),
    ('{"question": "q"}\n[1]', "turn 2 of the history"),
])
def test_a_bad_history_file_is_one_clear_error(small_index_dir, shared_embedder, tmp_path, capsys, content, message):
    path = tmp_path / "history.json"
    path.write_text(content)
    assert main(["ask", "What did it replace?", "--history", str(path), "--index", str(small_index_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["search", "planning"], ["ask", FIRST, "--json"], ["retrieve", "--help"]])
def test_output_cut_short_by_a_closed_pipe_ends_quietly(small_index_dir, command):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as with `| head -0`; `| head -1` meets it later
    env = {**os.environ, "RAG_INDEX_DIR": str(small_index_dir)}
    rag = [sys.executable, "-c", "import sys; from rag.cli import main; sys.exit(main())"]
    proc = subprocess.run([*rag, *command], check=False, stdout=write, stderr=subprocess.PIPE, env=env, timeout=300)
    os.close(write)
    assert "Traceback" not in proc.stderr.decode() and "BrokenPipe" not in proc.stderr.decode()
    assert proc.returncode in (0, 141)


@pytest.mark.slow
def test_search_reranks_by_reading_unless_told_not_to(small_index_dir, shared_embedder, capsys):
    question = "How did factory managers react to the higher pig iron targets?"
    assert main(["search", question, "-k", "3", "--json", "--index", str(small_index_dir)]) == 0
    reranked = json.loads(capsys.readouterr().out)
    assert main(["search", question, "-k", "3", "--json", "--no-rerank", "--index", str(small_index_dir)]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert len(reranked) == len(plain) == 3
    assert "reading_score" in reranked[0] and not any("reading_score" in r for r in plain)  # a passage none of whose sentences was read has none
    assert "hiding reserves" in reranked[0]["text"]
