"""Whether directions can be trusted: redundancy, boilerplate, invented subject matter, contradictions with
the idea, malformed joins. Each is computed from the prompt text alone, so the human reference and every
system are measured the same way, and each fault is found by the same detector the guards enforce
(``guards.faults``): what is measured is what is enforced.

Per system, over the first prompt of each idea:

- ``redundant_rate``: share of prompts holding a redundant pair of added phrases — one contains the other
  (whole words), they are the same after dropping intensifiers and -ing/-s, both are resolution tokens (or
  both render engines), or MiniLM says they are near-duplicates (cosine >= ``NEAR_DUPLICATE``);
- ``top10_share``: share of all added phrases that are the system's own 10 most frequent ones;
- ``distinct_added``: distinct added phrases / all added phrases;
- ``invented_rate``: share of prompts adding subject matter the idea does not name (``guards.invented``);
- ``colour_contradictions``, ``time_contradictions``, ``weather_contradictions``: prompts with such a fault;
- ``medium_consistency``: of the ideas that name a medium (photo, painting, render, drawing, illustration),
  the share whose prompt adds no phrase of another medium family (``None`` when no idea names one);
- ``mixed_media_rate``: share of all prompts whose added phrases draw a medium fault: another medium than the
  idea's, or two that make one picture look like two (photo with paint, paint with pencil or 3D, a stylised
  look with a realistic one: ``guards.CLASHES``, ``guards.STYLISED``/``REALISTIC``);
- ``malformed_joins``: prompts with ".," or ",," or a doubled "by" ("by art by greg rutkowski").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from artdirector.guards import MEDIA, Guards, families, judge, say_the_same
from artdirector.vocab import classify

NEAR_DUPLICATE = 0.9  # MiniLM cosine of two phrases that say the same thing ("8k uhd" / "8k resolution")
MALFORMED = re.compile(r"\.\s*,|,\s*,|\bby\s+(?:\w+\s+){0,2}by\b")


def redundant(phrases: Sequence[str], vectors: np.ndarray | None = None) -> bool:
    """Whether any two of ``phrases`` say the same thing (``vectors``: their unit embeddings, optional)."""
    for i in range(len(phrases)):
        for j in range(i):
            if say_the_same(phrases[i], phrases[j]):
                return True
            if vectors is not None and float(vectors[i] @ vectors[j]) >= NEAR_DUPLICATE:
                return True
    return False


def prompt_faults(idea: str, phrases: Sequence[str]) -> set[str]:
    """The guards whose faults ``phrases`` (a prompt's added phrases, in order) commit against ``idea``:
    each phrase judged against the idea and the phrases before it, as the selection does."""
    return {f.guard for f in judge(Guards(idea), ((classify(p), p) for p in phrases))}


def quality(ideas: Sequence[str], added: Sequence[Sequence[str]], prompts: Sequence[str], embedder=None) -> dict:
    """The trust metrics above for one system: ``added[i]`` are the phrases its prompt ``prompts[i]`` adds
    to ``ideas[i]``."""
    n = max(len(ideas), 1)
    counts = Counter(p for phrases in added for p in phrases)
    total = sum(counts.values())
    vec = {}
    if embedder is not None and counts:
        vec = dict(zip(counts, embedder.encode(list(counts))))
    faults = [prompt_faults(idea, phrases) for idea, phrases in zip(ideas, added)]
    named = [i for i, idea in enumerate(ideas) if families(idea, MEDIA)]
    return {
        "redundant_rate": sum(redundant(ps, np.array([vec[p] for p in ps]) if vec and ps else None)
                              for ps in added) / n,
        "top10_share": sum(c for _, c in counts.most_common(10)) / total if total else 0.0,
        "distinct_added": len(counts) / total if total else 0.0,
        "invented_rate": sum("invented" in f for f in faults) / n,
        "colour_contradictions": sum("colour" in f for f in faults),
        "time_contradictions": sum("time" in f for f in faults),
        "weather_contradictions": sum("weather" in f for f in faults),
        "medium_consistency": (sum("medium" not in faults[i] for i in named) / len(named)) if named else None,
        "mixed_media_rate": sum("medium" in f for f in faults) / n,
        "malformed_joins": sum(bool(MALFORMED.search(p)) for p in prompts),
    }
