"""``DummyLM``: a test double that writes known answers, through every decoder (DSPy's ``DummyLM`` idea).

Tokens are characters (id = code point; id 0 is end-of-sequence), so the double needs no vocabulary file.
Answers are given either as a list (``generate`` returns them in order, cycling when ``cycle=True``) or as a
mapping from a piece of prompt text to the answer (the first key the prompt contains wins), so one double can
serve a batch of different ideas in any order.

``next_token_logprobs`` makes the same answers reachable by any decoding algorithm: it finds where the answer
begins in the sequence (after the last ``ANSWER_START``, the chat frame's assistant marker, else at the
start), aligns the answer written so far with the wanted answer (the longest tail of the one that begins the
other, so a prefix the decoder supplied, such as the idea, is allowed for) and peaks on the wanted answer's
next character, then on end-of-sequence (then a line end, then a comma, for a grammar that demands more). A
beam or a grammar that leaves the wanted answer still gets a deterministic distribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from artdirector.lm.base import Generation, GenerationConfig, TokenLM, TokenTable, first_stop

VOCAB = 0x3000  # enough code points for Latin, punctuation and common symbols
EOS = 0
ANSWER_START = "<|im_start|>assistant\n"
PEAK, FLOOR = -0.01, -20.0


class DummyLM(TokenLM):
    name = "dummy"
    capabilities = frozenset({"generate", "logprobs", "token_table"})

    def __init__(self, outputs: Sequence[str] | Mapping[str, str] = (), *, cycle: bool = False,
                 default: str | None = None):
        """``outputs``: answers in order, or {prompt text: answer}; ``default``: the answer for a prompt no
        key matches (else that is an error, so a test cannot pass on the wrong prompt)."""
        self.keyed = dict(outputs) if isinstance(outputs, Mapping) else None
        self.outputs = [] if self.keyed is not None else list(outputs)
        self.cycle = cycle
        self.default = default
        self.calls: list[str] = []  # prompts seen by ``generate``, in order, for assertions
        self._next = 0

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({EOS})

    def answer_for(self, prompt: str) -> str:
        """The answer this double writes after ``prompt`` (keyed mode)."""
        for key, answer in self.keyed.items():
            if key in prompt:
                return answer
        if self.default is not None:
            return self.default
        raise KeyError(f"DummyLM has no answer for a prompt ending {prompt[-80:]!r}")

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
        return [min(ord(c), VOCAB - 1) or 1 for c in text]

    def detokenize(self, tokens: Sequence[int]) -> str:
        return "".join(chr(t) for t in tokens if t != EOS)

    def token_table(self) -> TokenTable:
        tokens = [chr(i).encode("utf-8", "surrogatepass") for i in range(VOCAB)]
        tokens[EOS] = b"\xff<eos>"
        return TokenTable("bytes", tokens, VOCAB, (EOS,))

    def _wanted(self, prompt: str) -> str:
        if self.keyed is not None:
            return self.answer_for(prompt)
        return self.outputs[self._next % len(self.outputs)] if self.outputs else ""

    def next_token_logprobs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        out = np.full((len(sequences), VOCAB), FLOOR, dtype=np.float32)
        for row, seq in enumerate(sequences):
            text = self.detokenize(seq)
            cut = text.rfind(ANSWER_START)
            prompt, written = (text[:cut], text[cut + len(ANSWER_START):]) if cut >= 0 else ("", text)
            wanted = self._wanted(prompt)
            # The longest tail of what is written that begins the wanted answer: where the answer stands.
            at = next((j for j in range(min(len(written), len(wanted)), 0, -1) if written.endswith(wanted[:j])), 0)
            if at < len(wanted):
                out[row, self.tokenize(wanted[at])[0]] = PEAK
            else:  # done: end, else end the line, else end the phrase (what a grammar may still demand)
                out[row, [EOS, ord("\n"), ord(",")]] = [PEAK, -1.0, -2.0]
        return out

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                 prefixes: Sequence[str] | None = None) -> list[Generation]:
        config = config or GenerationConfig()
        results = []
        for prompt, prefix in zip(prompts, prefixes or [""] * len(prompts)):
            self.calls.append(prompt + prefix)
            # An answer is the model's whole answer (as if it ended with EOS), cut at the first stop string,
            # or at max_new_tokens characters like a real model hitting its limit.
            text = self.answer_for(prompt) if self.keyed is not None else self._take()
            if prefix and text.startswith(prefix):
                text = text[len(prefix):]
            cut = first_stop(text, config.stop)
            text = text if cut is None else text[:cut]
            finish = "stop"
            if len(text) > config.max_new_tokens:
                text, finish = text[: config.max_new_tokens], "length"
            results.append(Generation(text=text, tokens=self.tokenize(text), finish_reason=finish))
        return results
