"""Domain adaptation of the embedding model to the indexed documents, with no labelled data.

The inverse cloze task (Lee, Chang and Toutanova, 2019): a sentence taken out of a passage is a
query whose answer is the rest of that passage; the other passages of the batch are its wrong
answers. A few minutes of it teach all-MiniLM-L6-v2 the corpus's vocabulary and the way its
passages are written (OCR'd 1970s prose, Soviet terms), which a general model was never shown.
Measured on the dev questions by benchmarks/adapt.py.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from rag.chunking import split_sentences
from rag.settings import AdaptSettings
from rag.store import embedding_text
from rag.types import Passage

Progress = Callable[[str, int, int], None]


def cloze_pairs(passages: list[Passage], settings: AdaptSettings, rng: random.Random) -> list[tuple[str, str]]:
    """(sentence, its passage without it) for every passage with two or more full sentences."""
    pairs = []
    for passage in passages:
        text = " ".join(passage.text.split())
        sentences = [(a, b) for a, b in split_sentences(text) if len(text[a:b].split()) >= settings.min_sentence_words]
        if len(sentences) < 2:
            continue
        a, b = rng.choice(sentences)
        # now and then the sentence stays in: the model should still value plain word overlap
        context = text if rng.random() < settings.keep_sentence_share else text[:a] + text[b:]
        pairs.append((text[a:b], embedding_text(passage.model_copy(update={"text": context}))))
    return pairs


def adapt_model(base_dir: Path, passages: list[Passage], out_dir: Path, settings: AdaptSettings,
                progress: Progress | None = None) -> dict:
    """Train a copy of the model at base_dir on the passages; save it to out_dir. Returns what was done."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    began = time.perf_counter()
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    previous_threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    loss_fn = MultipleNegativesRankingLoss(model)  # cross-entropy over in-batch similarities, scale 20
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    pairs = [pair for _ in range(settings.epochs) for pair in cloze_pairs(passages, settings, rng)]
    rng.shuffle(pairs)
    batches = [pairs[i : i + settings.batch_size] for i in range(0, len(pairs) - settings.batch_size + 1, settings.batch_size)]
    batches = batches[: settings.max_steps or None]
    max_length = model.max_seq_length

    def features(texts: list[str], tokens: int) -> dict:
        model.max_seq_length = tokens
        return model.preprocess(texts)

    losses = []
    model.train()
    try:
        for step, batch in enumerate(batches, start=1):
            queries = features([q for q, _ in batch], settings.query_max_tokens)
            contexts = features([c for _, c in batch], max_length)
            loss = loss_fn([queries, contexts], labels=None)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if progress:
                progress("adapting the embedding model", step, len(batches))
    finally:
        model.max_seq_length = max_length
        torch.set_num_threads(previous_threads)
    model.eval()
    model.save(str(out_dir))
    tail = losses[-10:]
    return {"method": "inverse cloze task", "pairs": len(pairs), "epochs": settings.epochs, "steps": len(batches),
            "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate, "seed": settings.seed,
            "final_loss": round(sum(tail) / len(tail), 4) if tail else None,
            "seconds": round(time.perf_counter() - began, 1)}
