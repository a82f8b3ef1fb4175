"""Check the hand-written training splits: every evidence quote occurs in its document, every document is catalogued.

    PYTHONPATH=$PWD /work/main/.venv/bin/python training/check_items.py [split folders...]

A quote must match the document after the evaluation's normalization (rag.text.normalize), with the
document's running heads (page furniture) removed first, so a quote may run across a page break but may
not contain a running head. HTML is compared as the loader extracts its text. Prints counts by kind and
label per split; exits 1 on any failure.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from rag.errors import RagError
from rag.loaders import SUPPORTED, load_file, read_catalog
from rag.structure import find_running_heads
from rag.text import normalize

SPLITS = [Path(__file__).parent / name for name in ("train", "heldout", "heldout_claims", "corpus_check")]
CORPUS = Path(__file__).resolve().parent.parent / "corpus"  # the documents of a split that holds none of its own
KINDS = {"factual", "conceptual", "cross-doc", "unanswerable"}
LABELS = {"supported", "refuted", "not_in_corpus"}


def document_text(path: Path) -> str:
    """Normalized text of a document as the evaluation reads it: running heads cut out."""
    text = load_file(path).text
    for head in reversed(find_running_heads(text)):
        text = text[: head.start] + "\n" + text[head.end :]
    return normalize(text)


def check_item(item: dict, texts: dict[str, str]) -> list[str]:
    """Problems with one item (an empty list if it is sound)."""
    problems = []
    is_question = item.get("type") == "question"
    category = item.get("kind") if is_question else item.get("label")
    if category not in (KINDS if is_question else LABELS):
        return [f"unknown kind/label {category!r}"]
    if not (item.get("question") if is_question else item.get("claim")) or (is_question and not item.get("answer")):
        problems.append("missing question/claim text or answer")
    evidence = item.get("evidence", [])
    if category in ("unanswerable", "not_in_corpus"):
        return problems + (["has evidence but should have none"] if evidence else [])
    if not evidence:
        problems.append("no evidence")
    for ev in evidence:
        doc, quote = ev.get("doc"), normalize(ev.get("quote", ""))
        if doc not in texts:
            problems.append(f"evidence cites unknown document {doc!r}")
        elif len(quote.split()) < 8:
            problems.append(f"quote under 8 words in {doc}: {quote!r}")
        elif quote not in texts[doc]:
            problems.append(f"quote not found verbatim in {doc}: {quote[:70]!r}...")
    if category == "cross-doc" and len({ev.get("doc") for ev in evidence}) < 2:
        problems.append("cross-doc question cites fewer than two documents")
    return problems


def check_split(folder: Path) -> int:
    """Print problems and counts for one split; return the number of problems."""
    failures = 0
    items_file = folder / "items.jsonl"
    if not any(p.suffix.lower() in SUPPORTED for p in folder.iterdir()):
        folder = CORPUS
    catalog = read_catalog(folder)
    docs = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED)
    texts = {}
    for path in docs:
        try:
            texts[path.name] = document_text(path)
        except RagError as e:
            print(f"{folder.name}/{path.name}: cannot load: {e}")
            failures += 1
        if path.name not in catalog:
            print(f"{folder.name}/{path.name}: not in catalog.toml")
            failures += 1
    for name in catalog:
        if name not in texts:
            print(f"{folder.name}: catalog.toml lists {name}, which is not in the folder")
            failures += 1
    counts, seen = Counter(), set()
    for number, line in enumerate(items_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        problems = check_item(item, texts)
        if item.get("id") in seen:
            problems.append("duplicate id")
        seen.add(item.get("id"))
        for problem in problems:
            print(f"{folder.name}/items.jsonl:{number} {item.get('id')}: {problem}")
        failures += len(problems)
        counts[(item.get("type"), item.get("kind") or item.get("label"))] += 1
    words = {name: len(text.split()) for name, text in texts.items()}
    print(f"{items_file.parent.name}: {len(docs)} documents ({', '.join(f'{n} {w} words' for n, w in words.items())})")
    for (kind, category), n in sorted(counts.items()):
        print(f"  {kind:8} {category:13} {n}")
    print(f"  total {sum(counts.values())} items, {failures} problems")
    return failures


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or [f for f in SPLITS if (f / "items.jsonl").exists()]
    if not folders:
        print("no split with an items.jsonl found")
        return 1
    return 1 if sum(check_split(f) for f in folders) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
