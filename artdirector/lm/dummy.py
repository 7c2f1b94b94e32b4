"""``DummyLM``: a test double that replays queued outputs (DSPy's ``DummyLM`` idea).

Tokens are characters (id = code point), so the double needs no vocabulary file. ``generate`` returns the
queued completions in order (cycling when ``cycle=True``), cut at the first stop string or at
``max_new_tokens`` characters, like a real model.
``next_token_logprobs`` is deterministic and peaks on the next character of the *current* queued completion,
so decoding algorithms written against the interface can be exercised without weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from artdirector.lm.base import Generation, GenerationConfig, LanguageModel, first_stop

VOCAB = 0x3000  # enough code points for Latin, punctuation and common symbols


class DummyLM(LanguageModel):
    name = "dummy"

    def __init__(self, outputs: Sequence[str] = (), *, cycle: bool = False):
        self.outputs = list(outputs)
        self.cycle = cycle
        self.calls: list[str] = []  # prompts seen, in order, for assertions
        self._next = 0

    def _take(self) -> str:
        if not self.outputs:
            return ""
        if self._next >= len(self.outputs):
            if not self.cycle:
                raise IndexError("DummyLM ran out of queued outputs")
            self._next = 0
        out = self.outputs[self._next]
        self._next += 1
        return out

    def tokenize(self, text: str) -> list[int]:
        return [min(ord(c), VOCAB - 1) for c in text]

    def detokenize(self, tokens: Sequence[int]) -> str:
        return "".join(chr(t) for t in tokens)

    def next_token_logprobs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        target = self.tokenize(self.outputs[self._next % len(self.outputs)]) if self.outputs else []
        out = np.full((len(sequences), VOCAB), -20.0, dtype=np.float32)
        for row, seq in enumerate(sequences):
            # Peak on the queued completion's character at the same offset modulo its length.
            token = target[len(seq) % len(target)] if target else ord(" ")
            out[row, token] = -0.01
        return out

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                 prefixes: Sequence[str] | None = None) -> list[Generation]:
        config = config or GenerationConfig()
        results = []
        for prompt, prefix in zip(prompts, prefixes or [""] * len(prompts)):
            self.calls.append(prompt + prefix)
            # A queued output is the model's whole answer (as if it ended with EOS), cut at the first stop
            # string, or at max_new_tokens characters like a real model hitting its limit.
            text = self._take()
            cut = first_stop(text, config.stop)
            text = text if cut is None else text[:cut]
            finish = "stop"
            if len(text) > config.max_new_tokens:
                text, finish = text[: config.max_new_tokens], "length"
            results.append(Generation(text=text, tokens=self.tokenize(text), finish_reason=finish))
        return results
