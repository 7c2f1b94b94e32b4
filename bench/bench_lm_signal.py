"""Does the LM know which candidate phrases the human would add? Its likelihood as a ranking signal, on validation.

The issue asks the pipeline with its LM to beat the same pipeline without the LM's phrases; the selection grid
(``bench_selection.py``) shows the ranker gaining nothing from the phrases the model writes. This asks whether the
model could help another way: by scoring the candidates instead of writing them. For each validation prefix the
learned ranker takes, its 40 best candidates are scored by the shipped LM (SmolLM2-135M with the adapter, the
director's own zero-shot frame): the log-likelihood of ``" <phrase>,"`` right after ``"<idea>,"``, and that minus
the same phrase's likelihood after a neutral idea (pointwise mutual information, which discounts phrases likely
anywhere). Each signal's ROC AUC against the label of ``training.ranker`` (the human's prompt holds a phrase within
the soft-match cosine) is printed beside the ranker's own, pooled and within ideas, with the seconds the scoring
took per idea. Prints and saves ``bench/results/lm_signal.json``.

    python bench/bench_lm_signal.py --limit 200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NEUTRAL = "an image"
TOP = 40


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "lm_signal.json"))
    args = ap.parse_args()

    from bench_selection import decoded

    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.guards import admissible
    from artdirector.library.ranker import SOFT, Ranker, candidate_features
    from artdirector.selection import model_phrases
    from artdirector.text import normalise_phrase

    director = ArtDirector.from_default()
    lm, ranker = director.lm, director.ranker
    items = prefix_items(read_prompts(ROOT / "data/splits/validation.tsv"), limit=args.limit, seed=0)[0]
    answers = decoded("prefix-validation", [it.idea for it in items], director)

    def frame(idea: str) -> list[int]:  # what the decoder conditions the answer on (``ArtDirector._decode``)
        return lm.tokenize(director.build_prompt(idea)) + lm.tokenize(f"{idea},")

    def likelihood(prefix: list[int], phrases: list[str]) -> np.ndarray:
        conts = [lm.tokenize(f" {p},") for p in phrases]
        seqs = [tuple(prefix + c[:j]) for c in conts for j in range(len(c))]
        rows = lm.next_token_logprobs(seqs)
        out, r = np.zeros(len(conts)), 0
        for i, c in enumerate(conts):
            out[i] = sum(float(rows[r + j, t]) for j, t in enumerate(c))
            r += len(c)
        return out

    def auc(labels: np.ndarray, scores: np.ndarray) -> float:  # ROC AUC as the Mann-Whitney U statistic
        from scipy.stats import mannwhitneyu

        pos, neg = scores[labels == 1], scores[labels == 0]
        return float(mannwhitneyu(pos, neg).statistic) / (len(pos) * len(neg))

    prior: dict[str, float] = {}
    records, seconds = [], []
    for item, (text, finish) in zip(items, answers):
        hits = director.retrieve(item.idea)
        if not Ranker.applies(hits):
            continue
        kept, _ = model_phrases(item.idea, text, truncated=finish == "length")
        phrases, rows, _ = candidate_features(item.idea, kept, hits, ranker.embed,
                                              lambda m, idea=item.idea: admissible(m, idea))
        reference = list(dict.fromkeys(normalise_phrase(m) for m in item.modifiers))
        if not phrases or not reference:
            continue
        probs = ranker.probabilities(rows)
        top = np.argsort(-probs, kind="stable")[:TOP]
        chosen = [phrases[i] for i in top]
        labels = ((ranker.embed(chosen) @ ranker.embed(reference).T).max(axis=1) >= SOFT).astype(int)
        start = time.perf_counter()
        lp = likelihood(frame(item.idea), chosen)
        seconds.append(time.perf_counter() - start)
        new = [p for p in chosen if p not in prior]
        prior.update(zip(new, likelihood(frame(NEUTRAL), new)) if new else ())
        records.append({"y": labels, "ranker": probs[top], "likelihood": lp,
                        "pmi": lp - np.array([prior[p] for p in chosen])})

    y = np.concatenate([r["y"] for r in records])
    mixed = [r for r in records if 0 < r["y"].sum() < len(r["y"])]
    result = {"ideas": len(records), "candidates": int(len(y)), "positive_share": round(float(y.mean()), 4),
              "scoring_seconds_per_idea_p50": round(float(np.median(seconds)), 3), "auc": {}, "auc_within_idea": {}}
    for key in ("ranker", "likelihood", "pmi"):
        result["auc"][key] = round(auc(y, np.concatenate([r[key] for r in records])), 4)
        result["auc_within_idea"][key] = round(float(np.mean([auc(r["y"], r[key]) for r in mixed])), 4)
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
