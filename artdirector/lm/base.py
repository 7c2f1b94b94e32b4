"""The language-model interface every backend implements, split by capability.

``LanguageModel`` is generation only (one abstract method, ``generate``): what any LM can do, a server's
included. ``TokenLM`` adds token-level access in the spirit of outlines' ``BaseBackend`` — ``tokenize``,
``detokenize`` and ``next_token_logprobs`` (log-probabilities of the next token for a *batch* of token
sequences; backends keep a prefix cache so that extending a sequence by one token costs one token of
compute) — and builds a portable ``generate`` on them; a backend may override it with a faster native loop as
long as the results are the same. Decoding algorithms (beam, NeuroLogic, grammar, SMC, steering) are written
once, in ``artdirector.decoding``, against ``next_token_logprobs``.

Each backend declares ``capabilities``; a decoder declares what it needs (``decoding.dispatch``), and a
request that needs more than the model offers is refused before any work:

- ``generate``: text continuation with a ``GenerationConfig``;
- ``logprobs``: full-vocabulary next-token log-probabilities (``TokenLM``);
- ``top_logprobs``: the same interface, exact for the next token's most likely ``k`` only, the rest an estimate
  (a server's ``logprobs=k``: ``openai_backend.OpenAITokenLM``). Beam search and NeuroLogic rank the top
  few and force the rest, so they run on it; SMC, grammars and steering weigh every token and need
  ``logprobs``, which implies it (``offers``);
- ``token_table``: ``token_table()`` describes the vocabulary for a grammar engine (``decoding.grammar``
  builds its masks from it; the model knows nothing of the engine).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: Capabilities that a stronger one implies: full log-probabilities give the top ones too.
IMPLIED = {"logprobs": frozenset({"top_logprobs"})}


def offers(capabilities) -> frozenset[str]:
    """``capabilities`` with what they imply."""
    return frozenset(capabilities).union(*(IMPLIED.get(c, ()) for c in capabilities))


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 48
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 0.95
    seed: int = 0
    stop: tuple[str, ...] = ("\n",)
    # Small models loop ("a lighthouse, a lighthouse, ..."). Two guards, applied to the *answer* so far:
    # an additive presence penalty in nats (OpenAI's presence penalty; additive, so it is exact on
    # log-probabilities, unlike CTRL's multiplicative rule which barely moves a confident token), and a ban
    # on repeating any n-gram (HF's no_repeat_ngram_size).
    presence_penalty: float = 1.0
    no_repeat_ngram_size: int = 3
    # Additive nats per token id (OpenAI's logit_bias): steers decoding toward or away from a vocabulary.
    logit_bias: Mapping[int, float] | None = None

    def __post_init__(self) -> None:
        from artdirector.errors import BadInput, check_seed

        check_seed(self.seed)
        if self.max_new_tokens < 1:
            raise BadInput(f"max_new_tokens must be at least 1 (got {self.max_new_tokens})")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise BadInput(f"temperature must be >= 0 and top_p in (0, 1] (got {self.temperature}, {self.top_p})")
        if self.presence_penalty < 0 or self.no_repeat_ngram_size < 0:
            raise BadInput("presence_penalty and no_repeat_ngram_size must be >= 0")


@dataclass
class Generation:
    text: str
    tokens: list[int] = field(default_factory=list)
    finish_reason: str = "stop"  # "stop" | "length"


@dataclass(frozen=True)
class TokenTable:
    """A vocabulary as a grammar engine reads it. ``kind`` says what ``source`` is: "hf" (a fast transformers
    tokenizer), "llamacpp" (a llama.cpp vocabulary pointer), or "bytes" (a list of every token's bytes, for
    models whose tokens are plain byte strings)."""

    kind: str
    source: object
    n_vocab: int
    eos: tuple[int, ...] = ()


class LanguageModel(ABC):
    """A language model as the director sees it: it continues prompts."""

    name: str = "lm"
    capabilities: frozenset[str] = frozenset({"generate"})

    @abstractmethod
    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                 prefixes: Sequence[str] | None = None) -> list[Generation]:
        """Continue each prompt; ``prefixes[i]`` is text that already begins answer ``i`` (appended to its
        prompt, counted as answer by the anti-repetition guards, not returned)."""

    def format_chat(self, messages: Sequence[tuple[str, str]]) -> str:
        """Chat messages as this model reads them, up to the start of the assistant's answer. The default is
        ChatML (the embedded model's format, and the one its adapter was trained in); a model with its own
        chat template uses it (``TransformersLM.from_pretrained``)."""
        from artdirector.prompting import chatml

        return chatml(messages)

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the model's memory (``generate`` hands memory to the image pipeline this way)."""

    @contextlib.contextmanager
    def plain(self):
        """Inside the block the model runs without its fine-tuned adapter: for text the adapter was never trained
        to write (the wildcard lists of ``templates``), where the prompt-director adapter only writes modifiers.
        A model without an adapter is plain already."""
        yield self

    def forget(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Drop what is cached between calls (a KV prefix cache), so the next call computes exactly as after
        a fresh load: a cached prefix is computed in other batch shapes, and floating-point sums in another order
        can flip a near-tied greedy choice. ``batch`` calls it per chunk, so a chunk's directions do not depend
        on which chunks ran before it in that process (resume, Ray actors)."""

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset()


class TokenLM(LanguageModel):
    """A causal LM with token-level access: the decoders of ``artdirector.decoding`` run on it."""

    capabilities = frozenset({"generate", "logprobs"})

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""

    @abstractmethod
    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of ``tokens``."""

    @abstractmethod
    def next_token_logprobs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Log-probabilities of the next token after each sequence: shape ``(len(sequences), vocab)``."""

    def token_table(self) -> TokenTable:
        """The vocabulary for a grammar engine (capability ``token_table``)."""
        from artdirector.errors import Unsupported

        raise Unsupported(f"{self.name} exposes no token table, so it cannot decode under a grammar")

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                 prefixes: Sequence[str] | None = None) -> list[Generation]:
        """All prompts advance together, one batched call per step. The director begins each answer with
        the idea as its prefix, so the model cannot simply echo it."""
        config = config or GenerationConfig()
        rng = np.random.default_rng(config.seed)
        heads = [self.tokenize(x) if x else [] for x in (prefixes or [""] * len(prompts))]
        seqs = [self.tokenize(p) + h for p, h in zip(prompts, heads)]
        starts = [len(s) for s in seqs]
        texts = [""] * len(seqs)
        done: list[str | None] = [None] * len(seqs)
        for wave in self._waves(seqs, config.max_new_tokens):
            for _ in range(config.max_new_tokens):
                live = [i for i in wave if done[i] is None]
                if not live:
                    break
                logprobs = self.next_token_logprobs([seqs[i] for i in live])
                for row, i in enumerate(live):
                    token = pick_token(logprobs[row], heads[i] + seqs[i][starts[i]:], config, rng)
                    if token in self.eos_token_ids:
                        done[i] = "stop"
                        continue
                    seqs[i].append(token)
                    texts[i] = self.detokenize(seqs[i][starts[i]:])
                    cut = first_stop(texts[i], config.stop)
                    if cut is not None:
                        texts[i] = texts[i][:cut]
                        done[i] = "stop"
        return [
            Generation(text=t, tokens=s[start:], finish_reason=d or "length")
            for t, s, start, d in zip(texts, seqs, starts, done)
        ]

    #: Most tokens the backend can hold at once (a KV cache's cells); ``None`` means no limit.
    token_capacity: int | None = None

    def _waves(self, seqs: Sequence[Sequence[int]], new_tokens: int) -> list[list[int]]:
        """Split a batch into waves that fit ``token_capacity``: the prefix all prompts share counts once,
        each prompt's own tokens and its new tokens count per prompt."""
        if not self.token_capacity or len(seqs) < 2:
            return [list(range(len(seqs)))]
        shared = min(common_prefix(seqs[0], s) for s in seqs)
        waves, used = [[]], shared
        for i, s in enumerate(seqs):
            need = len(s) - shared + new_tokens
            if waves[-1] and used + need > self.token_capacity:
                waves.append([])
                used = shared
            waves[-1].append(i)
            used += need
        return waves


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the common prefix, by binary search over slice equality (C-speed compares)."""
    a, b = list(a), list(b)
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def adjust_scores(scores: np.ndarray, answer: Sequence[int], config: GenerationConfig) -> np.ndarray:
    """Apply the logit bias and the anti-repetition guards to one row of log-probabilities (in place)."""
    if config.logit_bias:
        ids = np.fromiter(config.logit_bias.keys(), dtype=np.int64)
        scores[ids] += np.fromiter(config.logit_bias.values(), dtype=np.float64)
    if config.presence_penalty and len(answer):
        scores[np.fromiter(set(answer), dtype=np.int64)] -= config.presence_penalty
    n = config.no_repeat_ngram_size
    if n and len(answer) >= n:
        tail = tuple(answer[len(answer) - n + 1:])
        banned = [answer[i + n - 1] for i in range(len(answer) - n + 1) if tuple(answer[i:i + n - 1]) == tail]
        if banned:
            scores[banned] = -np.inf
    return scores


def pick_token(logprobs: np.ndarray, answer: Sequence[int], config: GenerationConfig, rng) -> int:
    """Greedy or nucleus sampling after the anti-repetition guards."""
    scores = adjust_scores(np.array(logprobs, dtype=np.float64, copy=True), answer, config)
    if config.temperature <= 0:
        return int(np.argmax(scores))
    scores = scores / config.temperature
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    keep, p = nucleus(probs, config.top_p)
    return int(rng.choice(keep, p=p))


NUCLEUS_HEAD = 64


def nucleus(probs: np.ndarray, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """The most likely tokens whose mass first reaches ``top_p``, likeliest first, and their renormalised
    probabilities. The nucleus is nearly always a few tokens of a 49k vocabulary: the ``NUCLEUS_HEAD`` likeliest are
    found by partition and only they are sorted (a full sort per token and sequence was 3% of a direction's time);
    the whole vocabulary is sorted only when they fall short of ``top_p``."""
    head = np.argpartition(-probs, NUCLEUS_HEAD)[:NUCLEUS_HEAD] if len(probs) > NUCLEUS_HEAD else np.arange(len(probs))
    order = head[np.argsort(-probs[head], kind="stable")]
    cumulative = np.cumsum(probs[order])
    if cumulative[-1] < top_p and len(order) < len(probs):
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
    keep = order[: int(np.searchsorted(cumulative, top_p)) + 1]
    return keep, probs[keep] / probs[keep].sum()
