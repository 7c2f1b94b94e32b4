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


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic."""
    from scipy.stats import mannwhitneyu

    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(mannwhitneyu(pos, neg).statistic) / (len(pos) * len(neg))


def combined(records: list[dict], folds: int = 5, at: int = 5) -> dict:
    """Whether the LM's signals add to the ranker's: a logistic regression over the ranker's logit and the LM's
    signals, fitted on four fifths of the ideas and scored on the rest (no idea in both), against the ranker alone:
    the mean within-idea ROC AUC and the precision of the ``at`` best candidates."""
    from sklearn.linear_model import LogisticRegression

    def x_of(r: dict) -> np.ndarray:
        p = np.clip(r["ranker"], 1e-6, 1 - 1e-6)
        return np.column_stack([np.log(p / (1 - p)), r["likelihood"], r["pmi"]])

    def within(pairs) -> tuple[float, float]:
        aucs = [auc(y, s) for y, s in pairs if 0 < y.sum() < len(y)]
        return float(np.mean(aucs)), float(np.mean([y[np.argsort(-s, kind="stable")[:at]].mean() for y, s in pairs]))

    scored = []
    for f in range(folds):
        train = [r for i, r in enumerate(records) if i % folds != f]
        model = LogisticRegression(max_iter=1000).fit(np.vstack([x_of(r) for r in train]),
                                                      np.concatenate([r["y"] for r in train]))
        scored += [(r["y"], model.decision_function(x_of(r))) for i, r in enumerate(records) if i % folds == f]
    alone = within([(r["y"], r["ranker"]) for r in records])
    both = within(scored)
    return {"auc_within_idea": {"ranker": round(alone[0], 4), "ranker+lm": round(both[0], 4)},
            f"precision_at_{at}": {"ranker": round(alone[1], 4), "ranker+lm": round(both[1], 4)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "lm_signal.json"))
    ap.add_argument("--adapter", help="an adapter folder (train sft) instead of the shipped one; a RAFT adapter's "
                                      "frame holds the retrieved neighbours it was trained with")
    ap.add_argument("--eos-bias", type=float, default=0.0, help="the cached answers decoded with this end bias "
                                                              "(bench_selection --eos-bias)")
    args = ap.parse_args()

    from bench_selection import decoded

    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.guards import admissible
    from artdirector.library.ranker import SOFT, candidate_features, far
    from artdirector.selection import model_phrases
    from artdirector.text import normalise_phrase

    director = ArtDirector.from_default(adapter=args.adapter or "default")
    lm, ranker = director.lm, director.ranker
    tag = "-" + "-".join(Path(args.adapter).resolve().parts[-2:]) if args.adapter else ""
    items = prefix_items(read_prompts(ROOT / "data/splits/validation.tsv"), limit=args.limit, seed=0)[0]
    answers = decoded("prefix-validation", [it.idea for it in items], director, tag, args.eos_bias)

    def frame(idea: str, hits=()) -> list[int]:  # what the decoder conditions the answer on (``_decode``)
        return lm.tokenize(director.build_prompt(idea, 0, hits)) + lm.tokenize(f"{idea},")

    def likelihood(prefix: list[int], phrases: list[str]) -> np.ndarray:
        conts = [lm.tokenize(f" {p},") for p in phrases]
        seqs = [tuple(prefix + c[:j]) for c in conts for j in range(len(c))]
        rows = lm.next_token_logprobs(seqs)
        out, r = np.zeros(len(conts)), 0
        for i, c in enumerate(conts):
            out[i] = sum(float(rows[r + j, t]) for j, t in enumerate(c))
            r += len(c)
        return out

    prior: dict[str, float] = {}
    records, seconds = [], []
    for item, (text, finish) in zip(items, answers):
        hits = director.retrieve(item.idea)
        if far(hits):
            continue
        kept, _ = model_phrases(item.idea, text, truncated=finish == "length")
        phrases, rows, *_ = candidate_features(item.idea, kept, hits, ranker.embed,
                                              lambda m, idea=item.idea: admissible(m, idea))
        reference = list(dict.fromkeys(normalise_phrase(m) for m in item.modifiers))
        if not phrases or not reference:
            continue
        probs = ranker.probabilities(rows)
        top = np.argsort(-probs, kind="stable")[:TOP]
        chosen = [phrases[i] for i in top]
        labels = ((ranker.embed(chosen) @ ranker.embed(reference).T).max(axis=1) >= SOFT).astype(int)
        start = time.perf_counter()
        lp = likelihood(frame(item.idea, hits), chosen)
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
    result["combined"] = combined(records)
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
