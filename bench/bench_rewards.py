"""Text rewards of every system in an evaluation run (``artdirector eval prefix --out DIR``).

The RL issue asks whether RL improves the text reward on validation without collapsing fidelity or
diversity: run the harness on the validation split with the SFT and the RL adapters side by side, then this
script on its folder. Prints and saves, per system, the mean of each reward (``artdirector.rewards``) over
every sample, beside the harness's fidelity, distinct-2 and modifier F1.

    .venv/bin/python bench/bench_rewards.py DIR [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from artdirector import embedding
    from artdirector import rewards as R
    from artdirector.evaluation.harness import prefix_items, read_prompts

    config = json.loads((args.run / "run.json").read_text())
    items, _ = prefix_items(read_prompts(config["data"]), limit=config["limit"], seed=config["seed"])
    samples: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for line in (args.run / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        ideas, prompts = samples[row["system"]]
        ideas += [items[row["i"]].idea] * len(row["prompts"])
        prompts += row["prompts"]
    embedder = embedding.load()
    funcs = {**R.text_rewards(embedder), "text_reward": R.text_reward(embedder)}
    report = json.loads((args.run / "report.json").read_text())["systems"]
    out = {}
    for system, (ideas, prompts) in samples.items():
        out[system] = {name: round(statistics.mean(fn([""] * len(prompts), prompts, idea=ideas)), 4)
                       for name, fn in funcs.items()}
        out[system].update({k: report[system].get(k) for k in ("modifier_f1", "soft_modifier_f1", "distinct_2",
                                                                 "self_similarity")})
    text = json.dumps({"run": str(args.run), "samples": {s: len(p) for s, (_, p) in samples.items()},
                       "systems": out}, indent=1)
    print(text)
    (args.out or args.run / "rewards.json").write_text(text)


if __name__ == "__main__":
    main()
