"""Vocabulary steering (Fooocus V2's prompt expansion, on our LM): nudge decoding toward an expert vocabulary.

Fooocus biases its GPT-2 expansion toward the tokens of a curated list of positive words and away from
repeating the prompt. Here: every token of the shipped vocabularies' ``size`` most used phrases (DiffusionDB
frequency; tokenised with a leading space, as they appear mid-prompt) gets ``+bias`` nats (OpenAI-style
``logit_bias``, additive on log-probabilities); the presence penalty of ``GenerationConfig`` already pushes
away from tokens the answer (which begins with the idea) has used. Soft: nothing is forced or forbidden.
"""

from __future__ import annotations

from functools import lru_cache

from artdirector.lm.base import TokenLM

DEFAULT_BIAS = 2.0
DEFAULT_SIZE = 1500


@lru_cache(maxsize=8)
def _vocab_tokens(lm: TokenLM, size: int) -> frozenset[int]:
    from artdirector.vocab import vocabulary

    entries = sorted(vocabulary().values(), key=lambda e: -e.weight)[:size]
    return frozenset(t for e in entries for t in lm.tokenize(" " + e.phrase))


def vocabulary_bias(lm: TokenLM, bias: float = DEFAULT_BIAS, size: int = DEFAULT_SIZE) -> dict[int, float]:
    """``logit_bias`` for ``GenerationConfig``: ``bias`` nats on every token of the expert vocabulary."""
    return {t: bias for t in _vocab_tokens(lm, size)}
