"""Scoring by the rules of the eval README: retrieval hits, recall@k, MRR, answer and claim scores."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from rag.errors import BadInput
from rag.quotes import locate
from rag.settings import PROJECT_ROOT
from rag.text import normalize

DEFAULT_EVAL = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"  # the dev set beside the project (shared/eval)


def load_items(path: Path, kind: str | None = None) -> list[dict]:
    """Items of an eval JSONL file, optionally only those of one type ("question" or "claim")."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read the eval file {path}: {getattr(e, 'strerror', None) or e}; pass one with --eval FILE") from e
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}, line {number}: not a JSON object ({e.msg})") from e
    return [i for i in items if kind is None or i.get("type") == kind]


def hits(passage_text: str, passage_doc: str, evidence: list[dict], window: int = 8) -> bool:
    """True if the passage comes from a gold document and holds 8 consecutive words of its quote."""
    text = normalize(passage_text)
    for ev in evidence:
        if ev["doc"] != passage_doc:
            continue
        words = normalize(ev["quote"]).split()
        if len(words) <= window:
            if " ".join(words) in text:
                return True
            continue
        if any(" ".join(words[i : i + window]) in text for i in range(len(words) - window + 1)):
            return True
    return False


def retrieval_scores(items: list[dict], ranked_by_id: dict[str, list[dict]], ks=(1, 3, 5, 10)) -> dict:
    """recall@k and MRR@10 overall and per kind, over answerable questions."""
    groups: dict[str, list[tuple[int | None]]] = defaultdict(list)
    for item in items:
        if item.get("type") != "question" or not item.get("evidence"):
            continue
        ranked = ranked_by_id.get(item["id"], [])
        first = next((r for r, p in enumerate(ranked[:10], start=1) if hits(p["text"], p["doc"], item["evidence"])), None)
        groups["all"].append(first)
        groups[item.get("kind", "?")].append(first)
    out = {}
    for name, firsts in groups.items():
        row = {f"recall@{k}": sum(1 for f in firsts if f and f <= k) / len(firsts) for k in ks}
        row["mrr@10"] = sum(1 / f for f in firsts if f) / len(firsts)
        row["n"] = len(firsts)
        out[name] = row
    return out


def cross_doc_coverage(items: list[dict], ranked_by_id: dict[str, list[dict]], k: int = 10) -> tuple[int, int]:
    """(questions with evidence from every gold document in the top k, cross-doc questions)."""
    done = total = 0
    for item in items:
        if item.get("kind") != "cross-doc":
            continue
        total += 1
        ranked = ranked_by_id.get(item["id"], [])[:k]
        docs = {ev["doc"] for ev in item["evidence"]}
        if all(any(hits(p["text"], p["doc"], [ev for ev in item["evidence"] if ev["doc"] == d]) for p in ranked) for d in docs):
            done += 1
    return done, total


def answer_scores(items: list[dict], answers_by_id: dict[str, dict], document_text) -> dict:
    """Quotation precision, citation recall, abstention and wrong abstention, as the README defines them."""
    quotes = verbatim = answerable = cited = unanswerable = abstained_right = wrongly_abstained = 0
    for item in items:
        if item.get("type") != "question":
            continue
        answer = answers_by_id.get(item["id"], {"quotes": [], "abstained": False})
        for q in answer.get("quotes", []):
            quotes += 1
            # the README's rule: verbatim after normalization, running heads between its parts left out, never inside
            verbatim += locate(q["text"], document_text(q["doc"]), allow_repair=False) is not None
        if item.get("evidence"):
            answerable += 1
            cited += any(hits(q["text"], q["doc"], item["evidence"]) for q in answer.get("quotes", []))
            wrongly_abstained += bool(answer.get("abstained"))
        else:
            unanswerable += 1
            abstained_right += bool(answer.get("abstained")) and not answer.get("quotes")
    return {"quotation_precision": verbatim / quotes if quotes else 1.0, "quotations": quotes,
            "citation_recall": cited / answerable if answerable else 0.0,
            "abstention": abstained_right / unanswerable if unanswerable else 0.0,
            "wrong_abstention": wrongly_abstained / answerable if answerable else 0.0,
            "answerable": answerable, "unanswerable": unanswerable}


def claim_scores(items: list[dict], verdicts_by_id: dict[str, dict]) -> dict:
    """Claim accuracy overall and per label."""
    per: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        if item.get("type") != "claim":
            continue
        right = verdicts_by_id.get(item["id"], {}).get("verdict") == item["label"]
        per["all"].append(right)
        per[item["label"]].append(right)
    return {label: {"accuracy": sum(v) / len(v), "n": len(v)} for label, v in per.items()}


def format_scores(scores: dict) -> str:
    """A table of scores by group (all first)."""
    columns = [c for c in next(iter(scores.values())) if c != "n"]
    lines = [f"{'group':<14}{'n':>4}" + "".join(f"{c:>12}" for c in columns)]
    for name in sorted(scores, key=lambda n: (n != "all", n)):
        row = scores[name]
        lines.append(f"{name:<14}{row['n']:>4}" + "".join(f"{row[c]:>12.3f}" for c in columns))
    return "\n".join(lines)
