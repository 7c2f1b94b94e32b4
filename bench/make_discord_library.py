"""The built-in library's second collection: a curated sample of the 1.07M Discord prompts (``../shared/data``).

The Discord channels are the community DiffusionDB was collected from, 60x larger than the train split. Ingesting
all of it takes an hour on 2 cores and gigabytes of vectors, and most of it is one person's session repeating one
idea. So the shipped collection (``artdirector/data/prompts/discord.tsv.gz``, indexed at install) keeps:

- safe prompts (``safety.is_unsafe``) of at most 600 characters with two or more modifiers (a prompt that is all
  idea casts no vote);
- one prompt per idea (text before the first comma, lower-cased), and each exact modifier tail at most
  ``TAIL_REPEATS`` times (one user's favourite tail would otherwise outvote the community);
- none whose idea is an idea of this project's validation or test splits, DiffusionDB's or out-of-domain (the
  shared file is filtered against them already; this re-checks);
- ``ROWS`` of what is left, drawn at random (seed 0).

    python bench/make_discord_library.py
"""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DISCORD = ROOT.parent / "shared" / "data" / "prompts" / "sd_discord_prompts.tsv.gz"
OUT = ROOT / "artdirector" / "data" / "prompts" / "discord.tsv.gz"
ROWS = 60_000
TAIL_REPEATS = 3


def held_out_ideas() -> set[str]:
    from artdirector.corpus import prompt_prefix, read_tsv

    ideas = {prompt_prefix(r.prompt) for split in ("validation", "test")
             for r in read_tsv(str(ROOT / "data" / "splits" / f"{split}.tsv"))}
    for split in ("validation", "test"):
        ideas |= {prompt_prefix(line) for line in (ROOT / "data" / "ood" / f"{split}.txt").read_text().splitlines()}
    return ideas


def main() -> None:
    from artdirector.corpus import prompt_modifiers, prompt_prefix
    from artdirector.readers import read_rows
    from artdirector.safety import is_unsafe
    from artdirector.text import fold_space

    held, seen, tails, kept = held_out_ideas(), set(), {}, []
    for _line, text, _error in read_rows(DISCORD):
        prompt = fold_space(text or "")
        if not prompt or len(prompt) > 600 or "," not in prompt:
            continue
        modifiers = prompt_modifiers(prompt)
        idea = prompt_prefix(prompt)
        tail = ", ".join(m.lower() for m in modifiers)
        if len(modifiers) < 2 or not idea or idea in seen or idea in held or tails.get(tail, 0) >= TAIL_REPEATS:
            continue
        if is_unsafe(prompt):
            continue
        seen.add(idea)
        tails[tail] = tails.get(tail, 0) + 1
        kept.append(prompt)
    random.Random(0).shuffle(kept)
    with gzip.open(OUT, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["prompt"])
        writer.writerows([p] for p in kept[:ROWS])
    print(f"{len(kept)} curated prompts, {min(ROWS, len(kept))} written to {OUT}")


if __name__ == "__main__":
    main()
