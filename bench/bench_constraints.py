"""Does the director honour hard constraints, and at what cost? (issue: constrained decoding)

For validation-split ideas (never test), each gets a random style and artist from the shipped vocabularies
(top 25 of each, seeded) and one exclusion: the first modifier the unconstrained director writes for that
idea (so the exclusion bites). Three ways, side by side in one run, on the same model and adapter:

- ``unconstrained``: the director as is (how often the constraints hold by chance);
- ``asked``: the constraints written into the user's message ("..., style: X, by Y, without Z") — asking
  nicely, which is all a plain prompt can do;
- ``neurologic``: NeuroLogic beam search (``decoding.neurologic``).

Reported per way: the share of ideas whose *decoded text* meets every clause and avoids the exclusion (before
the director's post-decoding repair, which makes the final prompt compliant in all cases), per-clause rates,
the text reward's modifier quality of the decoded text (fluency proxy), and latency p50/p95.

    .venv/bin/python bench/bench_constraints.py [--ideas 30] [--adapter default|none|PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ideas", type=int, default=30)
    parser.add_argument("--adapter", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "constraints.json"))
    args = parser.parse_args()

    from artdirector.decoding.constraints import Constraints
    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.lm.base import GenerationConfig
    from artdirector.parse import parse_modifiers
    from artdirector.rewards import modifier_quality
    from artdirector.vocab import category_vocab

    items, _ = prefix_items(read_prompts(ROOT / "data" / "splits" / "validation.tsv"), limit=args.ideas,
                            seed=args.seed)
    director = ArtDirector.from_default(rag=False, adapter=None if args.adapter == "none" else args.adapter)
    rng = random.Random(args.seed)
    styles = [e.phrase for e in category_vocab("style")[:25]]
    artists = [e.phrase for e in category_vocab("artist")[:25]]
    config = GenerationConfig(max_new_tokens=director.max_new_tokens, stop=("\n", "<|im_end|>"))

    def decode(idea: str, user_text: str, constraints=None) -> tuple[str, float]:
        start = time.perf_counter()
        prompt = director.build_prompt(user_text, 0)
        if constraints is None:
            text = director.lm.generate([prompt], config, prefixes=[idea + ","])[0].text
        else:  # exactly as the director decodes under constraints
            text = director.decode_constrained(prompt, idea + ",", constraints, config).text
        return text, time.perf_counter() - start

    rows = {"unconstrained": [], "asked": [], "neurologic": []}
    for item in items:
        idea = item.idea
        free, free_s = decode(idea, idea)
        phrases = parse_modifiers(free, idea).phrases
        exclude = [phrases[0]] if phrases else []
        c = Constraints.build(style=[rng.choice(styles)], artist=[rng.choice(artists)], exclude=exclude)
        asked_text = f"{idea}, style: {c.include[0].alternatives[0]}, by {c.include[1].alternatives[0]}" + (
            f", without {exclude[0]}" if exclude else "")
        runs = {"unconstrained": (free, free_s), "asked": decode(idea, asked_text),
                "neurologic": decode(idea, idea, c)}
        for way, (text, seconds) in runs.items():
            low = (idea + "," + text).lower()
            met = c.satisfied(low)
            rows[way].append({"idea": idea, "text": text, "seconds": seconds, "style": 0 in met, "artist": 1 in met,
                              "excluded_absent": c.violated(low[len(idea):]) is None,
                              "all": len(met) == 2 and c.violated(low[len(idea):]) is None,
                              "quality": modifier_quality([""], [idea + "," + text], idea=[idea])[0]})
    summary = {}
    for way, rs in rows.items():
        secs = sorted(r["seconds"] for r in rs)
        summary[way] = {
            "all_constraints_met": statistics.mean(r["all"] for r in rs),
            "style_met": statistics.mean(r["style"] for r in rs),
            "artist_met": statistics.mean(r["artist"] for r in rs),
            "exclusion_held": statistics.mean(r["excluded_absent"] for r in rs),
            "modifier_quality": round(statistics.mean(r["quality"] for r in rs), 4),
            "latency_p50_s": round(statistics.median(secs), 3),
            "latency_p95_s": round(secs[min(len(secs) - 1, int(0.95 * len(secs)))], 3),
        }
    result = {"ideas": len(items), "model": director.lm.name, "summary": summary,
              "examples": {w: rs[:5] for w, rs in rows.items()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({"ideas": len(items), "model": director.lm.name, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
