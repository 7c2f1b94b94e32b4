"""How the director chooses modifiers from the model's phrases and the retrieved pool: a grid, on validation.

The expensive part (the LM's greedy answer for each idea) is computed once and cached in ``bench/.cache``;
retrieval runs afresh. The shipped learned ranker (``library.ranker``; the vote for ideas far from the
library's) comes first, then the same ranker shown none of the model's phrases (its LM ablation), then the
same ranker without this stop's changes (``VARIETY``; ``RELEVANCE``, the far ideas' vote weighed by
relatedness), then variants of the hand-set vote on its own (``library.ranker.Vote``; ``MODEL_VOTE = 0`` is
its LM ablation). Each re-runs only the selection and the guards (timed: ``selection_ms_per_idea``) and is scored
by the evaluation harness: soft modifier F1 against the human prompts (the prefix protocol) and the trust
metrics. The same grid runs on the out-of-domain validation ideas for the trust metrics. With the first two
variants, the LM's gain (per-idea soft F1 with the model's phrases minus without) gets a 95% paired bootstrap
interval (``lm_gain``). Prints and saves ``bench/results/selection.json``.

    python bench/bench_selection.py --limit 200                    # --ranker runs/ranker: another ranker
    python bench/bench_selection.py --limit 200 --variants 0,1     # the ranker and its LM ablation only
    python bench/bench_selection.py --limit 200 --variants 0,1 --adapter runs/raft   # another adapter's answers
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"


def decoded(name: str, ideas: list[str], director, tag: str = "", eos_bias: float = 0.0):
    """(model text, finish reason) per idea, from the cache or from the director's greedy answer (``tag``: names
    an adapter other than the shipped one in the cache's file name; ``eos_bias``: added to the end-of-answer
    tokens' logits, a longer answer from a model that stops early)."""
    limit = director.token_limit("greedy")  # the caches of stop 39 and before hold answers of up to 48 tokens
    limited = f"-t{limit}" if limit != 48 else ""
    path = CACHE / f"selection-{name}{tag}{f'-eos{eos_bias:g}' if eos_bias else ''}{limited}-{len(ideas)}.pkl"
    if path.exists():
        return [row[:2] for row in pickle.loads(path.read_bytes())]  # older caches also kept the hits
    out, bias = [], {t: eos_bias for t in director.lm.eos_token_ids} if eos_bias else None
    for b in range(0, len(ideas), 32):
        chunk = ideas[b:b + 32]
        out += director.answers(chunk, [director.retrieve(i) for i in chunk], bias)
    rows = [(d.text, d.finish_reason) for d in out]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rows))
    return rows


GRID_ABLATION = [{"RANKER": "shipped"}, {"RANKER": "shipped, without the model's phrases"}]  # the grid's first two


def paired_gain(a, b, resamples: int = 2000) -> dict:
    """Mean per-idea soft F1 of ``a`` minus ``b`` (the same ideas) and its 95% paired bootstrap interval."""
    import numpy as np

    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": round(float(diff.mean()), 4), "ci95": [round(float(low), 4), round(float(high), 4)],
            "ideas_better": int((diff > 0).sum()), "ideas_worse": int((diff < 0).sum())}


class WithoutModel:
    """The ranker's LM ablation: the same ranker, shown none of the model's phrases."""

    def __init__(self, ranker):
        self.ranker = ranker

    def rank(self, idea, model_phrases, retrieved, used=None, admits=None):
        return self.ranker.rank(idea, (), retrieved, used, admits)


def directed(ideas, rows, hits, ranker, details: bool = False) -> list[list[str]]:
    from artdirector.render import render
    from artdirector.selection import select_modifiers

    prompts = []
    for idea, (text, finish), retrieved in zip(ideas, rows, hits):
        chosen = select_modifiers(idea, text, truncated=finish == "length", seed=0, retrieved=retrieved,
                                  ranker=ranker, details=details)
        prompts.append([render(chosen.direction, "sd15").prompt])
    return prompts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "selection.json"),
                    help="where the figures go (stop 30: --variants 0,1,13,14,15 --out "
                         "bench/results/selection-s30.json)")
    ap.add_argument("--ranker", help="a trained ranker's folder (artdirector train ranker) instead of the shipped one")
    ap.add_argument("--adapter", help="an adapter folder (train sft; a checkpoint-N in one) instead of the shipped "
                                      "one: its answers are decoded and cached apart")
    ap.add_argument("--eos-bias", type=float, default=0.0, help="added to the end-of-answer logits while decoding "
                                                              "(negative: longer answers)")
    ap.add_argument("--variants", help="run only these of the grid's variants, by position (0,1: the ranker and its "
                                       "LM ablation)")
    args = ap.parse_args()

    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import idea_items, prefix_items, read_prompts, score
    from artdirector.evaluation.metrics import modifiers_of, soft_scores
    from artdirector.library import retrieval
    from artdirector.library.consensus import Consensus
    from artdirector.library.ranker import Ranker, Vote
    from artdirector.library.retrieval import VARIETY
    from artdirector.readers import read_texts

    director = ArtDirector.from_default(adapter=args.adapter or "default")
    embedder = director.library.embedder
    tag = "-" + "-".join(Path(args.adapter).resolve().parts[-2:]) if args.adapter else ""
    sets = {
        "prefix-validation": prefix_items(read_prompts(ROOT / "data/splits/validation.tsv"), limit=args.limit,
                                          seed=0)[0],
        "ood-validation": idea_items(read_texts(ROOT / "data/ood/validation.txt"), limit=args.limit, seed=0)[0],
    }
    # The shipped ranker (the vote for far ideas) and its LM ablation; the same ranker as last stop shipped it
    # (VARIETY 0, no RELEVANCE), with either change alone, and with less and more variety; then the vote on its
    # own (--ranker vote): as shipped, its LM ablation (the same pipeline without the model's phrases), as last
    # stop shipped it, less variety, RELEVANCE 2, and a fixed budget of 8. Keys left out keep their shipped values.
    # BUDGET: the modifier budget by the nearest idea's similarity ("shipped"), or always 8 ("fixed"). Last, the
    # consensus set (--ranker consensus), and it and the shipped ranker with --details (no invented-matter guard).
    grid = [*GRID_ABLATION,
            {"RANKER": "shipped", "VARIETY": 0.0, "RELEVANCE": 0.0}, {"RANKER": "shipped", "VARIETY": 0.0},
            {"RANKER": "shipped", "RELEVANCE": 0.0}, {"RANKER": "shipped", "VARIETY": 0.25},
            {"RANKER": "shipped", "VARIETY": 1.0}, {"RANKER": "vote"}, {"RANKER": "vote", "MODEL_VOTE": 0.0},
            {"RANKER": "vote", "VARIETY": 0.0, "RELEVANCE": 0.0}, {"RANKER": "vote", "VARIETY": 0.25},
            {"RANKER": "vote", "RELEVANCE": 2.0}, {"RANKER": "vote", "BUDGET": "fixed"},
            {"RANKER": "consensus"}, {"RANKER": "consensus", "DETAILS": True}, {"RANKER": "shipped", "DETAILS": True}]
    grid = [grid[int(i)] for i in args.variants.split(",")] if args.variants else grid
    keep = ("soft_modifier_f1", "modifier_f1", "fidelity", "redundant_rate", "top10_share", "distinct_added",
            "invented_rate", "colour_contradictions", "medium_consistency", "mixed_media_rate", "malformed_joins",
            "over_budget_rate")
    results, per_idea = {}, {}
    for name, items in sets.items():
        ideas = [it.idea for it in items]
        rows = decoded(name, ideas, director, tag, args.eos_bias)
        hits = [director.retrieve(i) for i in ideas]
        results[name] = []
        base = {k: getattr(retrieval, k) for k in ("MODEL_VOTE", "RELEVANCE", "BUDGET_BY_SIMILARITY")}
        for variant in grid:
            for k, v in base.items():
                setattr(retrieval, k, v)
            if variant.get("BUDGET") == "fixed":
                retrieval.BUDGET_BY_SIMILARITY = ((0.0, retrieval.MAX_MODIFIERS),)
            for k, v in variant.items():
                if k not in ("RANKER", "VARIETY", "BUDGET", "DETAILS"):
                    setattr(retrieval, k, v)
            variety = variant.get("VARIETY", VARIETY)
            ranker = (Vote(embedder, variety=variety) if variant["RANKER"] == "vote"
                      else Consensus(embedder, variety=variety) if variant["RANKER"] == "consensus"
                      else Ranker.from_folder(args.ranker, embedder, variety=variety) if args.ranker
                      else Ranker.default(embedder, variety=variety))
            if variant["RANKER"] != "vote" and "without" in variant["RANKER"]:
                ranker = WithoutModel(ranker)
            start = time.perf_counter()
            prompts = directed(ideas, rows, hits, ranker, details=variant.get("DETAILS", False))
            selection_ms = (time.perf_counter() - start) / len(ideas) * 1000
            recs = [{"prompts": p, "seconds": 0.0} for p in prompts]
            table = score(items, {"artdirector": recs}, embedder)
            row = {**variant, "selection_ms_per_idea": selection_ms, **{k: table["artdirector"].get(k) for k in keep}}
            if grid[:2] == GRID_ABLATION and variant in GRID_ABLATION and all(it.modifiers for it in items):
                per_idea.setdefault(name, []).append(soft_scores(
                    [modifiers_of(p[0], it.idea) for p, it in zip(prompts, items)], [it.modifiers for it in items],
                    embedder)[:, 2])
            if "human" in table:
                row["human"] = {k: table["human"].get(k) for k in keep}
            results[name].append(row)
            print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()
                                    if k != "human"}))
        for k, v in base.items():
            setattr(retrieval, k, v)
        if "human" in results[name][0]:
            print(name, "human", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                             for k, v in results[name][0]["human"].items()}))
    if len(per_idea.get("prefix-validation", ())) == 2:  # with the model's phrases, then without
        results["lm_gain"] = paired_gain(*per_idea["prefix-validation"])
        print("lm gain", json.dumps(results["lm_gain"]))
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
