"""Stage 2 of a direction: the human prompts closest to the idea, and the vote their modifiers cast.

LaDi's "weighted pool": the phrases of the ``VOTE_DEPTH`` closest human prompts vote with their cosine
similarity to the idea raised to ``SHARPNESS`` (the closest prompts count most), each phrase the model wrote
adds ``MODEL_VOTE``, and each phrase's total is weighed by how specific it is, ``specificity(phrase) **
variety``, from the share of a million real prompts that use it (``lexicon.phrase_share``), so that "highly
detailed", which one prompt in eight carries, does not win every idea's vote. For an idea far from the
library's, the prompts retrieved are about other things, and so are many of their phrases ("cyberpunk" for a
rocking chair by a tennis court); there each phrase's total is also weighed by how related it is to the idea,
its embedder cosine to the idea ** ``RELEVANCE``. The built-in library is searched together with its Discord
collection (``library.SHIPPED``), whose prompts count as a little less similar (``DISCORD_DISCOUNT``). The
constants are chosen on the validation split (``bench/bench_selection.py``); never on test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from artdirector.corpus import prompt_modifiers
from artdirector.parse import parse_modifiers
from artdirector.text import duplicate_key

# How many prompts are retrieved: the ranker (``library.ranker``) reads 48 (on validation, 18 -> 48 cut the top-10
# share from 0.51 to 0.43 at the same soft F1); the hand-set vote reads the closest 18 (deeper pools cost it F1).
RAG_DEPTH = 48
VOTE_DEPTH = 18
# 0.6, not 1: on validation the same soft F1 (0.166) with less boilerplate — top-10 share 0.58 -> 0.57, fidelity
# 0.758 -> 0.763, out of domain 0.729 -> 0.736; the model's phrases are the generic ones the retrieved prompts
# already vouch for less (0.5 and below cost F1; 0 is the LM ablation: 0.158).
MODEL_VOTE = 0.6
SHARPNESS = 1.0
# How much a far idea's vote weighs relatedness (``library.ranker.Vote`` says which ideas are far). On validation,
# the shipped ranker with 1 against 0: out of domain fidelity 0.737 -> 0.764, top-10 share 0.40 -> 0.27, prefix
# soft F1 0.177 -> 0.178 (2 was no more faithful; bench/results/selection.json).
RELEVANCE = 1.0
# How strongly generic phrases are held back (``--variety``): the ranker's order weighs each probability, and the
# vote each phrase's total, by specificity ** variety (``specificity``), so that a generic phrase
# ("highly detailed", in one prompt of eight) must be likelier than a specific one to come first. 0: by
# likelihood alone. On validation with the shipped ranker (bench/results/selection.json), 0 / 0.25 / 0.5 / 1:
# prefix soft F1 0.182 / 0.183 / 0.178 / 0.153, top-10 share 0.39 / 0.28 / 0.21 / 0.16, distinct added 0.24 / 0.29
# / 0.34 / 0.41; out of domain top-10 share 0.47 / 0.37 / 0.27 / 0.14, distinct added 0.22 / 0.29 / 0.36 / 0.50.
VARIETY = 0.5
MAX_MODIFIERS = 8
# The Discord collection's prompts are searched with the train split's, their similarity lowered by this much:
# another channel's prompts, less often the kind the director learned from. On validation (cached LM answers,
# 200 prefixes / 200 out-of-domain ideas), discount 0.1: prefix soft F1 0.179 -> 0.190, out of domain fidelity
# 0.765 -> 0.757; undiscounted 0.18 and 0.74, 0.15: 0.182. Re-decoded by the evaluation
# (bench/results/eval-val-200-s27): soft F1 0.177 -> 0.187, distinct added 0.33 -> 0.348.
DISCORD_DISCOUNT = 0.1
MAX_VOTED_WORDS = 4  # longer retrieved phrases are scene descriptions, not modifiers
REUSE_DISCOUNT = 0.35
OVERFETCH = 3


def retrieve(library, collection: str, idea: str, k: int = RAG_DEPTH, vector=None) -> list:
    """The library's human prompts whose ideas are closest to ``idea`` (``library.Hit``, scored by that
    similarity), best first; none without a library. Ideas against ideas: on 200 validation ideas the same vote
    reached soft modifier F1 0.167 over these, 0.157 over the prompts closest as whole prompts. The built-in
    collection brings the shipped Discord one's closest prompts with it, scored ``DISCORD_DISCOUNT`` lower.
    ``vector``: the idea's embedding (1 x dimension), when the caller embedded many ideas in one batch."""
    if library is None:
        return []
    from artdirector.library.library import BUILTIN, DISCORD

    discounts = {collection: 0.0}
    if collection == BUILTIN and library.has(DISCORD):
        discounts[DISCORD] = DISCORD_DISCOUNT
    return nearest(library, discounts, idea, k, vector)


def nearest(library, discounts: Mapping[str, float], idea: str, k: int, vector=None) -> list:
    """The ``k`` prompts closest to ``idea`` over several collections (prompts that are all idea left out), each
    one's similarity lowered by its collection's discount, best first. A prompt found in an earlier
    collection is not counted again (some train prompts were posted in the Discord too: one prompt, one vote).
    The idea is embedded once for all of them."""
    vector = library.embedder.encode([idea]) if vector is None else vector
    hits: list = []
    seen: set[str] = set()
    for collection, discount in discounts.items():
        # Prompts without modifiers are all idea: they would fill the places and cast no vote.
        found = library.search(idea, k=k * OVERFETCH, mode="vector", collection=collection, by="idea",
                               vector=vector)
        found = [h for h in found if "," in h.prompt and duplicate_key(h.prompt) not in seen][:k]
        seen.update(duplicate_key(h.prompt) for h in found)
        hits += [replace(h, score=h.score - discount) for h in found]
    hits.sort(key=lambda h: -h.score)
    return hits[:k]


def voteable(prompt: str) -> list[str]:
    """The modifiers a prompt can vote for: cleaned as the model's own output is (so a retrieved "1024x768"
    stays out), no longer than ``MAX_VOTED_WORDS``."""
    phrases = parse_modifiers(", " + ", ".join(prompt_modifiers(prompt)), repair=True).phrases
    return [m for m in phrases if len(m.split()) <= MAX_VOTED_WORDS]


def hit_modifiers(hit) -> list[str]:
    """``voteable`` of a retrieved prompt."""
    return voteable(hit.prompt)


def pool_weights(retrieved: Sequence) -> dict[str, float]:
    """Each modifier of the retrieved prompts, weighted by the similarity of the prompts that use it."""
    weight: dict[str, float] = {}
    for hit in retrieved:
        for m in hit_modifiers(hit):
            weight[m] = weight.get(m, 0.0) + max(hit.score, 0.0) ** SHARPNESS
    return weight


def specificity(phrase: str) -> float:
    """1 for a phrase no listed prompt uses, falling with the log of its share of prompts (about 0.23 for
    "highly detailed")."""
    from math import log

    from artdirector.lexicon import phrase_share

    return log(1 / (phrase_share(phrase) + 1e-4)) / log(1e4)


def vote(model_phrases: Sequence[str], retrieved: Sequence, limit: int | None = MAX_MODIFIERS,
         used: Mapping[str, int] | None = None, *, variety: float = 0.0,
         relevance: Callable[[list[str]], Sequence[float]] | None = None) -> list[str]:
    """The model's phrases and the pool's, ranked by their combined vote; the best ``limit`` (None: all).
    ``used``: how many earlier candidates of the same idea took each phrase; each use multiplies its vote
    by ``REUSE_DISCOUNT``, so candidates 2..n differ in more than the model's own sampled phrases.
    ``variety``: the exponent of each phrase's ``specificity``. ``relevance``: each phrase's cosine to an idea
    far from the library's (``library.ranker.Vote`` passes the embedder's)."""
    weight = pool_weights(retrieved[:VOTE_DEPTH])
    for phrase in model_phrases:
        weight[phrase] = weight.get(phrase, 0.0) + MODEL_VOTE
    for phrase, times in (used or {}).items():
        if phrase in weight:
            weight[phrase] *= REUSE_DISCOUNT ** times
    if variety:
        weight = {m: w * specificity(m) ** variety for m, w in weight.items()}
    if relevance is not None and weight:
        weight = {m: w * max(float(r), 0.0) ** RELEVANCE for (m, w), r in zip(weight.items(), relevance(list(weight)))}
    return sorted(weight, key=lambda m: -weight[m])[:limit]


# How many modifiers a direction takes, by how close the nearest retrieved idea is: far neighbours (typical of
# sentence ideas unlike DiffusionDB's) vouch for less, and every generic phrase dilutes the idea. Chosen on
# validation (bench/results/trust_validation.json, eval-val-200-guards, eval-oodval-200-guards): fidelity
# 0.738 -> 0.754 on prefixes and 0.674 -> about 0.73 out of domain against a fixed 8, soft F1 0.168 either way.
BUDGET_BY_SIMILARITY = ((0.7, MAX_MODIFIERS), (0.55, 6), (0.0, 4))


def modifier_budget(retrieved: Sequence) -> int:
    """The number of modifiers to take for an idea whose nearest retrieved idea is ``retrieved[0]``."""
    if not retrieved:
        return MAX_MODIFIERS
    top = retrieved[0].score
    return next(n for floor, n in BUDGET_BY_SIMILARITY if top >= floor)


def shared_modifiers(retrieved: Sequence, k: int) -> list[str]:
    """The ``k`` modifiers the retrieved prompts share most (the vote without the model's phrases)."""
    return vote((), retrieved, limit=k)
