"""The critique loop in the toy world: revision through constraints (placed early) vs the seed system's
revision (the feedback appended at the end), side by side on the same ideas, directions and seeds.

The toy image model (``imaging.toy``) draws only what the first ``--window`` words name; the toy critic reads it
back from the pixels. Each idea gets a required colour (a user constraint), which the director renders after
its other modifiers, so the first image misses it. Prints and saves the DSG score of round 1 and of the best
round per idea and revision, their medians, and the rounds used.

    python bench/bench_refine.py --out bench/results/refine.json
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from report import publish  # bench/report.py: the script's own folder is on the path

IDEAS = [("a red cube on a blue sphere", "teal"), ("a green pyramid next to a yellow ball", "purple"),
         ("two blue boxes", "orange"), ("a white sphere on a black cube", "gold"),
         ("a pink ball beside a brown pyramid", "teal"), ("a purple cube", "green")]
ANSWER = " oil painting, by hokusai, dramatic lighting, highly detailed, 8k"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "refine.json"))
    args = ap.parse_args()

    from artdirector.critique.loop import RefineJob, refine
    from artdirector.critique.toy import ToyCritic
    from artdirector.decoding.constraints import Constraints
    from artdirector.director import ArtDirector
    from artdirector.imaging.toy import ToyImages
    from artdirector.lm.dummy import DummyLM

    director = ArtDirector(DummyLM({}, default=ANSWER), tuned=True, max_new_tokens=80)
    rows = []
    for idea, colour in IDEAS:
        for revise in ("constraints", "append"):
            with tempfile.TemporaryDirectory() as out:
                report = refine(idea, director, lambda: ToyImages(window=args.window), ToyCritic,
                                RefineJob(rounds=args.rounds, revise=revise, out_dir=out),
                                constraints=Constraints.build(color=[colour]))
            first = max(c["score"] for c in report["rounds"][0]["candidates"])
            rows.append({"idea": idea, "colour": colour, "revise": revise, "round1": round(first, 4),
                         "best": report["best"]["score"], "best_round": report["best"]["round"],
                         "rounds": len(report["rounds"]), "stopped": report["stopped"],
                         "best_prompt": report["best"]["prompt"]})
    summary = {}
    for revise in ("constraints", "append"):
        mine = [r for r in rows if r["revise"] == revise]
        summary[revise] = {"round1_median": statistics.median(r["round1"] for r in mine),
                           "best_median": statistics.median(r["best"] for r in mine),
                           "improved": sum(r["best"] > r["round1"] for r in mine), "ideas": len(mine)}
    result = {"window": args.window, "rounds": args.rounds, "summary": summary, "rows": rows}
    publish(result, args.out)


if __name__ == "__main__":
    main()
