"""Direction-quality metrics, each defined once, here.

NeuroPrompts' prefix protocol: a human prompt's prefix (text before the first comma) is the idea, and the
phrases after it are the human expert's modifiers. A system's modifiers are the comma-separated phrases of
its prompt after the idea. Per-idea values are averaged over ideas (macro average).

- ``modifier_precision / recall / f1``: exact matches after ``normalise_phrase`` (lower case, weights and
  edge punctuation removed, DiffusionDB's spaced digits "8 k" joined to "8k" as the parser does); a system that adds
  nothing scores 0 (not undefined), so "add nothing" cannot win on precision.
- ``soft_modifier_f1``: the same with phrases matched by MiniLM cosine >= ``SOFT_THRESHOLD`` (0.7: on
  MiniLM, paraphrases such as "highly detailed" / "very detailed" score above it, different modifiers of the
  same category such as "oil painting" / "watercolor" below), one-to-one by greedy best-first matching.
- ``category_coverage``: mean number of the eight categories (style, artist, medium, composition, lighting,
  color, booster, mood) with at least one of the system's modifiers, by ``vocab.classify``.
- ``fidelity``: MiniLM cosine between the idea and the whole prompt (is the user's subject kept?).
- ``distinct_2``: distinct word bigrams / all word bigrams over every prompt of the system (all samples),
  a corpus-level diversity measure (Li et al., 2016).
- ``self_similarity``: mean pairwise MiniLM cosine between the n samples of one idea (lower = more varied);
  ``None`` when n < 2.
- ``over_budget_rate``: share of prompts over 77 CLIP tokens (SD 1.5's window).
- ``constraint_satisfaction``: for a system run under constraints, the share of its (first) prompts that
  meet every clause — the final prompt, as the user gets it.
- ``latency_p50_s / latency_p95_s``: seconds per idea (amortised over a batch for batched systems).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from artdirector.text import normalise_phrase
from artdirector.tokens import CLIP_MAX_TOKENS, clip_token_count
from artdirector.vocab import classify

SOFT_THRESHOLD = 0.7
COVERAGE_CATEGORIES = ("style", "artist", "medium", "composition", "lighting", "color", "booster", "mood")


def modifiers_of(prompt: str, idea: str) -> list[str]:
    """The phrases a prompt adds to its idea, normalised and de-duplicated, in order."""
    if prompt.lower().startswith(idea.lower()):
        rest = prompt[len(idea):]
    else:
        rest = prompt.split(",", 1)[1] if "," in prompt else ""
    out = []
    for raw in rest.split(","):
        phrase = normalise_phrase(raw)
        if phrase and phrase not in out:
            out.append(phrase)
    return out


def prf(predicted: Sequence[str], reference: Sequence[str]) -> tuple[float, float, float]:
    pred, ref = set(predicted), set(reference)
    hits = len(pred & ref)
    p = hits / len(pred) if pred else 0.0
    r = hits / len(ref) if ref else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def greedy_matches(sim: np.ndarray, threshold: float = SOFT_THRESHOLD) -> int:
    """Size of a one-to-one matching taking the most similar remaining pair first, while >= threshold."""
    if sim.size == 0:
        return 0
    sim = sim.copy()
    matched = 0
    while True:
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[i, j] < threshold:
            return matched
        matched += 1
        sim[i, :] = -np.inf
        sim[:, j] = -np.inf


def soft_prf(pred_vecs: np.ndarray, ref_vecs: np.ndarray, threshold: float = SOFT_THRESHOLD):
    if len(pred_vecs) == 0 or len(ref_vecs) == 0:
        return 0.0, 0.0, 0.0
    hits = greedy_matches(pred_vecs @ ref_vecs.T, threshold)
    p, r = hits / len(pred_vecs), hits / len(ref_vecs)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def category_coverage(phrases: Sequence[str]) -> int:
    return len({classify(p) for p in phrases} & set(COVERAGE_CATEGORIES))


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    grams = [tuple(w[i:i + n]) for w in (t.lower().replace(",", " ").split() for t in texts)
             for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_similarity(vecs: np.ndarray) -> float | None:
    if len(vecs) < 2:
        return None
    return float(np.mean([vecs[i] @ vecs[j] for i, j in itertools.combinations(range(len(vecs)), 2)]))


def over_budget(prompt: str, budget: int = CLIP_MAX_TOKENS) -> bool:
    return clip_token_count(prompt) > budget


def constraint_satisfaction(prompts: Sequence[str], constraints) -> float:
    """Share of prompts meeting every clause of ``constraints`` (a ``decoding.constraints.Constraints``):
    one alternative of each include clause present, no excluded phrase (whole words, lower case)."""
    if not prompts:
        return 0.0
    return float(np.mean([constraints.met(p.lower()) for p in prompts]))


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def soft_scores(mods: Sequence[Sequence[str]], references: Sequence[Sequence[str]], embedder) -> np.ndarray:
    """Soft precision, recall and F1 (``soft_prf``) of each idea's added phrases ``mods[i]`` (``modifiers_of``)
    against the human's modifiers ``references[i]``: one row per idea, each phrase embedded once."""
    refs = [[normalise_phrase(r) for r in ref] for ref in references]
    phrases = sorted({p for m in mods for p in m} | {r for ref in refs for r in ref})
    vec = dict(zip(phrases, embedder.encode(phrases))) if phrases else {}
    dim = len(next(iter(vec.values()))) if vec else 1

    def stack(ps):
        return np.array([vec[p] for p in ps], dtype=np.float32).reshape(len(ps), dim)

    return np.array([soft_prf(stack(m), stack(ref)) for m, ref in zip(mods, refs)]).reshape(len(mods), 3)


def score_system(ideas: Sequence[str], references: Sequence[Sequence[str]] | None, samples: Sequence[Sequence[str]],
                 seconds: Sequence[float], embedder, *, with_latency: bool = True) -> dict:
    """All metrics for one system: ``samples[i]`` are its prompts for ``ideas[i]`` (the first is scored for
    quality, all of them for diversity); ``references[i]`` the human modifiers (None for ideas with no human
    prompt, such as benchmark sentences: then the modifier-matching metrics are left out). The trust metrics
    of ``evaluation.quality`` join the table."""
    from artdirector.evaluation.quality import quality

    firsts = [s[0] for s in samples]
    mods = [modifiers_of(p, idea) for p, idea in zip(firsts, ideas)]
    idea_vecs = embedder.encode(list(ideas))
    prompt_vecs = embedder.encode(firsts)
    sims = [self_similarity(embedder.encode(list(s))) for s in samples if len(s) > 1]
    out = {}
    if references is not None:
        exact = np.array([prf(m, [normalise_phrase(r) for r in ref]) for m, ref in zip(mods, references)])
        soft = soft_scores(mods, references, embedder)
        out |= {"modifier_precision": float(exact[:, 0].mean()), "modifier_recall": float(exact[:, 1].mean()),
                "modifier_f1": float(exact[:, 2].mean()), "soft_modifier_f1": float(soft[:, 2].mean())}
    out |= {
        "category_coverage": float(np.mean([category_coverage(m) for m in mods])),
        "fidelity": float(np.mean(np.sum(idea_vecs * prompt_vecs, axis=1))),
        "distinct_2": distinct_n([p for s in samples for p in s]),
        "self_similarity": float(np.mean(sims)) if sims else None,
        "over_budget_rate": float(np.mean([over_budget(p) for p in firsts])),
        "modifiers_per_prompt": float(np.mean([len(m) for m in mods])),
        **quality(ideas, mods, firsts, embedder),
    }
    if with_latency:
        out["latency_p50_s"] = percentile(seconds, 50)
        out["latency_p95_s"] = percentile(seconds, 95)
    return out
