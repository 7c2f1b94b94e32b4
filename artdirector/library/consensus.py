"""Stage 5's set-level choice (``--ranker consensus``): the modifiers that agree best with the closest prompts.

A learned ranker scores each phrase on its own and takes the best few; the vote adds up per-phrase weights. Both
miss that a human prompt is a set: its phrases go together, and the score that matters (soft modifier F1
against the human's prompt) is a set score. This ranker treats the retrieved prompts as samples of what the human
might have written, each weighed by its similarity to the idea raised to ``SHARPNESS`` (the closest count far
more), and the model's own answer as one more such sample (weighed ``MODEL_WEIGHT`` times the closest prompt),
and builds the set with the highest expected soft F1 against them: minimum-Bayes-risk selection (Kumar and
Byrne, 2004), the decision rule that maximises an expected metric, applied greedily to a set.

1. The candidates: every retrieved prompt's modifiers and the model's phrases. A candidate matches a sample
   when the sample holds a phrase within the metrics' soft-match cosine (``SOFT``).
2. Greedily, the candidate whose addition raises the weighted sum of ``2 * matches / (len(set) + len(sample))``
   the most is added (matches per sample capped at the sample's size; a candidate within ``SOFT`` of a taken
   one, or saying the same by ``guards.say_the_same``, is no longer a candidate). Each gain is weighed by the
   phrase's specificity ** variety (``retrieval.specificity``), so that a generic phrase must agree more
   than a specific one, and by ``REUSE_DISCOUNT`` for each earlier candidate direction of the same idea that
   took it (``--n``). The set stops growing when no candidate raises the expected F1: that is its size.
3. The order continues past that point, so that the guards, which drop phrases, can refill from the next best.
   Genres neither the idea nor a close prompt names are left out (``ranker.own_genres``).

Ideas far from the library (the nearest retrieved idea below ``ranker.MIN_SIMILARITY``) have samples about other
things; there the vote weighed by relatedness chooses (``ranker.Vote``).

Why hand-written: the greedy expected-F1 set over soft matches is a loop over a small matrix; MBR libraries
rerank whole generated texts, not sets assembled from a pool.

Measured on 200 validation prefixes with the same cached LM answers: the set on its own, before the guards and
the renderer, at variety 0 and up to 12 phrases, matches the human's modifiers with soft F1 0.239 (1.34x the
nearest human prompt's 0.178); at variety 0.5, 0.227. Through the guards and the sd15 renderer
(``python bench/bench_selection.py --limit 200 --variants 0,1,13,14,15``) it scores 0.186 against the learned
ranker's 0.187, with more boilerplate (top-10 share 0.29 against 0.21, distinct added 0.33 against 0.36), and
with ``--details`` 0.199 against 0.203: most of what it agrees on is the human's own scene details, which the
guard against invented subject matter drops (281 of its phrases on 200 ideas, 73 of them the human's). So the
learned ranker stays the default. Building the set from the phrases that guard admits (``admits``, which every
ranker now takes) raised it only to 0.191.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from artdirector.guards import say_the_same
from artdirector.library.ranker import SOFT, Admits, PhraseVectors, Ranking, Vote, far, own_genres
from artdirector.library.retrieval import MAX_MODIFIERS, RAG_DEPTH, REUSE_DISCOUNT, VARIETY, hit_modifiers, specificity

SHARPNESS = 8.0  # on validation: 1 -> 0.214, 4 -> 0.234, 8 -> 0.239 soft F1 (48 prompts, no variety)
MODEL_WEIGHT = 0.5  # the model's answer as a sample: 0.25 / 0.5 / 1 / 2 of the closest prompt's weight
ORDER_LENGTH = 3 * MAX_MODIFIERS  # how far the order runs past the set, for the guards' refills


class Consensus:
    """The consensus set as a ranker: ``rank`` gives the candidates best first and the set's size."""

    def __init__(self, embedder, vectors: PhraseVectors | None = None, *, variety: float = VARIETY,
                 sharpness: float = SHARPNESS, model_weight: float = MODEL_WEIGHT, depth: int = RAG_DEPTH):
        self.embed = vectors or PhraseVectors(embedder)
        self.variety, self.sharpness, self.model_weight, self.depth = variety, sharpness, model_weight, depth
        self.vote = Vote(embedder, self.embed, variety=variety)

    def rank(self, idea: str, model_phrases: Sequence[str], retrieved: Sequence,
             used: Mapping[str, int] | None = None, admits: Admits | None = None) -> Ranking:
        if far(retrieved):
            return self.vote.rank(idea, model_phrases, retrieved, used, admits)
        hits = list(retrieved[:self.depth])
        samples = [hit_modifiers(h) for h in hits]
        weights = [max(float(h.score), 0.0) ** self.sharpness for h in hits]
        kept = [i for i, s in enumerate(samples) if s]
        samples, weights = [samples[i] for i in kept], [weights[i] for i in kept]
        model = list(dict.fromkeys(model_phrases))
        if model and self.model_weight > 0 and weights:
            samples.append(model)
            weights.append(self.model_weight * max(weights))
        candidates = [m for m in dict.fromkeys([m for s in samples for m in s] + model) if admits is None or admits(m)]
        if not candidates or not samples:
            return Ranking([], [], 0)
        order, size = self._greedy(candidates, samples, np.asarray(weights), used or {})
        order = [order[pos] for pos in own_genres(idea, order, retrieved)]
        return Ranking(order, [], min(size, MAX_MODIFIERS))

    def _greedy(self, candidates: list[str], samples: list[list[str]], weights: np.ndarray,
                used: Mapping[str, int]) -> tuple[list[str], int]:
        vecs = self.embed(candidates)
        # matches[i, j]: candidate i matches a phrase of sample j
        matches = np.stack([(vecs @ self.embed(s).T).max(axis=1) >= SOFT for s in samples], axis=1)
        sizes = np.array([len(s) for s in samples], dtype=np.float64)
        boost = np.array([specificity(c) ** self.variety * REUSE_DISCOUNT ** used.get(c, 0) for c in candidates])
        held, open_, order, expected, size = np.zeros(len(samples)), np.ones(len(candidates), bool), [], 0.0, None
        while open_.any() and len(order) < ORDER_LENGTH:
            k = len(order) + 1
            totals = (weights * 2 * np.minimum(held + matches, sizes) / (k + sizes)).sum(axis=1)
            delta = totals - expected
            # Past the set every delta is a loss: a specific phrase's loss is the smaller one, as its gain was larger
            gains = np.where(open_, np.where(delta >= 0, delta * boost, delta / boost), -np.inf)
            best = int(np.argmax(gains))
            if size is None and totals[best] <= expected:
                size = len(order)  # no candidate raises the expected F1: the set is complete
            order.append(candidates[best])
            expected = totals[best]
            held = np.minimum(held + matches[best], sizes)
            open_ &= (vecs @ vecs[best]) < SOFT
            for i in np.flatnonzero(open_):  # the guards' near-duplicates, asked only of those still open
                open_[i] = not say_the_same(candidates[i], candidates[best])
        return order, len(order) if size is None else size
