"""Does the director honour hard constraints, and at what cost? (issue: constrained decoding)

Ideas: the validation split's prefix ideas (held out from training; never the test split). Each idea gets a
random constraint set of 1–3 clauses drawn from the shipped vocabularies: an include clause (a style, artist,
medium, lighting, colour, mood, composition or booster phrase among each category's 30 most used) or, one
time in three, an exclusion of a modifier the director writes often (so that excluding it bites).

Decoders, all on the shipped director (embedded SmolLM2 + adapter, llama.cpp, no retrieval):

- ``asked``: prompting only — the constraints written into the user's message ("…, style: X, by Y, without
  Z"), greedy decoding: the baseline;
- ``neurologic``: NeuroLogic beam search (beam 6), as ``direct`` runs it;
- ``grammar``: llguidance decoding under the direction grammar with the required phrases compiled in and
  exclusions vetoed token by token (``--decoding grammar``);
- ``beam``: the same beam search with no constraints (the speed reference for NeuroLogic);
- on the first ``--smc-ideas`` ideas: ``smc`` (8 particles) against 8 independent samples (temperature 0.7).

Per decoder: satisfaction (every clause met by the decoded text itself — no post-decoding repair), fluency
(mean log-probability per token of the answer under the same model, through the transformers backend with
the same adapter) and repetition (share of repeated phrases), latency p50/p95 and their ratios measured in
this one run; for grammar decoding the share of its time spent computing masks.

    .venv/bin/python bench/bench_constraints.py [--ideas 200] [--smc-ideas 40]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("style", "artist", "medium", "lighting", "color", "mood", "composition", "booster")
EXCLUDABLE = ("highly detailed", "artstation", "8k", "concept art", "digital painting", "sharp focus",
              "octane render", "trending on artstation", "cinematic", "illustration")


def random_constraints(rng: random.Random, idea: str):
    from artdirector.decoding.constraints import Constraints, contains
    from artdirector.vocab import category_vocab

    include: dict[str, list[str]] = {}
    exclude: list[str] = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 1 / 3:
            options = [e for e in EXCLUDABLE if e not in exclude and not contains(idea.lower(), e)]
            exclude.append(rng.choice(options))
        else:
            category = rng.choice(CATEGORIES)
            include.setdefault(category, []).append(rng.choice(category_vocab(category)[:30]).phrase)
    # A drawn phrase may contain an excluded one ("concept art" vs "concept art style"): drop the exclusion.
    exclude = [e for e in exclude if not any(contains(p, e) for ps in include.values() for p in ps)]
    if not include and not exclude:
        exclude = [EXCLUDABLE[0]]
    return Constraints.build(exclude=exclude, **include)


def asked_text(idea: str, c) -> str:
    parts = [f"{cl.category or 'include'}: {cl.alternatives[0]}" for cl in c.include]
    parts += [f"without {e}" for e in c.exclude]
    return ", ".join([idea, *parts])


def repetition(text: str) -> float:
    from artdirector.rewards import no_repetition

    return 1.0 - no_repetition([""], [text])[0]


def summarise(rows: list[dict]) -> dict:
    secs = sorted(r["seconds"] for r in rows)
    out = {"n": len(rows), "satisfied": round(statistics.mean(r["satisfied"] for r in rows), 4),
           "latency_p50_s": round(statistics.median(secs), 3),
           "latency_p95_s": round(secs[min(len(secs) - 1, int(0.95 * len(secs)))], 3)}
    for key in ("logprob_per_token", "repetition", "mask_share"):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            out[key] = round(statistics.mean(values), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ideas", type=int, default=200)
    parser.add_argument("--smc-ideas", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "constraints.json"))
    args = parser.parse_args()

    import torch

    from artdirector.decoding.constraints import Constraints
    from artdirector.decoding.grammar import constraint_grammar, grammar_generate
    from artdirector.decoding.neurologic import neurologic_generate
    from artdirector.decoding.smc import smc_generate
    from artdirector.director import ArtDirector, default_adapter
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.evaluation.metrics import distinct_n
    from artdirector.lm.base import GenerationConfig
    from artdirector.lm.transformers_backend import TransformersLM

    items, _ = prefix_items(read_prompts(ROOT / "data" / "splits" / "validation.tsv"), limit=args.ideas,
                            seed=args.seed)
    director = ArtDirector.from_default(rag=False)
    lm = director.lm
    scorer = TransformersLM.from_embedded(adapter=default_adapter())
    rng = random.Random(args.seed)
    config = GenerationConfig(max_new_tokens=director.max_new_tokens, stop=("\n", "<|im_end|>"))
    long = GenerationConfig(max_new_tokens=director.max_new_tokens + 16, stop=("\n", "<|im_end|>"),
                            no_repeat_ngram_size=3)

    def fluency(prompt: str, prefix: str, text: str) -> float | None:
        """Mean log-probability per token of ``text`` after ``prompt + prefix`` under the scoring model."""
        head = scorer.tokenize(prompt + prefix)
        answer = scorer.tokenize(text)
        if not answer:
            return None
        ids = torch.tensor([head + answer])
        with torch.no_grad():
            logits = scorer.model(input_ids=ids).logits[0, len(head) - 1:-1].float()
        lp = torch.log_softmax(logits, -1).gather(1, torch.tensor(answer)[:, None])
        return float(lp.mean())

    def row(idea, c, prompt, prefix, text, seconds, **extra) -> dict:
        return {"idea": idea, "text": text.strip(), "seconds": seconds, "satisfied": c.met((prefix + text).lower()),
                "logprob_per_token": fluency(prompt, prefix, text), "repetition": repetition(text), **extra}

    rows: dict[str, list[dict]] = {k: [] for k in ("asked", "neurologic", "grammar", "beam")}
    clauses = []
    for item in items:
        idea = item.idea
        c = random_constraints(rng, idea)
        clauses.append(len(c.include) + len(c.exclude))
        prompt, prefix = director.build_prompt(idea), idea + ","
        start = time.perf_counter()
        asked = lm.generate([director.build_prompt(asked_text(idea, c))], config, prefixes=[prefix])[0].text
        rows["asked"].append(row(idea, c, prompt, prefix, asked, time.perf_counter() - start))
        start = time.perf_counter()
        found = neurologic_generate(lm, prompt, c, prefix=prefix, config=long)
        rows["neurologic"].append(row(idea, c, prompt, prefix, found.text, time.perf_counter() - start))
        start = time.perf_counter()
        plain = neurologic_generate(lm, prompt, Constraints(), prefix=prefix, config=long)
        rows["beam"].append(row(idea, c, prompt, prefix, plain.text, time.perf_counter() - start))
        start = time.perf_counter()
        g = grammar_generate(lm, [prompt], constraint_grammar(c), GenerationConfig(
            max_new_tokens=director.max_new_tokens + 32), prefixes=[prefix], exclude=c.exclude)[0]
        seconds = time.perf_counter() - start
        rows["grammar"].append(row(idea, c, prompt, prefix, " " + g.text, seconds, mask_share=g.mask_seconds / seconds,
                                   accepted=g.accepted))
        print(len(rows["asked"]), {k: v[-1]["satisfied"] for k, v in rows.items()}, flush=True)

    smc_rows: dict[str, list[dict]] = {"smc": [], "independent": []}
    smc_rng = random.Random(args.seed + 1)
    for item in items[: args.smc_ideas]:
        idea = item.idea
        c = random_constraints(smc_rng, idea)
        prompt, prefix = director.build_prompt(idea), idea + ","
        start = time.perf_counter()
        res = smc_generate(lm, prompt, prefix=prefix, constraints=c, particles=8,
                           config=GenerationConfig(max_new_tokens=director.max_new_tokens + 16, seed=0))
        seconds = time.perf_counter() - start
        smc_rows["smc"].append(row(idea, c, prompt, prefix, " " + res.texts[0], seconds,
                                   distinct_2=distinct_n(res.texts), answers=len(res.texts)))
        start = time.perf_counter()
        samples = [g.text for g in lm.generate([prompt] * 8, GenerationConfig(
            max_new_tokens=director.max_new_tokens, temperature=0.7, seed=0, stop=("\n", "<|im_end|>")),
            prefixes=[prefix] * 8)]
        seconds = time.perf_counter() - start
        best = next((s for s in samples if c.met((prefix + s).lower())), samples[0])
        smc_rows["independent"].append(row(idea, c, prompt, prefix, best, seconds,
                                           distinct_2=distinct_n(samples), answers=len(set(samples))))

    summary = {k: summarise(v) for k, v in rows.items()}
    summary.update({k: {**summarise(v), "distinct_2": round(statistics.mean(r["distinct_2"] for r in v), 4)}
                    for k, v in smc_rows.items() if v})
    pairs = [n["seconds"] / b["seconds"] for n, b in zip(rows["neurologic"], rows["beam"])]
    greedy = [a["seconds"] for a in rows["asked"]]
    ratios = {"neurologic_over_beam_p50": round(statistics.median(pairs), 3),
              "grammar_mask_share_mean": summary["grammar"].get("mask_share"),
              "grammar_over_greedy_latency_p50": round(summary["grammar"]["latency_p50_s"]
                                                       / statistics.median(greedy), 3)}
    if smc_rows["smc"]:
        ratios["smc8_over_8_samples_p50"] = round(statistics.median(
            s["seconds"] / i["seconds"] for s, i in zip(smc_rows["smc"], smc_rows["independent"])), 3)
    result = {"ideas": len(items), "split": "validation", "model": lm.name,
              "clauses_per_set": dict(sorted({n: clauses.count(n) for n in set(clauses)}.items())),
              "summary": summary, "ratios": ratios,
              "examples": {k: v[:4] for k, v in {**rows, **smc_rows}.items()}}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("ideas", "clauses_per_set", "summary", "ratios")}, indent=1))


if __name__ == "__main__":
    main()
