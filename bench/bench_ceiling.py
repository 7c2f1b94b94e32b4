"""How much of the human's modifiers the candidate pool holds: the ceiling of any selection, on validation.

For each validation prefix (the prefix protocol of ``eval prefix``), the candidates are what the shipped ranker
ranks: the modifiers of the retrieved prompts and the model's phrases (``ranker.candidate_features``). An oracle
that takes exactly the candidates of a one-to-one soft matching with the human's modifiers (cosine >= the
metrics' ``SOFT_THRESHOLD``) scores precision 1 and the pool's recall: its F1 is what no selection from that
pool can beat. Reported for the whole pool, for what the invented-matter guard admits (``guards.admissible``),
for the retrieved modifiers alone and for the model's phrases alone; beside them, the shipped selection's soft
precision and recall (after the guards and the sd15 renderer). The LM answers come from ``bench_selection``'s
cache. Prints and saves ``bench/results/ceiling.json``.

    python bench/bench_ceiling.py --limit 200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_selection import ROOT, decoded, directed


def oracle_f1(pool_vecs: np.ndarray, ref_vecs: np.ndarray) -> tuple[float, float]:
    """(F1, recall) of the oracle that takes the pool's phrases of a greedy one-to-one soft matching."""
    from artdirector.evaluation.metrics import greedy_matches

    if not len(pool_vecs) or not len(ref_vecs):
        return 0.0, 0.0
    hits = greedy_matches(pool_vecs @ ref_vecs.T)
    return (2 * hits / (hits + len(ref_vecs)) if hits else 0.0), hits / len(ref_vecs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ceiling.json"))
    args = ap.parse_args()

    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.evaluation.metrics import modifiers_of, soft_prf
    from artdirector.guards import admissible
    from artdirector.library.ranker import PhraseVectors, Ranker, candidate_features
    from artdirector.selection import model_phrases

    director = ArtDirector.from_default()
    vectors = PhraseVectors.of(director.library)
    items = prefix_items(read_prompts(ROOT / "data/splits/validation.tsv"), limit=args.limit, seed=0)[0]
    ideas = [it.idea for it in items]
    rows = decoded("prefix-validation", ideas, director)
    hits = [director.retrieve(i) for i in ideas]
    prompts = directed(ideas, rows, hits, Ranker.default(director.library.embedder))
    pools = ("all candidates", "admitted by the guard", "retrieved, admitted", "model's, admitted")
    figures = {p: {"f1": [], "recall": []} for p in pools}
    precision, recall = [], []
    for item, (text, finish), retrieved, prompt in zip(items, rows, hits, prompts):
        kept = model_phrases(item.idea, text, truncated=finish == "length")[0]
        phrases = candidate_features(item.idea, kept, retrieved, vectors)[0]
        admitted = [m for m in phrases if admissible(m, item.idea)]
        refs = vectors(list(item.modifiers))
        for name, pool in zip(pools, (phrases, admitted, [m for m in admitted if m not in kept],
                                      [m for m in kept if admissible(m, item.idea)])):
            f1, rec = oracle_f1(vectors(pool) if pool else np.zeros((0, refs.shape[1])), refs)
            figures[name]["f1"].append(f1)
            figures[name]["recall"].append(rec)
        chosen = modifiers_of(prompt[0], item.idea)
        p, r, _ = soft_prf(vectors(chosen) if chosen else np.zeros((0, refs.shape[1])), refs)
        precision.append(p)
        recall.append(r)
    result = {"ideas": len(items),
              "oracle": {name: {k: round(float(np.mean(v)), 4) for k, v in f.items()} for name, f in figures.items()},
              "shipped selection": {"soft_precision": round(float(np.mean(precision)), 4),
                                    "soft_recall": round(float(np.mean(recall)), 4)}}
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
