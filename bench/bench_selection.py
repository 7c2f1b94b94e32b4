"""How the director chooses modifiers from the model's phrases and the retrieved pool: a grid, on validation.

The expensive part (the LM's greedy answer for each idea) is computed once and cached in ``bench/.cache``;
retrieval runs afresh. The shipped learned ranker (``library.ranker``) comes first, then the same ranker
shown none of the model's phrases (its LM ablation), then each variant of the hand-set vote
(``library.retrieval``: ``SHARPNESS``, ``SPECIFICITY``, ``MODEL_VOTE``; ``MODEL_VOTE = 0`` is the vote's LM
ablation). Each re-runs only the selection and the guards (timed: ``selection_ms_per_idea``) and is scored
by the evaluation harness: soft modifier F1 against the human prompts (the prefix protocol) and the trust
metrics. The same grid runs on the out-of-domain validation ideas for the trust metrics. Prints and saves
``bench/results/selection.json``.

    python bench/bench_selection.py --limit 200
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"


def decoded(name: str, ideas: list[str], director):
    """(model text, finish reason) per idea, from the cache or from the default director's greedy answer."""
    path = CACHE / f"selection-{name}-{len(ideas)}.pkl"
    if path.exists():
        return [row[:2] for row in pickle.loads(path.read_bytes())]  # older caches also kept the hits
    out = []
    for b in range(0, len(ideas), 32):
        chunk = ideas[b:b + 32]
        out += director.answers(chunk, [director.retrieve(i) for i in chunk])
    rows = [(d.text, d.finish_reason) for d in out]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rows))
    return rows


class WithoutModel:
    """The ranker's LM ablation: the same ranker, shown none of the model's phrases."""

    def __init__(self, ranker):
        self.ranker = ranker

    def applies(self, retrieved):
        return self.ranker.applies(retrieved)

    def rank(self, idea, model_phrases, retrieved, used=None):
        return self.ranker.rank(idea, (), retrieved, used)


def directed(ideas, rows, hits, ranker) -> list[list[str]]:
    from artdirector.render import render
    from artdirector.selection import select_modifiers

    prompts = []
    for idea, (text, finish), retrieved in zip(ideas, rows, hits):
        chosen = select_modifiers(idea, text, truncated=finish == "length", seed=0, retrieved=retrieved,
                                  ranker=ranker)
        prompts.append([render(chosen.direction, "sd15").prompt])
    return prompts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "selection.json"))
    args = ap.parse_args()

    from artdirector import selection
    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import idea_items, prefix_items, read_prompts, score
    from artdirector.library import retrieval
    from artdirector.readers import read_texts

    director = ArtDirector.from_default()
    embedder, shipped_ranker = director.library.embedder, director.ranker
    sets = {
        "prefix-validation": prefix_items(read_prompts(ROOT / "data/splits/validation.tsv"), limit=args.limit,
                                          seed=0)[0],
        "ood-validation": idea_items(read_texts(ROOT / "data/ood/validation.txt"), limit=args.limit, seed=0)[0],
    }
    # The shipped ranker and its LM ablation; then the vote as it ships without a ranker, its LM ablation (the same
    # pipeline without the model's phrases), the model's phrases at full weight (MODEL_VOTE 1, shipped before), a
    # fixed budget of 8, a booster cap and a mild penalty on generic phrases. A wider grid on the earlier,
    # whole-prompt retrieval (SPECIFICITY 1-2, SHARPNESS 4) cost 0.01-0.09 soft F1 for every gain in top-10 share.
    # BUDGET: the modifier budget by the nearest idea's similarity ("shipped"), or always 8 ("fixed").
    shipped = retrieval.MODEL_VOTE
    grid = [{"RANKER": "shipped"}, {"RANKER": "shipped, without the model's phrases"}]
    grid += [{"RANKER": None, "SHARPNESS": g, "SPECIFICITY": b, "MODEL_VOTE": v, "CAPS": caps, "BUDGET": budget}
            for g, b, v, caps, budget in ((1.0, 0.0, shipped, None, "shipped"), (1.0, 0.0, 0.0, None, "shipped"),
                                          (1.0, 0.0, 1.0, None, "shipped"), (1.0, 0.0, shipped, None, "fixed"),
                                          (1.0, 0.0, shipped, 3, "shipped"), (1.0, 0.5, shipped, None, "shipped"))]
    keep = ("soft_modifier_f1", "modifier_f1", "fidelity", "redundant_rate", "top10_share", "distinct_added",
            "invented_rate", "colour_contradictions", "medium_consistency", "mixed_media_rate", "malformed_joins",
            "over_budget_rate")
    results = {}
    for name, items in sets.items():
        ideas = [it.idea for it in items]
        rows = decoded(name, ideas, director)
        hits = [director.retrieve(i) for i in ideas]
        results[name] = []
        base = {k: getattr(retrieval, k) for k in ("SHARPNESS", "SPECIFICITY", "MODEL_VOTE", "BUDGET_BY_SIMILARITY")}
        caps = dict(selection.CATEGORY_CAPS)
        for variant in grid:
            ranker = None
            for k, v in variant.items():
                if k == "RANKER":
                    ranker = v and (shipped_ranker if v == "shipped" else WithoutModel(shipped_ranker))
                elif k == "CAPS":  # None: as shipped (3 artists); 3: also at most 3 boosters
                    selection.CATEGORY_CAPS.clear()
                    selection.CATEGORY_CAPS.update(caps, **({"booster": v} if v else {}))
                elif k == "BUDGET":
                    retrieval.BUDGET_BY_SIMILARITY = (base["BUDGET_BY_SIMILARITY"] if v == "shipped"
                                                      else ((0.0, retrieval.MAX_MODIFIERS),))
                else:
                    setattr(retrieval, k, v)
            start = time.perf_counter()
            prompts = directed(ideas, rows, hits, ranker)
            selection_ms = (time.perf_counter() - start) / len(ideas) * 1000
            recs = [{"prompts": p, "seconds": 0.0} for p in prompts]
            table = score(items, {"artdirector": recs}, embedder)
            row = {**variant, "selection_ms_per_idea": selection_ms, **{k: table["artdirector"].get(k) for k in keep}}
            if "human" in table:
                row["human"] = {k: table["human"].get(k) for k in keep}
            results[name].append(row)
            print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()
                                    if k != "human"}))
        for k, v in base.items():
            setattr(retrieval, k, v)
        selection.CATEGORY_CAPS.clear()
        selection.CATEGORY_CAPS.update(caps)
        if "human" in results[name][0]:
            print(name, "human", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                             for k, v in results[name][0]["human"].items()}))
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
