"""PyTorch backend: any causal LM transformers can load, on CPU or GPU, with an optional PEFT adapter.

This is the reference backend (training and the adapters live here) and the baseline the fast path is
measured against. ``generate`` is transformers' own ``generate``; ``next_token_logprobs`` keeps a small LRU
cache of key/value states for the prefix shared by a batch (the few-shot prompt, or the beam's common
history), so repeated scoring of hypotheses only computes their differing suffixes.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from artdirector.lm.base import (
    Generation,
    GenerationConfig,
    TokenLM,
    TokenTable,
    adjust_scores,
    common_prefix,
    first_stop,
)


class TransformersLM(TokenLM):
    capabilities = frozenset({"generate", "logprobs", "token_table"})

    def __init__(self, model, tokenizer, *, name: str = "transformers", cache_size: int = 4,
                 own_chat_template: bool = False):
        """``own_chat_template``: format chat prompts with the tokenizer's template (another model's own
        format) rather than the embedded model's ChatML."""
        import torch

        self.torch = torch
        self.model = model.eval()
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.name = name
        self._cache: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self._cache_size = cache_size
        self.own_chat_template = own_chat_template and bool(getattr(tokenizer, "chat_template", None))

    @classmethod
    def from_pretrained(
        cls, path_or_id: str | Path, *, device: str | None = None, dtype: str | None = None,
        adapter: str | Path | None = None, name: str | None = None, own_chat_template: bool = True,
    ) -> TransformersLM:
        """Load a local directory or hub id; ``adapter`` is a PEFT adapter directory to apply on top."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available()
                            else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else (torch.float32 if device == "cpu" else torch.bfloat16)
        tokenizer = AutoTokenizer.from_pretrained(path_or_id)
        model = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=torch_dtype).to(device)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        return cls(model, tokenizer, name=name or str(path_or_id), own_chat_template=own_chat_template)

    @classmethod
    def from_embedded(cls, *, device: str | None = None, progress=None, adapter=None) -> TransformersLM:
        from artdirector.lm.embedded import EMBEDDED_NAME, ensure_converted

        return cls.from_pretrained(ensure_converted(progress), device=device, adapter=adapter, name=EMBEDDED_NAME,
                                   own_chat_template=False)

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({self.tokenizer.eos_token_id})

    @contextlib.contextmanager
    def plain(self):
        if not hasattr(self.model, "disable_adapter"):  # no PEFT adapter loaded
            yield self
            return
        self._cache.clear()  # cached states were computed with the adapter
        try:
            with self.model.disable_adapter():
                yield self
        finally:
            self._cache.clear()

    def close(self) -> None:
        import gc

        self.model = None
        self._cache.clear()  # cached key/value states hold the most memory after the weights
        gc.collect()
        if self.torch.cuda.is_available():
            self.torch.cuda.empty_cache()

    def format_chat(self, messages) -> str:
        if not self.own_chat_template:
            return super().format_chat(messages)
        return self.tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in messages],
                                                  add_generation_prompt=True, tokenize=False)

    def token_table(self) -> TokenTable:
        return TokenTable("hf", self.tokenizer, self.model.config.vocab_size, (self.tokenizer.eos_token_id,))

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=True)

    # -- scoring with a shared-prefix cache -------------------------------------------------------------

    def _prefix_state(self, prefix: tuple[int, ...]):
        """Key/value states for ``prefix`` (batch 1), extending the longest cached ancestor."""
        from transformers import DynamicCache

        torch = self.torch
        if not prefix:
            return None
        if prefix in self._cache:
            self._cache.move_to_end(prefix)
            return self._cache[prefix]
        base = max((k for k in self._cache if len(k) < len(prefix) and prefix[: len(k)] == k), key=len, default=())
        import copy

        state = copy.deepcopy(self._cache[base]) if base else DynamicCache()
        ids = torch.tensor([prefix[len(base):]], device=self.device)
        with torch.no_grad():
            self.model(input_ids=ids, past_key_values=state, use_cache=True)
        self._cache[prefix] = state
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return state

    def next_token_logprobs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        import copy

        torch = self.torch
        seqs = [tuple(s) for s in sequences]
        if not seqs or any(len(s) == 0 for s in seqs):
            raise ValueError("every sequence needs at least one token")
        # Every row keeps at least one token to compute.
        shared = min(min(len(s) for s in seqs) - 1, *(common_prefix(seqs[0], s) for s in seqs))
        prefix = seqs[0][:shared]
        state = self._prefix_state(prefix)
        suffixes = [s[shared:] for s in seqs]
        width = max(len(x) for x in suffixes)
        pad = self.tokenizer.pad_token_id
        # Left-pad the suffixes so every row's last token sits in the last column; the padding sits between
        # the cached prefix and the suffix and is masked out, with positions counted over real tokens only.
        ids = torch.tensor([[pad] * (width - len(x)) + list(x) for x in suffixes], device=self.device)
        suffix_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in suffixes], device=self.device)
        mask = torch.cat([torch.ones(len(seqs), shared, dtype=torch.long, device=self.device), suffix_mask], 1)
        positions = (mask.cumsum(1) - 1).clamp(min=0)[:, shared:]
        past = None
        if state is not None:
            past = copy.deepcopy(state)
            past.batch_repeat_interleave(len(seqs))
        with torch.no_grad():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=past,
                             use_cache=past is not None)
        logits = out.logits[:, -1, :].float()
        return torch.log_softmax(logits, dim=-1).cpu().numpy()

    # -- generation --------------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                 prefixes: Sequence[str] | None = None) -> list[Generation]:
        """transformers' ``generate`` with the same anti-repetition guards as every other backend."""
        from transformers import LogitsProcessor, LogitsProcessorList

        torch = self.torch
        config = config or GenerationConfig()
        self.tokenizer.padding_side = "left"
        heads = [self.tokenize(x) if x else [] for x in (prefixes or [""] * len(prompts))]
        rows = [self.tokenize(p) + h for p, h in zip(prompts, heads)]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)

        class Guards(LogitsProcessor):
            def __call__(self, input_ids, scores):
                logprobs = torch.log_softmax(scores.float(), dim=-1).cpu().numpy()
                for b, row in enumerate(input_ids.tolist()):
                    adjust_scores(logprobs[b], row[width - len(heads[b]):], config)
                return torch.from_numpy(logprobs).to(scores.device, scores.dtype)

        sample = config.temperature > 0
        torch.manual_seed(config.seed)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=config.max_new_tokens,
                do_sample=sample,
                temperature=config.temperature if sample else None,
                top_p=config.top_p if sample else None,
                top_k=None,
                logits_processor=LogitsProcessorList([Guards()]),
                stop_strings=[s for s in config.stop if s] or None,
                tokenizer=self.tokenizer,
                pad_token_id=pad,
            )
        results = []
        for row in out[:, width:].tolist():
            tokens = [t for t in row if t != pad]
            text = self.detokenize(tokens)
            cut = first_stop(text, config.stop)
            finish = "stop" if cut is not None or self.tokenizer.eos_token_id in row else "length"
            results.append(Generation(text=text if cut is None else text[:cut], tokens=tokens, finish_reason=finish))
        return results
