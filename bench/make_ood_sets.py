"""Out-of-domain idea sets: sentences from PartiPrompts, GenEval and T2I-CompBench (``../shared/data``).

Not DiffusionDB prefixes: the kind of ideas new users and benchmark suites type ("a photo of a bench", "a
green bench and a blue bowl", "A woman walks her dog in the park."). Each distinct sentence goes to
``validation`` or ``test`` by a stable hash of its lower-cased text, so the split never changes; tune on
validation, report test once. Writes ``data/ood/{validation,test}.txt`` (one idea per line):

    python bench/make_ood_sets.py
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "data" / "benchmarks"
T2I = ("color_val", "shape_val", "texture_val", "spatial_val", "non_spatial_val", "complex_val", "numeracy_val",
       "3d_spatial_val")


def sentences() -> list[tuple[str, str]]:
    out = []
    with open(BENCH / "PartiPrompts.tsv", encoding="utf-8", newline="") as f:
        out += [("parti", r["Prompt"]) for r in csv.DictReader(f, delimiter="\t") if len(r["Prompt"].split()) >= 3]
    out += [("geneval", line) for line in (BENCH / "geneval" / "generation_prompts.txt").read_text().splitlines()]
    for name in T2I:
        out += [("t2i", line) for line in (BENCH / "t2i_compbench" / f"{name}.txt").read_text().splitlines()]
    return [(src, " ".join(s.split())) for src, s in out if s.strip()]


def main() -> None:
    seen, splits = set(), {"validation": [], "test": []}
    for _, text in sentences():
        key = text.lower()
        if key in seen or len(text) > 300:
            continue
        seen.add(key)
        half = int(hashlib.sha1(key.encode()).hexdigest(), 16) % 2
        splits["validation" if half == 0 else "test"].append(text)
    out = ROOT / "data" / "ood"
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        (out / f"{name}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"{name}: {len(rows)} ideas")


if __name__ == "__main__":
    main()
