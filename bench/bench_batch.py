"""Batch throughput: in process vs Ray Data with 1 and 2 director actors, side by side in one run, and Ray's
own overhead per chunk (measured with a test-double director that costs ~nothing, so what is left is Ray's).

    .venv/bin/python bench/bench_batch.py --ideas 128 --chunk 16 --repeats 3

Ideas: the out-of-domain validation sentences (``data/ood/validation.txt``). Each figure is the median over
``--repeats`` runs into a fresh OUT; Ray's start-up (``ray.init``, the actors loading the model) is counted in
its runs, as a user meets it, and reported apart. Writes ``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ideas", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="bench/results/batch.json")
    args = parser.parse_args()

    import ray

    from artdirector.batch.ray_runner import make_runner
    from artdirector.batch.run import BatchJob, run_batch
    from artdirector.director import ArtDirector
    from artdirector.lm.dummy import DummyLM

    ideas = Path("data/ood/validation.txt").read_text().splitlines()[: args.ideas]
    work = Path(tempfile.mkdtemp())
    source = work / "ideas.txt"
    source.write_text("\n".join(ideas) + "\n")

    def real():
        return ArtDirector.from_default()

    def double():
        return ArtDirector(DummyLM([" oil painting, dramatic lighting"], cycle=True), max_new_tokens=40)

    def timed(name, load, runner=None):
        seconds = []
        for k in range(args.repeats):
            report = run_batch(BatchJob(str(source), str(work / f"{name}-{k}.jsonl"), chunk=args.chunk), load,
                               runner=runner)
            seconds.append(report["seconds"])
        return statistics.median(seconds)

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    ray_start = time.perf_counter() - start
    chunks = -(-len(ideas) // args.chunk)
    figures = {}
    for name, load in (("director", real), ("double", double)):
        figures[name] = {"local": timed(f"{name}-local", load),
                         "ray_1_actor": timed(f"{name}-ray1", load, make_runner(actors=1)),
                         "ray_2_actors": timed(f"{name}-ray2", load, make_runner(actors=2, cpus_per_actor=1))}
    # Ray's cost per chunk apart from its fixed cost (actor start): the double on 4x the chunks.
    source.write_text("\n".join((ideas * 4)[: 4 * len(ideas)]) + "\n")
    more = {"local": timed("double-local-x4", double), "ray_1_actor": timed("double-ray1-x4", double,
                                                                             make_runner(actors=1))}
    ray.shutdown()
    rate = {k: round(len(ideas) / v, 2) for k, v in figures["director"].items()}
    per_actor = rate["ray_1_actor"]
    report = {
        "ideas": len(ideas), "chunk": args.chunk, "chunks": chunks, "repeats": args.repeats,
        "cpus": 2, "ray_init_s": round(ray_start, 2),
        "seconds_median": {k: {s: round(v, 2) for s, v in f.items()} for k, f in figures.items()},
        "ideas_per_s": rate,
        "ray_per_chunk_s": round(((more["ray_1_actor"] - more["local"]) - (figures["double"]["ray_1_actor"]
                                                                         - figures["double"]["local"]))
                                 / (3 * chunks), 4),
        "ray_fixed_s": round(figures["double"]["ray_1_actor"] - figures["double"]["local"], 2),
        "estimate": {
            "basis": "N nodes x (cores / 2) actors x the measured rate of one 2-core actor, Ray's costs as "
                     "measured; CPU directors (a GPU node would decode on the GPU: not measured here)",
            "ideas_per_s_per_2_core_actor": per_actor,
            "ideas_per_hour_16_core_nodes": {n: round(per_actor * 3600 * 8 * n) for n in (1, 8, 64)},
        },
        "command": "python bench/bench_batch.py " + " ".join(sys.argv[1:]),
    }
    publish(report, args.out)


if __name__ == "__main__":
    main()
