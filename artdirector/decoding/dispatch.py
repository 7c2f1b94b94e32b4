"""Stage 4 of a direction: which decoder writes the answer, checked before any work, and one result type.

Every decoder is a ``Decoder``: built per request (it may keep state across the candidates of that
request: one beam search or one SMC run gives all of an idea's candidates), it declares which LM
capabilities it needs (``lm.base.LanguageModel.capabilities``) and whether it takes constraints or a grammar,
and ``decode`` writes candidate ``k`` of every idea as ``Decoded``. The registry ``DECODERS`` maps names to
classes (``module:Class``, imported on use); a new decoder is one module and one line here, and the CLI's
``--decoding`` choices are read from it.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from artdirector.errors import BadInput, Unsupported

if TYPE_CHECKING:  # the CLI reads the registry at start-up: no NumPy for --help
    from artdirector.lm.base import GenerationConfig, LanguageModel

DECODERS = {
    "greedy": "artdirector.decoding.dispatch:Plain",
    "sample": "artdirector.decoding.dispatch:Plain",
    "beam": "artdirector.decoding.neurologic:BeamDecoder",
    "neurologic": "artdirector.decoding.neurologic:NeuroLogicDecoder",
    "grammar": "artdirector.decoding.grammar:GrammarDecoder",
    "smc": "artdirector.decoding.smc:SMCDecoder",
}
AUTO = "auto"
#: What a caller may ask for: "auto", then every decoder but "sample" (candidates 2..n of greedy sample).
CHOICES = (AUTO, *(name for name in DECODERS if name != "sample"))


@dataclass
class Decoded:
    text: str  # the answer after the prefix the decoder was given
    finish_reason: str = "stop"  # "stop" | "length"
    met: bool | None = None  # whether the decoder itself met every constraint (None: it was not asked to)


class Decoder(ABC):
    name: str = "decoder"
    needs: frozenset[str] = frozenset({"generate"})  # LM capabilities
    takes_grammar: bool = False
    needs_constraints: bool = False

    def __init__(self, lm: LanguageModel, *, constraints=None, grammar=None, max_new_tokens: int = 48):
        self.lm = lm
        self.constraints = constraints
        self.grammar = grammar
        self.max_new_tokens = max_new_tokens

    @abstractmethod
    def decode(self, k: int, prompts: Sequence[str], prefixes: Sequence[str],
               config: GenerationConfig) -> list[Decoded]:
        """Candidate ``k`` of every prompt, each answer begun by its prefix."""


class Plain(Decoder):
    """The LM's own generation: greedy for candidate 0, nucleus sampling for the others."""

    def decode(self, k, prompts, prefixes, config):
        return [Decoded(g.text, g.finish_reason) for g in self.lm.generate(prompts, config, prefixes=prefixes)]


def decoder_class(name: str) -> type[Decoder]:
    module, _, cls = DECODERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def choose(constraints, grammar, decoding: str = AUTO) -> str:
    """The decoder a request gets: ``auto`` is NeuroLogic with constraints, grammar decoding with a grammar,
    SMC with both (the one decoder here that takes both), else greedy/sampling. A combination a decoder
    cannot serve is refused here, before any model loads."""
    if decoding not in CHOICES:
        raise BadInput(f"unknown decoding {decoding!r}; valid: {', '.join(CHOICES)}")
    if decoding == AUTO:
        return {(True, True): "smc", (True, False): "neurologic", (False, True): "grammar"}.get(
            (bool(constraints), grammar is not None), "greedy")
    cls = decoder_class(decoding)
    if cls.needs_constraints and not constraints:
        raise BadInput(f"decoding {decoding!r} needs a constraint (a required or excluded phrase)")
    if grammar is not None and not cls.takes_grammar:
        raise BadInput(f"decoding {decoding!r} does not take a grammar; use 'smc' or 'grammar'")
    if decoding == "grammar" and grammar is not None and constraints and constraints.include:
        raise BadInput("grammar decoding takes required phrases only with the built-in grammar (they are "
                       "compiled into it); with your own grammar use 'smc', or write them into the grammar")
    return decoding


def check_capabilities(lm: LanguageModel, decoding: str, *, steer: bool = False) -> None:
    """Refuse, before any work, a decoder (or steering) that needs what ``lm`` does not declare."""
    from artdirector.lm.base import offers

    need = set(decoder_class(decoding).needs) | ({"logprobs"} if steer else set())
    missing = need - offers(lm.capabilities)
    if missing:
        what = f"decoding {decoding!r}" + (" with steering" if steer else "")
        raise Unsupported(f"{what} needs {', '.join(sorted(missing))} from the language model; {lm.name} offers "
                          f"{', '.join(sorted(lm.capabilities))}. Use plain decoding, or a local backend")


def build(lm: LanguageModel, decoding: str, *, constraints=None, grammar=None, max_new_tokens: int = 48) -> Decoder:
    check_capabilities(lm, decoding)
    return decoder_class(decoding)(lm, constraints=constraints, grammar=grammar, max_new_tokens=max_new_tokens)
