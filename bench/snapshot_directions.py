"""Snapshot the director's outputs on validation ideas, to check that a refactor changes nothing.

Writes one JSON line per (idea, setting) with the prompt, negative prompt and parts, for the default
director (llama.cpp, shipped adapter, built-in library) greedy, with n=2 (the sampled candidate), under a
constraint (NeuroLogic), a grammar and SMC, and for the video target. Compare two snapshots with ``diff``:

    python bench/snapshot_directions.py --out before.jsonl   # on the old code
    python bench/snapshot_directions.py --out after.jsonl    # on the new code
    diff before.jsonl after.jsonl && echo unchanged
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/splits/validation.tsv")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--out", required=True)
    ap.add_argument("--settings", default=None, help="comma-separated settings to run (default: all)")
    args = ap.parse_args()

    from artdirector.corpus import read_tsv
    from artdirector.decoding.constraints import Constraints
    from artdirector.director import ArtDirector

    ideas = []
    for row in read_tsv(args.data):
        if row.prefix not in ideas and len(row.prefix.split()) >= 3:
            ideas.append(row.prefix)
        if len(ideas) == args.limit:
            break
    director = ArtDirector.from_default()
    style = Constraints.build(style=["ukiyo-e"], exclude=["blurry"])
    settings = {
        "greedy": {},
        "n2": {"n": 2, "seed": 3},
        "video": {"target": "video"},
        "flux": {"target": "flux"},
        "neurologic": {"constraints": style},
    }
    few = ideas[:8]  # the slower decoders on fewer ideas
    slow = {"grammar": {"decoding": "grammar"}, "smc": {"constraints": style, "decoding": "smc"}}
    with open(args.out, "w", encoding="utf-8") as f:
        for name, kw in [*settings.items(), *slow.items()]:
            if args.settings and name not in args.settings.split(","):
                continue
            batch = few if name in slow else ideas
            for res in director.direct_many(batch, **kw):
                for c in res.candidates or [res]:
                    f.write(json.dumps({"setting": name, "idea": c.idea, "prompt": c.prompt,
                                        "negative": c.rendered.negative_prompt, "notes": c.notes,
                                        "decoding": c.decoding}, ensure_ascii=False) + "\n")
            f.flush()  # a run stopped part-way keeps the settings done
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
