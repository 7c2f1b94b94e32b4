"""Stage 2 of a direction: the human prompts closest to the idea, and the vote their modifiers cast.

LaDi's "weighted pool": the phrases of the ``RAG_DEPTH`` closest human prompts vote with their cosine
similarity to the idea, each phrase the model wrote adds ``MODEL_VOTE``, and the best ``MAX_MODIFIERS`` are
kept. Chosen on the validation split (100 ideas, exact modifier F1 of the first candidate: model alone
0.069, model + pool vote 0.119; the pool alone 0.100); never on test.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.corpus import prompt_modifiers
from artdirector.parse import parse_modifiers

RAG_DEPTH = 18
MODEL_VOTE = 1.0
MAX_MODIFIERS = 8
MAX_VOTED_WORDS = 4  # longer retrieved phrases are scene descriptions, not modifiers


def retrieve(library, collection: str, idea: str, k: int = RAG_DEPTH) -> list:
    """The library's closest human prompts (``library.Hit``), best first; none without a library."""
    if library is None:
        return []
    return library.search(idea, k=k, mode="vector", collection=collection)


def pool_weights(retrieved: Sequence) -> dict[str, float]:
    """Each modifier of the retrieved prompts, weighted by the similarity of the prompts that use it."""
    weight: dict[str, float] = {}
    for hit in retrieved:
        # The same cleaning as the model's own output, so a retrieved "1024x768" stays out.
        for m in parse_modifiers(", " + ", ".join(prompt_modifiers(hit.prompt))).phrases:
            if len(m.split()) <= MAX_VOTED_WORDS:
                weight[m] = weight.get(m, 0.0) + max(hit.score, 0.0)
    return weight


def vote(model_phrases: Sequence[str], retrieved: Sequence) -> list[str]:
    """The model's phrases and the pool's, ranked by their combined vote; the best ``MAX_MODIFIERS``."""
    weight = pool_weights(retrieved)
    for phrase in model_phrases:
        weight[phrase] = weight.get(phrase, 0.0) + MODEL_VOTE
    return sorted(weight, key=lambda m: -weight[m])[:MAX_MODIFIERS]


def shared_modifiers(retrieved: Sequence, k: int) -> list[str]:
    """The ``k`` modifiers the retrieved prompts share most (by similarity-weighted use)."""
    weight = pool_weights(retrieved)
    return sorted(weight, key=lambda m: -weight[m])[:k]
