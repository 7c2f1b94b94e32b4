"""Fast CPU backend: llama.cpp (through llama-cpp-python's low-level API) on the same GGUF weights.

Chosen by measurement (``bench/bench_direct.py``): on a 2-core CPU the Q4_1 GGUF decodes several times faster
than PyTorch float32, and llama.cpp decodes many sequences in one batch.

Why the low-level API rather than ``llama_cpp.Llama``: ``Llama`` holds one sequence. The director scores a
batch of sequences that share a long few-shot prefix (one batch of ideas, or the hypotheses of a beam), so
this backend keeps one llama.cpp context with ``n_slots`` sequence slots over a *unified* KV cache. A request
is placed in the slot holding its longest cached prefix; a slot that lacks it borrows the prefix from another
slot with ``llama_memory_seq_cp`` — with a unified cache that shares the cells instead of copying them — and
only the missing suffix is decoded. One ``llama_decode`` call then advances every requested sequence at once.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from artdirector import cpu
from artdirector.lm.base import TokenLM, TokenTable, common_prefix


class LlamaCppLM(TokenLM):
    capabilities = frozenset({"generate", "logprobs", "token_table"})

    def __init__(
        self, model_path: str | Path, *, n_slots: int = 33, n_ctx: int = 8192, wave_tokens: int = 4096,
        n_batch: int = 512, n_threads: int | None = None, lora_path: str | Path | None = None, name: str | None = None,
    ):
        import llama_cpp
        from llama_cpp import _internals, _logger

        _logger.set_verbose(False)  # llama.cpp logs every graph reservation to stderr otherwise

        self.ll = llama_cpp
        self.name = name or Path(model_path).stem
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        # Weight repacking into "extra buffer types" takes llama.cpp's AMX path on CPUs that have AMX, which
        # crashes in builds made with -march=native; the portable build never needs it.
        mparams.use_extra_bufts = False
        self._model = _internals.LlamaModel(path_model=str(model_path), params=mparams, verbose=False)
        cparams = llama_cpp.llama_context_default_params()
        threads = n_threads or cpu.threads()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = n_slots
        cparams.kv_unified = True  # sequences share their common prefix's cells (measured faster too)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        self._ctx = _internals.LlamaContext(model=self._model, params=cparams, verbose=False)
        if lora_path is not None:
            self._apply_lora(Path(lora_path))
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.n_batch = n_batch
        # Tokens decoded together. Every query attends over the whole used span of the unified cache, so a
        # batch of distinct prompts costs quadratically in its total length: measured on 32 retrieval-grounded
        # prompts, waves of ~4k tokens ran 1.7x faster than one 13k-token batch. The rest of n_ctx holds
        # idle slots' prefixes.
        self.token_capacity = min(wave_tokens, int(n_ctx * 0.85))
        self.n_vocab = self._model.n_vocab()
        self.slots: list[list[int]] = [[] for _ in range(n_slots)]
        self._memo: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()  # logprobs of recent sequences
        self._eos = frozenset(t for t in (self._model.token_eos(), self._model.token_eot()) if t >= 0)

    def _meta(self, key: str) -> str:
        buf = ctypes.create_string_buffer(256)
        n = self.ll.llama_model_meta_val_str(self._model.model, key.encode(), buf, len(buf))
        return buf.value.decode() if n >= 0 else ""

    def _apply_lora(self, path: Path) -> None:
        """A llama.cpp LoRA GGUF, or a PEFT adapter folder (converted once by ``lm.export``)."""
        if path.is_dir():
            from artdirector.lm.export import adapter_gguf

            arch = self._meta("general.architecture")
            path = adapter_gguf(path, n_head=int(self._meta(f"{arch}.attention.head_count")),
                                n_head_kv=int(self._meta(f"{arch}.attention.head_count_kv")))
        adapter = self.ll.llama_adapter_lora_init(self._model.model, str(path).encode())
        if not adapter:
            raise ValueError(f"llama.cpp could not load the LoRA adapter {path} (made for another base model?)")
        adapters = (self.ll.llama_adapter_lora_p_ctypes * 1)(adapter)
        if self.ll.llama_set_adapters_lora(self._ctx.ctx, adapters, 1, (ctypes.c_float * 1)(1.0)) != 0:
            raise ValueError(f"llama.cpp refused the LoRA adapter {path}")
        self._adapter = adapter  # the context refers to it: keep it alive as long as the context

    @contextlib.contextmanager
    def plain(self):
        if getattr(self, "_adapter", None) is None:
            yield self
            return
        self.forget()  # cached prefixes were computed with the adapter
        self.ll.llama_set_adapters_lora(self._ctx.ctx, None, 0, None)
        try:
            yield self
        finally:
            self.forget()
            adapters = (self.ll.llama_adapter_lora_p_ctypes * 1)(self._adapter)
            self.ll.llama_set_adapters_lora(self._ctx.ctx, adapters, 1, (ctypes.c_float * 1)(1.0))

    @classmethod
    def from_embedded(cls, *, adapter: str | Path | None = None, progress=None, **kwargs) -> LlamaCppLM:
        """The embedded GGUF with an optional PEFT ``adapter`` (converted once for llama.cpp); loading takes
        well under a second, so ``progress`` has nothing to say."""
        from artdirector.lm.embedded import EMBEDDED_NAME, embedded_gguf

        return cls(embedded_gguf(), name=EMBEDDED_NAME, lora_path=adapter, **kwargs)

    def close(self) -> None:
        if self._batch is not None:
            self.ll.llama_batch_free(self._batch)
            self._batch = None
        self._ctx.close()
        self._model.close()

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return self._eos

    def token_table(self) -> TokenTable:
        return TokenTable("llamacpp", self.ll.llama_model_get_vocab(self._model.model), self.n_vocab,
                          tuple(sorted(self._eos)))

    def tokenize(self, text: str) -> list[int]:
        # special=True: chat-template markers such as <|im_start|> are single tokens, as in transformers.
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._model.detokenize(list(tokens), special=False).decode("utf-8", errors="ignore")

    # -- slot bookkeeping -----------------------------------------------------------------------------

    def forget(self) -> None:
        self._clear()
        self._memo.clear()

    def _clear(self) -> None:
        self.ll.llama_memory_clear(self._ctx.memory, True)
        self.slots = [[] for _ in self.slots]

    def _truncate(self, slot: int, length: int) -> None:
        if len(self.slots[slot]) > length:
            self.ll.llama_memory_seq_rm(self._ctx.memory, slot, length, -1)
            del self.slots[slot][length:]

    def _place(self, seq: Sequence[int], taken: set[int]) -> tuple[int, int]:
        """Choose a free slot for ``seq`` and fill it with the longest cached prefix; return (slot, cached)."""
        free = [i for i in range(len(self.slots)) if i not in taken]
        # Fast path of the decoding loop: a free slot already holds all of seq but its last token.
        for i in free:
            slot = self.slots[i]
            if len(slot) == len(seq) - 1 and slot == list(seq[:-1]):
                return i, len(slot)
        overlap = [common_prefix(s, seq) for s in self.slots]
        home = max(free, key=lambda i: (overlap[i], -len(self.slots[i])))
        donor = max(range(len(self.slots)), key=lambda i: overlap[i])
        # Keep one token to decode: logits are only produced for tokens decoded in this call.
        usable = min(len(seq) - 1, overlap[donor])
        if overlap[home] >= usable:
            self._truncate(home, usable)
        else:
            self._truncate(home, 0)
            self.ll.llama_memory_seq_cp(self._ctx.memory, donor, home, 0, usable)
            self.slots[home] = list(seq[:usable])
        return home, usable

    def _release(self, taken: set[int]) -> None:
        """Trim idle slots to what they share with the busy ones.

        Finished sequences would otherwise keep their cells until the cache fills and everything must be
        cleared and recomputed; shared prefix cells cost nothing extra, so idle slots keep those.
        """
        busy = [self.slots[t] for t in taken]
        for i, slot in enumerate(self.slots):
            if i in taken or not slot or any(b[: len(slot)] == slot for b in busy):
                continue
            self._truncate(i, max(common_prefix(slot, b) for b in busy))

    def _decode(self, work: list[tuple[int, Sequence[int], int]]) -> dict[int, np.ndarray]:
        """Decode ``(slot, tokens, start)`` items in batches; return last-token logits per slot."""
        ll, batch, out = self.ll, self._batch, {}
        queue = [(slot, tok, start + k, k == len(tokens) - 1)
                 for slot, tokens, start in work for k, tok in enumerate(tokens)]
        for begin in range(0, len(queue), self.n_batch):
            chunk = queue[begin: begin + self.n_batch]
            batch.n_tokens = len(chunk)
            for i, (slot, tok, pos, want) in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = slot
                batch.logits[i] = want
            rc = ll.llama_decode(self._ctx.ctx, batch)
            if rc != 0:
                raise _CacheFull(rc)
            for i, (slot, _tok, _pos, want) in enumerate(chunk):
                if want:
                    ptr = ll.llama_get_logits_ith(self._ctx.ctx, i)
                    out[slot] = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                                      shape=(self.n_vocab,)).copy()
        return out

    def _score(self, seqs: list[tuple[int, ...]]) -> list[np.ndarray]:
        shared = seqs[0]
        for s in seqs[1:]:
            shared = shared[: common_prefix(shared, s)]
        if len(seqs) > 1 and len(shared) > 1 and max(common_prefix(s, shared) for s in self.slots) < len(shared):
            # Cache the shared prefix once, so every request below can borrow it instead of recomputing it.
            self._score([shared])
        taken: set[int] = set()
        work, slot_of = [], []
        for seq in seqs:
            slot, cached = self._place(seq, taken)
            taken.add(slot)
            work.append((slot, seq[cached:], cached))
            slot_of.append(slot)
        self._release(taken)
        logits = self._decode(work)
        for slot, tokens, _ in work:
            self.slots[slot].extend(tokens)
        result = []
        for seq, slot in zip(seqs, slot_of):
            row = logits[slot].astype(np.float64)
            row -= row.max()
            row -= np.log(np.exp(row).sum())
            self._memo[seq] = row.astype(np.float32)
            result.append(self._memo[seq])
        while len(self._memo) > 4 * len(self.slots):
            self._memo.popitem(last=False)
        return result

    def next_token_logprobs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        seqs = [tuple(s) for s in sequences]
        if any(len(s) == 0 for s in seqs):
            raise ValueError("every sequence needs at least one token")
        out = np.empty((len(seqs), self.n_vocab), dtype=np.float32)
        todo = [i for i, s in enumerate(seqs) if s not in self._memo]
        for i, s in enumerate(seqs):
            if s in self._memo:
                out[i] = self._memo[s]
        unique = list(dict.fromkeys(seqs[i] for i in todo))
        for begin in range(0, len(unique), len(self.slots)):
            group = unique[begin: begin + len(self.slots)]
            try:
                rows = self._score(group)
            except _CacheFull:
                self._clear()  # the KV cache filled up: start afresh; the work is recomputed once
                rows = self._score(group)
            for s, row in zip(group, rows):
                for i in todo:
                    if seqs[i] == s:
                        out[i] = row
        return out


class _CacheFull(RuntimeError):
    pass
