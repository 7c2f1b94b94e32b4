"""Where the director loses to the nearest human prompt, and what moving the ranker's reach would do, on validation.

1. Per idea soft modifier F1 of the director and of the nearest-neighbour baseline (the records of an ``eval prefix``
   run, ``--results``), averaged by the similarity of the nearest idea the director retrieves: the baseline wins
   only where the library holds a near-copy of the idea, whose subject details the invented-matter guard refuses.
2. Selection variants on cached LM answers (``bench_selection``'s cache): how strongly a far idea's candidates are
   weighed by relatedness (``ranker.FAR_RELEVANCE``) and where an idea counts as far (``ranker.MIN_SIMILARITY``),
   the hand-set vote for far ideas instead (the rule until stop 37), the specificity weight (``--variety``), the
   share of the neighbours' phrase count the budget expects (``ranker.EXPECTED_COUNT_SHARE``), and a
   larger phrase cap for ideas with a near-copy (``retrieval.BUDGET_BY_SIMILARITY``, ``selection.CATEGORY_CAPS``),
   scored by the evaluation harness on the validation prefixes and the out-of-domain validation ideas.

Prints and saves ``bench/results/by_similarity.json``.

    python bench/bench_by_similarity.py --results bench/results/eval-val-200-s32/results.jsonl --limit 200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_selection import ROOT, decoded, directed

BUCKETS = (0.0, 0.6, 0.7, 0.8, 0.9, 1.01)
VARIANTS = (
    {"name": "shipped"},
    {"name": "the vote for far ideas (until stop 37)", "FAR_VOTE": True},
    {"name": "far ideas unweighted by relatedness", "FAR_RELEVANCE": 0.0},
    {"name": "far relevance 1", "FAR_RELEVANCE": 1.0},
    {"name": "far relevance 3", "FAR_RELEVANCE": 3.0},
    {"name": "far below 0.5", "MIN_SIMILARITY": 0.5},
    {"name": "far below 0.7", "MIN_SIMILARITY": 0.7},
    {"name": "variety 1", "VARIETY": 1.0},
    {"name": "budget expects the whole count (until stop 39)", "SHARE": 1.0},
    {"name": "budget expects 0.5 of the count", "SHARE": 0.5},
    {"name": "up to 14 phrases and 5 artists at 0.85", "BUDGET": ((0.85, 14), (0.7, 8), (0.55, 6), (0.0, 4)),
     "CAPS": {"artist": 5, "lighting": 2}},
)
KEEP = ("soft_modifier_f1", "fidelity", "top10_share", "distinct_added", "redundant_rate", "invented_rate",
        "colour_contradictions", "medium_consistency", "malformed_joins", "over_budget_rate", "modifiers_per_prompt")


class FarVote:
    """The rule until stop 37: the learned ranker for ideas close to the library's, the hand-set vote for far ones."""

    def __init__(self, ranker, vote):
        self.ranker, self.vote = ranker, vote

    def rank(self, idea, model_phrases, retrieved, used=None, admits=None):
        from artdirector.library.ranker import far

        chosen = self.vote if far(retrieved) else self.ranker
        return chosen.rank(idea, model_phrases, retrieved, used, admits)


def by_similarity(items, hits, results: Path, embedder) -> list[dict]:
    from artdirector.evaluation.metrics import modifiers_of, soft_scores

    firsts: dict[str, dict[int, str]] = {}
    for line in results.read_text().splitlines():
        row = json.loads(line)
        firsts.setdefault(row["system"], {})[row["i"]] = row["prompts"][0]

    tops = np.array([float(h[0].score) if h else 0.0 for h in hits])
    scores = {s: soft_scores([modifiers_of(p[i], it.idea) for i, it in enumerate(items)],
                             [it.modifiers for it in items], embedder)[:, 2] for s, p in firsts.items()}
    rows = []
    for lo, hi in zip(BUCKETS, BUCKETS[1:]):
        sel = (tops >= lo) & (tops < hi)
        rows.append({"nearest_similarity": [lo, min(hi, 1.0)], "ideas": int(sel.sum()),
                     **{s: float(v[sel].mean()) if sel.any() else None for s, v in scores.items()}})
        print("by similarity", json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, help="results.jsonl of an 'eval prefix' run with nearest-neighbour "
                                                     "and artdirector on the same --limit")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "by_similarity.json"))
    args = ap.parse_args()

    from artdirector import selection
    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import idea_items, prefix_items, read_prompts, score
    from artdirector.library import ranker, retrieval
    from artdirector.readers import read_texts

    director = ArtDirector.from_default()
    embedder = director.library.embedder
    sets = {"prefix-validation": prefix_items(read_prompts(ROOT / "data/splits/validation.tsv"), limit=args.limit,
                                              seed=0)[0],
            "ood-validation": idea_items(read_texts(ROOT / "data/ood/validation.txt"), limit=args.limit, seed=0)[0]}
    # a variant's key -> the module constant it sets; every other constant keeps its shipped value
    knobs = {"MIN_SIMILARITY": (ranker, "MIN_SIMILARITY"), "BUDGET": (retrieval, "BUDGET_BY_SIMILARITY"),
             "CAPS": (selection, "CATEGORY_CAPS"), "FAR_RELEVANCE": (ranker, "FAR_RELEVANCE"),
             "SHARE": (ranker, "EXPECTED_COUNT_SHARE")}
    shipped = {key: getattr(module, attr) for key, (module, attr) in knobs.items()}
    out = {}
    for name, items in sets.items():
        ideas = [it.idea for it in items]
        rows, hits = decoded(name, ideas, director), [director.retrieve(i) for i in ideas]
        if name == "prefix-validation":
            out["by_similarity"] = by_similarity(items, hits, Path(args.results), embedder)
        out[name] = []
        for v in VARIANTS:
            for key, (module, attr) in knobs.items():
                setattr(module, attr, v.get(key, shipped[key]))
            variety = v.get("VARIETY", retrieval.VARIETY)
            chosen = ranker.Ranker.default(embedder, variety=variety)
            if v.get("FAR_VOTE"):
                chosen = FarVote(chosen, ranker.Vote(embedder, chosen.embed, variety=variety))
            prompts = directed(ideas, rows, hits, chosen)
            table = score(items, {"artdirector": [{"prompts": p, "seconds": 0.0} for p in prompts]}, embedder)
            out[name].append({"variant": v["name"], **{k: table["artdirector"].get(k) for k in KEEP}})
            print(name, json.dumps({k: round(x, 3) if isinstance(x, float) else x for k, x in out[name][-1].items()}))
        for key, (module, attr) in knobs.items():
            setattr(module, attr, shipped[key])
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
