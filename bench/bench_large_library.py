"""Would a 60x larger retrieval pool help? The 1.07M Discord prompts as the library, on validation.

Embeds the ideas (text before the first comma) of the safe Discord prompts with two or more modifiers, in file
order, resumably (``bench/.cache/discord-*``; ``--rows`` caps how many), then scores on 200 validation prefixes
(the prefix protocol, soft modifier F1 and the trust metrics of ``evaluation.quality``), for three libraries —
the built-in train split, the Discord rows, both — the nearest-neighbour baseline (the closest idea's human
modifiers) and the director's selection from the retrieved pool (``selection.select_modifiers`` on the LM's
cached greedy answers from ``bench_selection.py``; ``MODEL_VOTE`` 0 is the pool alone) at two pool depths.
Prints and saves ``bench/results/large_library.json``.

    .venv/bin/python bench/bench_large_library.py --rows 114688
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
DISCORD = ROOT.parent / "shared" / "data" / "prompts" / "sd_discord_prompts.tsv.gz"
KEEP = ("soft_modifier_f1", "modifier_f1", "fidelity", "redundant_rate", "top10_share", "distinct_added",
        "invented_rate", "medium_consistency", "modifiers_per_prompt")


def discord_prompts() -> list[str]:
    from artdirector.corpus import prompt_modifiers
    from artdirector.safety import is_unsafe
    from artdirector.text import fold_space

    path = CACHE / "discord-prompts.txt"
    if not path.exists():
        csv.field_size_limit(10**7)
        kept = []
        with gzip.open(DISCORD, "rt", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                p = fold_space(row["prompt"] or "")
                if p and len(p) <= 600 and not is_unsafe(p) and len(prompt_modifiers(p)) >= 2:
                    kept.append(p)
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").splitlines()


def idea_vectors(prompts: list[str], rows: int, embedder) -> np.ndarray:
    """The first ``rows`` ideas' vectors (float16), embedded once and resumed where a run stopped."""
    from artdirector.corpus import prompt_prefix

    path, done_path = CACHE / "discord-ideas.npy", CACHE / "discord-ideas.done"
    vectors = np.lib.format.open_memmap(path, mode="r+" if path.exists() else "w+", dtype=np.float16,
                                        shape=(len(prompts), embedder.dimension))
    done = int(done_path.read_text()) if done_path.exists() else 0
    for begin in range(done, rows, 8192):
        end = min(begin + 8192, rows)
        vectors[begin:end] = embedder.encode([prompt_prefix(p) for p in prompts[begin:end]]).astype(np.float16)
        vectors.flush()
        done_path.write_text(str(end))
        print(f"embedded {end}/{rows}", flush=True)
    return np.asarray(vectors[:rows], dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=114_688)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "large_library.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_selection

    from artdirector import embedding
    from artdirector.corpus import prompt_modifiers, prompt_prefix
    from artdirector.evaluation.harness import prefix_items, read_prompts, score
    from artdirector.library import retrieval
    from artdirector.library.library import Hit
    from artdirector.render import render
    from artdirector.selection import select_modifiers

    embedder = embedding.load()
    discord = discord_prompts()
    rows = min(args.rows, len(discord))
    d_vectors = idea_vectors(discord, rows, embedder)
    train = [p for p in read_prompts(ROOT / "artdirector" / "data" / "prompts" / "train.tsv") if "," in p]
    t_vectors = embedder.encode([prompt_prefix(p) for p in train])
    libraries = {"train": (train, t_vectors), "discord": (discord[:rows], d_vectors),
                 "both": (train + discord[:rows], np.concatenate([t_vectors, d_vectors]))}
    items = prefix_items(read_prompts(ROOT / "data" / "splits" / "validation.tsv"), limit=200, seed=0)[0]
    from artdirector.director import ArtDirector

    answers = bench_selection.decoded("prefix-validation", [it.idea for it in items], ArtDirector.from_default())
    queries = embedder.encode([it.idea for it in items])
    report = {"discord_rows": rows, "discord_safe_with_modifiers": len(discord), "train_rows": len(train),
              "ideas": len(items), "results": {}}
    shipped = {k: getattr(retrieval, k) for k in ("MODEL_VOTE",)}
    for name, (prompts, vectors) in libraries.items():
        start = time.perf_counter()
        sims = queries @ vectors.T
        pools = []
        for row in sims:
            top = np.argpartition(-row, 40)[:40]
            pools.append([Hit(prompts[j], float(row[j]), name) for j in top[np.argsort(-row[top])]])
        systems = {"nearest_neighbour": [", ".join([it.idea, *prompt_modifiers(pool[0].prompt)])
                                         for it, pool in zip(items, pools)]}
        for vote in (0.0, 1.0):
            retrieval.MODEL_VOTE = vote
            for depth in (retrieval.RAG_DEPTH, 40):
                systems[f"director_model_vote{vote:g}_depth{depth}"] = [
                    render(select_modifiers(it.idea, text, truncated=finish == "length", seed=0,
                                            retrieved=pool[:depth]).direction, "sd15").prompt
                    for it, (text, finish, _), pool in zip(items, answers, pools)]
        retrieval.MODEL_VOTE = shipped["MODEL_VOTE"]
        table = score(items, {k: [{"prompts": [p], "seconds": 0.0} for p in v] for k, v in systems.items()},
                      embedder)
        report["results"][name] = {k: {m: table[k].get(m) for m in KEEP} for k in systems}
        print(name, f"({time.perf_counter() - start:.0f} s)", flush=True)
        for k in systems:
            print(f"  {k:34s}", json.dumps({m: round(v, 3) if isinstance(v, float) else v
                                            for m, v in report["results"][name][k].items()}), flush=True)
    text = json.dumps(report, indent=1)
    Path(args.out).write_text(text + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
