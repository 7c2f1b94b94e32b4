"""Text-side rewards: plain callables ``(prompts, completions, **kw) -> list[float]``.

TRL's reward-function shape, so one function serves evaluation, best-of-n and RL (``training.rl``). A reward
needs to know the user's idea: it comes as the ``idea`` keyword (TRL passes a dataset's extra columns as
keywords); without it the idea is read back as the completion's prefix (text before the first comma).
Image-side rewards (aesthetic, PickScore, CLIP score) have the same shape with images in place of
completions and plug in the same way (``combine``).

Each reward is in [0, 1] (higher is better) so weights in ``combine`` mean what they say:

- ``Fidelity``: MiniLM cosine between the idea and the completion, clipped at 0: does the prompt stay on
  the user's subject?
- ``modifier_quality``: how many clean modifiers the completion adds that the shipped vocabularies classify
  (medium, style, artist, lighting, ...), saturating at ``GOOD_MODIFIERS``, minus the share of phrases the
  director's parser rejects (sentences, counting, markup). Duplicates count once, so repeating a known
  modifier earns nothing.
- ``token_budget``: 1 within the target's CLIP window (77 tokens for SD 1.5), falling linearly to 0 at twice
  the window.
- ``keeps_idea``: 1 if the completion begins with the idea verbatim (subject first).
- ``no_repetition``: 1 minus the share of repeated phrases.
- ``ConstraintSatisfaction``: share of include-clauses met (any alternative present) and exclude-phrases
  absent, matched as whole words like every constraint (``text.contains``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from artdirector.corpus import prompt_prefix
from artdirector.parse import parse_modifiers
from artdirector.text import first_contained, normalise_phrase
from artdirector.tokens import CLIP_MAX_TOKENS, clip_token_count
from artdirector.training.settings import DEFAULT_WEIGHTS
from artdirector.vocab import classify

Reward = Callable[..., list[float]]
GOOD_MODIFIERS = 8


def _ideas(completions: Sequence[str], idea: Sequence[str] | None) -> list[str]:
    return list(idea) if idea is not None else [prompt_prefix(c) for c in completions]


class Fidelity:
    __name__ = "fidelity"

    def __init__(self, embedder):
        self.embedder = embedder

    def __call__(self, prompts, completions, idea=None, **kw) -> list[float]:
        ideas = _ideas(completions, idea)
        a = self.embedder.encode(ideas)
        b = self.embedder.encode([c or " " for c in completions])
        return [max(0.0, float(x)) for x in np.sum(a * b, axis=1)]


def modifier_quality(prompts, completions, idea=None, **kw) -> list[float]:
    out = []
    for text, i in zip(completions, _ideas(completions, idea)):
        rest = text[len(i):] if text.lower().startswith(i.lower()) else text
        parsed = parse_modifiers(rest, i)
        known = {p for p in parsed.phrases if classify(p) != "subject"}
        total = len(parsed.phrases) + len(parsed.rejected)
        score = min(len(known), GOOD_MODIFIERS) / GOOD_MODIFIERS - 0.5 * len(parsed.rejected) / max(total, 1)
        out.append(max(0.0, score))
    return out


def token_budget(prompts, completions, budget: int = CLIP_MAX_TOKENS, **kw) -> list[float]:
    return [min(1.0, max(0.0, 2.0 - clip_token_count(c) / budget)) for c in completions]


def keeps_idea(prompts, completions, idea=None, **kw) -> list[float]:
    ideas = _ideas(completions, idea)
    return [float(c.strip().lower().startswith(i.strip().lower())) for c, i in zip(completions, ideas)]


def no_repetition(prompts, completions, **kw) -> list[float]:
    out = []
    for text in completions:
        phrases = [normalise_phrase(p) for p in text.split(",") if normalise_phrase(p)]
        out.append(len(set(phrases)) / len(phrases) if phrases else 0.0)
    return out


class ConstraintSatisfaction:
    """``include``: clauses, each a list of alternative phrases; ``exclude``: phrases that must not appear."""

    __name__ = "constraint_satisfaction"

    def __init__(self, include: Sequence[Sequence[str]] = (), exclude: Sequence[str] = ()):
        self.include = [[a.lower() for a in clause] for clause in include]
        self.exclude = [e.lower() for e in exclude]

    def __call__(self, prompts, completions, **kw) -> list[float]:
        out = []
        for text in completions:
            low = text.lower()
            met = sum(first_contained(low, clause) is not None for clause in self.include)
            met += sum(first_contained(low, [e]) is None for e in self.exclude)
            out.append(met / max(1, len(self.include) + len(self.exclude)))
        return out


def combine(parts: Sequence[tuple[Reward, float]], name: str = "combined") -> Reward:
    """A weighted mean of rewards (weights normalised to sum 1), itself a reward."""
    total = sum(w for _, w in parts)
    if total <= 0:
        raise ValueError("reward weights must sum to a positive number")

    def reward(prompts, completions, **kw) -> list[float]:
        acc = np.zeros(len(completions))
        for fn, w in parts:
            acc += (w / total) * np.asarray(fn(prompts, completions, **kw), dtype=float)
        return acc.tolist()

    reward.__name__ = name
    return reward




def text_rewards(embedder) -> dict[str, Reward]:
    """Every text-side reward above, by name (the names ``DEFAULT_WEIGHTS`` and ``--reward`` use)."""
    return {"fidelity": Fidelity(embedder), "modifier_quality": modifier_quality, "token_budget": token_budget,
            "keeps_idea": keeps_idea, "no_repetition": no_repetition}


def text_reward(embedder, weights: dict[str, float] | None = None) -> Reward:
    """The default text-side reward for RL and best-of-n: every reward above, weighted."""
    weights = weights or DEFAULT_WEIGHTS
    known = text_rewards(embedder)
    unknown = set(weights) - set(known)
    if unknown:
        raise ValueError(f"unknown rewards {sorted(unknown)}; valid: {sorted(known)}")
    return combine([(known[k], w) for k, w in weights.items()], name="text_reward")
