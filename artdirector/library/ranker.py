"""Stage 5's ranking, learned: which candidate phrases a human prompt writer would add to this idea.

The candidates are the modifiers of the retrieved human prompts and the phrases the model wrote. The
hand-set vote of ``retrieval.vote`` weighs them by the similarity of the prompts that use them. On 200
validation prefixes it tells a phrase the human used from one they did not with ROC AUC 0.72. The ranker
reached 0.86 in v2 (``bench/bench_selection.py``). It is a gradient-boosted tree model (LightGBM, the standard tool
for tabular learning-to-rank) over 30 features per phrase:

- how the retrieved prompts vouch for it: exactly, and softly (a retrieved phrase within the soft-match
  cosine counts);
- whether, where and how similarly the model wrote it;
- how generic it is across a million real prompts (``lexicon.phrase_share``);
- its category, and how close it is to the idea;
- how much more often prompts whose idea says the idea's words use it (``lexicon.associations``: every Discord
  prompt that shares a word with the idea, not only the retrieved ones).

``artdirector train ranker`` fits it on real prompts the model never saw. The label says whether the
human's own prompt holds a phrase within the soft-match cosine (``evaluation.metrics.SOFT_THRESHOLD``).

Two hand-written steps sit on the scores. Each is a few lines that no library offers in this form.

- **Near-duplicates collapse** (``distinct``, for the vote as well). A phrase within the soft-match cosine of a
  better-ranked one would match the same human phrase, so it is dropped ("cinematic light" after "cinematic
  lighting").
- **The budget maximises expected F1.** With independent probabilities ``p`` (best first) and about ``R``
  phrases in the human's prompt, taking ``k`` phrases expects an F1 of about ``2 * sum(p[:k]) / (k + R)``
  (the plug-in approximation of Jansche, 2005; Nan et al., 2012). ``R`` is the retrieved prompts' mean
  modifier count. The ``k`` that maximises it is used, no fewer than ``MIN_BUDGET`` phrases, and no more than
  the similarity-based cap of ``retrieval.modifier_budget``, which keeps far-fetched ideas short.

Only what the guards can let in is ranked: the selection passes ``admits`` (``guards.Guards.admits``: no invented
subject matter unless ``--details``), so a human's scene detail the guard would drop neither takes a place in the
order nor inflates the budget (validation soft F1 0.187 -> 0.192 with ranker-v3; the trainer leaves such
candidates out too).

It ranks every idea. For an idea far from the library's (the nearest retrieved idea below ``MIN_SIMILARITY``, typical
of everyday sentence ideas), the retrieved prompts are about other things, and so are many of their phrases: there
each candidate's score is also weighed by its embedder cosine to the idea ** ``FAR_RELEVANCE`` (an artist's by the
median of the others': a name's cosine is about its letters, ``far_relatedness``). The hand-set vote
(``Vote``, behind the same interface) chose for such ideas until stop 37; the ranker with the relevance weight is
better on both sides of the line (validation, cached answers, ``bench/bench_selection.py``: prefix soft F1 0.200 ->
0.207; out of domain fidelity 0.755 -> 0.763, top-10 share 0.28 -> 0.26). Neighbours that are not very close (below
``GENRE_SIMILARITY``) are about other things, and so is their genre: a phrase naming a genre (``guards.GENRES``:
fantasy, sci-fi, cyberpunk, ...) that neither the idea nor a retrieved prompt that close names is left out
("fantasy art" for a pillow on a nightstand; "sci-fi concept art" for a red car, whose closest prompts are of
cars and whose sci-fi came from a red robot's). Applied to far ideas only (the nearest idea below
``GENRE_SIMILARITY``), the out-of-domain directions that add such a genre went from 27 to 5 of 200 on validation,
at the same prefix soft F1 (0.179).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artdirector.errors import BadInput
from artdirector.evaluation.metrics import SOFT_THRESHOLD
from artdirector.guards import GENRES, families
from artdirector.library.retrieval import (
    REUSE_DISCOUNT,
    VARIETY,
    hit_modifiers,
    modifier_budget,
    specificity,
    vote,
)
from artdirector.vocab import classify

DEFAULT_RANKER = "ranker-v4"
CATEGORIES = ("subject", "medium", "style", "artist", "lighting", "color", "composition", "mood", "booster")
FEATURES = (
    "vote_share", "use_share", "best_user_similarity", "in_top1", "in_top3", "by_model", "model_rank",
    "log_phrase_share", "words", "top_similarity", "idea_overlap", "by_model_x_top_similarity",
    "vote_share_x_top_similarity", "by_model_x_log_phrase_share", "first_user_rank",
    *(f"category_{c}" for c in CATEGORIES),
    "idea_cosine", "soft_vote_share", "soft_use_share", "model_cosine", "word_lift_sum", "word_lift_max",
)
IDEA_COSINE, ARTIST = FEATURES.index("idea_cosine"), FEATURES.index("category_artist")
SOFT = SOFT_THRESHOLD  # the metrics' soft-match cosine: the labels' line, also the duplicate line
MIN_BUDGET = 3
# Below this similarity of the nearest retrieved idea (typical of sentence ideas unlike DiffusionDB's) an idea is far
# from the library's: its candidates are weighed by relatedness (``FAR_RELEVANCE``), and the vote and the consensus set
# weigh theirs too. Where this was the line between the ranker and the vote, 0.5-0.65 were tried.
MIN_SIMILARITY = 0.6
# How strongly a far idea's candidates are weighed by their cosine to the idea. On validation (cached answers, the
# ranker everywhere), 0 / 1 / 1.5 / 2 / 3: prefix soft F1 0.209 / 0.209 / 0.208 / 0.207 / 0.205; out of domain
# fidelity 0.729 / 0.755 / 0.759 / 0.763 / 0.766, top-10 share 0.33 / 0.30 / 0.28 / 0.26 / 0.24, distinct added
# 0.31 / 0.33 / 0.35 / 0.36 / 0.37. The vote it replaced there: 0.200; 0.755, 0.28, 0.41.
FAR_RELEVANCE = 2.0
# Neighbours this close vouch for their genre; below it, a genre the idea does not name is theirs, not the idea's.
# On validation, against far ideas only (0.6): prefix soft F1 0.177 -> 0.179, out-of-domain directions adding such a
# genre 14 -> 5 of 200 (27 before either).
GENRE_SIMILARITY = 0.7
# The budget expects this share of the neighbours' mean phrase count to be matched against, not all of it: people
# write more phrases than any direction can guess, and each guess past the sure ones costs precision sooner than the
# expected-F1 arithmetic with the full count says (the probabilities are calibrated by rank, so the cause is not
# them). On all 793 validation prefixes (cached answers), shares 1 / 0.8 / 0.7 / 0.6 / 0.5: soft F1 0.203 / 0.205 /
# 0.205 / 0.204 / 0.204, fidelity 0.771 / 0.776 at 0.7; out of domain (800) fidelity 0.769 / 0.775 at 0.7.
EXPECTED_COUNT_SHARE = 0.7
Embed = Callable[[Sequence[str]], np.ndarray]
Admits = Callable[[str], bool]


def candidate_features(idea: str, model_phrases: Sequence[str], retrieved: Sequence, embed: Embed,
                       admits: Admits | None = None) -> tuple[list[str], np.ndarray, float, float]:
    """The candidates (retrieved modifiers, then the model's new ones), their ``FEATURES`` rows, the mean
    modifier count of the retrieved prompts (``R`` of the expected-F1 budget), and the relatedness an artist gets
    for a far idea (``far_relatedness``: the median cosine to the idea of every candidate that is no artist).
    ``admits``: only the candidates the guards would let in at all get a row; the soft vote and the median still
    count every candidate, so that what the guards refuse moves none of the others."""
    from artdirector.lexicon import associations, phrase_share

    sets = [hit_modifiers(h) for h in retrieved]
    sims = np.array([max(float(h.score), 0.0) for h in retrieved])
    model = list(dict.fromkeys(model_phrases))
    phrases = list(dict.fromkeys([m for s in sets for m in s] + model))
    if not phrases:
        return [], np.zeros((0, len(FEATURES)), np.float32), 0.0, 0.0
    total, k = float(sims.sum()) or 1.0, max(len(sets), 1)
    top = float(sims[0]) if len(sims) else 0.0
    idea_words = set(idea.lower().split())
    vectors = embed([idea, *phrases])
    idea_vec, vecs = vectors[0], vectors[1:]
    index = {p: i for i, p in enumerate(phrases)}
    soft_vote, soft_use = np.zeros(len(phrases)), np.zeros(len(phrases))
    for j, s in enumerate(sets):
        if s:
            near = (vecs @ vecs[[index[m] for m in s]].T).max(axis=1) >= SOFT
            soft_vote += sims[j] * near
            soft_use += near
    model_cos = (vecs @ vecs[[index[m] for m in model]].T).max(axis=1) if model else np.zeros(len(phrases))
    users_of: dict[str, list[int]] = {}
    for j, s in enumerate(sets):
        for m in dict.fromkeys(s):
            users_of.setdefault(m, []).append(j)
    chosen = [i for i, m in enumerate(phrases) if admits is None or admits(m)]
    table = associations()
    lifts = table.lift(idea, [phrases[i] for i in chosen]) if table else np.full((len(chosen), 2), np.nan)
    rows = []
    for pos, i in enumerate(chosen):
        m = phrases[i]
        users = users_of.get(m, [])
        vote = float(sum(sims[j] for j in users)) / total
        by_model = float(m in model)
        share = math.log(phrase_share(m) + 1e-5)
        words = m.split()
        category = classify(m)
        rows.append([
            vote, len(users) / k, max((sims[j] for j in users), default=0.0), float(0 in users),
            float(any(j < 3 for j in users)), by_model, 1 / (1 + model.index(m)) if by_model else 0.0,
            share, len(words), top, sum(w in idea_words for w in words) / len(words), by_model * top,
            vote * top, by_model * share, min(users, default=k) / k,
            *(float(category == c) for c in CATEGORIES),
            float(vecs[i] @ idea_vec), soft_vote[i] / total, soft_use[i] / k, float(model_cos[i]), *lifts[pos],
        ])
    rows = np.asarray(rows, dtype=np.float32).reshape(len(chosen), len(FEATURES))
    described = [i for i, m in enumerate(phrases) if classify(m) != "artist"]
    artist_related = float(np.median(np.clip(vecs[described] @ idea_vec, 0.0, 1.0))) if described else 0.0
    expected = float(np.mean([len(s) for s in sets])) if sets else 0.0
    return [phrases[i] for i in chosen], rows, expected, artist_related


def expected_f1_budget(probs: Sequence[float], expected_count: float, low: int, high: int) -> int:
    """The ``k`` in [``low``, ``high``] whose top-``k`` phrases (``probs`` best first) expect the best F1."""
    best, best_k, total = -1.0, 1, 0.0
    for k, p in enumerate(probs[:high], start=1):
        total += p
        f1 = 2 * total / (k + expected_count)
        if f1 > best:
            best, best_k = f1, k
    return max(best_k, low)


def distinct(phrases: Sequence[str], embed: Embed) -> list[int]:
    """The positions of ``phrases`` (best first) that are not within the soft-match cosine of a better one."""
    vecs = embed(list(phrases)) if len(phrases) else np.zeros((0, 1))
    kept: list[int] = []
    for pos in range(len(phrases)):
        if not kept or float((vecs[kept] @ vecs[pos]).max()) < SOFT:
            kept.append(pos)
    return kept


def own_genres(idea: str, phrases: Sequence[str], retrieved: Sequence) -> list[int]:
    """The positions of ``phrases`` to keep: those naming no genre (``guards.GENRES``) that neither the idea nor a
    retrieved prompt at least ``GENRE_SIMILARITY`` close names."""
    said = set(families(idea, GENRES))
    said.update(g for h in retrieved if float(h.score) >= GENRE_SIMILARITY for g in families(h.prompt, GENRES))
    return [pos for pos, m in enumerate(phrases) if set(families(m, GENRES)) <= said]


@dataclass
class Ranking:
    phrases: list[str]  # best first, near-duplicates collapsed
    probs: list[float]  # the learned ranker's; the vote's weights are no probabilities and are left out
    budget: int


class PhraseVectors:
    """The embedder's unit vectors for texts, remembered: the same phrases come back idea after idea.
    ``known``: where vectors computed ahead of time are read first (``PromptLibrary.known_vectors``)."""

    def __init__(self, embedder, size: int = 50_000, *, known: Callable[[Sequence[str]], Mapping] | None = None):
        self.embedder, self.size, self.known, self._cache = embedder, size, known, {}

    @classmethod
    def of(cls, library) -> PhraseVectors:
        """The vectors of ``library``'s embedder, read from its kept phrase vectors where it has them."""
        return cls(library.embedder, known=library.known_vectors)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            if len(self._cache) + len(new) > self.size:
                self._cache.clear()
            found = self.known(new) if self.known is not None else {}
            self._cache.update(found)
            rest = [t for t in new if t not in found]
            if rest:
                self._cache.update(zip(rest, self.embedder.encode(rest)))
        return np.stack([self._cache[t] for t in texts])


def far(retrieved: Sequence) -> bool:
    """Whether an idea with these retrieved prompts is far from the library's (the nearest below
    ``MIN_SIMILARITY``, or none at all): its candidates are weighed by how related they are to it."""
    return not retrieved or float(retrieved[0].score) < MIN_SIMILARITY


def far_relatedness(rows: np.ndarray, artist_related: float) -> np.ndarray:
    """How related each candidate (its ``FEATURES`` row) is to a far idea: its cosine to the idea, which the
    features hold. An artist's name is no description: its cosine is about its letters ("lisa yuskavage" came first
    for a woman walking her dog), so every artist gets ``artist_related`` (``candidate_features``: the pool's median),
    neither raised nor cut."""
    related = np.clip(rows[:, IDEA_COSINE], 0.0, 1.0)
    related[rows[:, ARTIST] > 0] = artist_related
    return related


class Vote:
    """The hand-set vote of ``retrieval.vote`` as a ranker (``--ranker vote``); for ideas far from the library's
    (``far``), the embedder weighs each phrase by its cosine to the idea."""

    def __init__(self, embedder, vectors: PhraseVectors | None = None, *, variety: float = VARIETY):
        self.embed, self.variety = vectors or PhraseVectors(embedder), variety

    def rank(self, idea: str, model_phrases: Sequence[str], retrieved: Sequence,
             used: Mapping[str, int] | None = None, admits: Admits | None = None) -> Ranking:
        """The candidates best first and how many to take (``retrieval.modifier_budget``); ``admits``: the
        candidates the guards would let in at all (``guards.Guards.admits``), the only ones ranked."""
        def relevance(phrases: list[str]) -> np.ndarray:
            vectors = self.embed([idea, *phrases])
            return vectors[1:] @ vectors[0]

        ranked = vote(model_phrases, retrieved, limit=None, used=used, variety=self.variety,
                      relevance=relevance if far(retrieved) else None)
        ranked = [ranked[pos] for pos in own_genres(idea, ranked, retrieved) if admits is None or admits(ranked[pos])]
        return Ranking([ranked[pos] for pos in distinct(ranked, self.embed)], [], modifier_budget(retrieved))


class Ranker:
    """A trained LightGBM phrase ranker (read by ``trees.TreeModel``) and the embedder its features were
    computed with."""

    def __init__(self, booster, embedder, *, meta: Mapping | None = None, variety: float = VARIETY,
                 vectors: PhraseVectors | None = None):
        self.booster, self.embed, self.meta = booster, vectors or PhraseVectors(embedder), dict(meta or {})
        self.variety = variety

    @classmethod
    def from_folder(cls, folder: str | Path, embedder, *, variety: float = VARIETY,
                    vectors: PhraseVectors | None = None) -> Ranker:
        """A folder written by ``artdirector train ranker``: ``ranker.txt`` (the LightGBM model) and
        ``ranker.json`` (its features and recipe)."""
        from artdirector.library.trees import TreeModel

        folder = Path(folder)
        try:
            meta = json.loads((folder / "ranker.json").read_text())
            booster = TreeModel.from_file(folder / "ranker.txt")
        except (OSError, ValueError, KeyError) as e:
            raise BadInput(f"{folder} is no ranker folder from 'artdirector train ranker' ({e})") from None
        if tuple(meta.get("features", ())) != FEATURES:
            raise BadInput(f"the ranker in {folder} was trained on other features; train it again")
        if meta.get("embedder") not in (None, embedder.name):
            raise BadInput(f"the ranker in {folder} was trained with the embedder {meta['embedder']}, "
                           f"not {embedder.name}")
        return cls(booster, embedder, meta=meta, variety=variety, vectors=vectors)

    @classmethod
    def default(cls, embedder, *, variety: float = VARIETY, vectors: PhraseVectors | None = None) -> Ranker | None:
        """The ranker shipped in the package (None if this installation has none)."""
        from importlib import resources

        folder = Path(str(resources.files("artdirector.data").joinpath(f"ranker/{DEFAULT_RANKER}")))
        if not (folder / "ranker.txt").is_file():
            return None
        return cls.from_folder(folder, embedder, variety=variety, vectors=vectors)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return self.booster.predict(rows) if len(rows) else np.zeros(0)

    def rank(self, idea: str, model_phrases: Sequence[str], retrieved: Sequence,
             used: Mapping[str, int] | None = None, admits: Admits | None = None) -> Ranking:
        """The candidates best first and how many to take. ``used``: how many earlier candidates of the same
        idea took each phrase; each use multiplies its probability by ``REUSE_DISCOUNT``. ``admits``: the
        candidates the guards would let in at all; the others are neither ranked nor counted in the budget.
        A far idea's candidates (``far``) are also weighed by relatedness, cosine ** ``FAR_RELEVANCE``."""
        if not retrieved:
            return Ranking([], [], 0)
        phrases, rows, expected, artist_related = candidate_features(idea, model_phrases, retrieved, self.embed, admits)
        probs = self.probabilities(rows)
        for i, phrase in enumerate(phrases):
            probs[i] *= REUSE_DISCOUNT ** (used or {}).get(phrase, 0)
        weight = np.array([specificity(m) for m in phrases]) ** self.variety
        if far(retrieved):
            weight *= far_relatedness(rows, artist_related) ** FAR_RELEVANCE
        order = np.argsort(-probs * weight, kind="stable")
        order = [order[pos] for pos in own_genres(idea, [phrases[i] for i in order], retrieved)]
        kept = [order[pos] for pos in distinct([phrases[i] for i in order], self.embed)]
        ranked = [float(probs[i]) for i in kept]
        budget = expected_f1_budget(ranked, expected * EXPECTED_COUNT_SHARE, MIN_BUDGET, modifier_budget(retrieved))
        return Ranking([phrases[i] for i in kept], ranked, budget)
