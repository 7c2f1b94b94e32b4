"""Speed of the art director on this machine (issue: "The art director works end to end").

Measures, side by side in one run, and reports medians:
- CLI: ``artdirector --help`` and cold start to the first ``direct --json`` result (fresh processes);
- one direction from a fresh start, with the phrase vectors kept at install and with them embedded on the
  spot;
- one direction on the fast path (llama.cpp, the whole director: prompt, decode, parse, render; with the
  default retrieval and without it) vs plain transformers ``generate`` of the same model on the same
  few-shot prompt (greedy, same token limit);
- ``direct_many`` of 32 ideas vs 32 single ``direct`` calls in one process;
- raw decoding rates with and without the adapter, 1 and 32 sequences (the ceilings of the two above);
- peak RSS of a CLI process directing one idea, and the cold stages it reports (load, retrieve, decode,
  select); the same for a cold ``library search``;
- ingest throughput of the library with the default embedder (``bench_vector_store.bench_ingest``).

Ideas are prefixes from the validation split (never test). Prints and saves JSON to bench/results/.

    .venv/bin/python bench/bench_direct.py [--ideas 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import publish  # bench/report.py: the script's own folder is on the path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "artdirector.cli"]


def validation_ideas(n: int) -> list[str]:
    from artdirector.corpus import read_tsv

    rows = [r.prefix for r in read_tsv(ROOT / "data" / "splits" / "validation.tsv")]
    ideas = list(dict.fromkeys(p for p in rows if 2 <= len(p.split()) <= 10))
    step = max(1, len(ideas) // n)
    return ideas[::step][:n]


def timed_process(args: list[str]) -> tuple[float, int, dict | None]:
    """Wall seconds, peak RSS (MB) and the JSON it printed (if any) of one fresh process."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    printed = json.loads(text) if text.startswith("{") else None
    return seconds, usage.ru_maxrss // 1024, printed


def bench_cli(repeats: int) -> dict:
    """Fresh processes: wall time, peak RSS, and the stages each one reports in its JSON ``timings``
    (what is left of the wall time is the interpreter, imports and printing)."""
    helps = [timed_process([*CLI, "--help"])[0] for _ in range(repeats)]
    direct_help = [timed_process([*CLI, "direct", "--help"])[0] for _ in range(repeats)]
    cold = [timed_process([*CLI, "direct", "a lighthouse in a storm", "--json"]) for _ in range(repeats)]
    search = [timed_process([*CLI, "library", "search", "castle at sunset", "--json"]) for _ in range(repeats)]

    def stages(runs):
        keys = runs[0][2]["timings"]
        return {k: statistics.median(r[2]["timings"][k] for r in runs) for k in keys}

    return {
        "help_p50_s": statistics.median(helps),
        "direct_help_p50_s": statistics.median(direct_help),
        "cold_start_to_first_result_p50_s": statistics.median(s for s, _, _ in cold),
        "cold_direct_stages_p50_s": stages(cold),
        "peak_rss_mb_direct_cli": max(r for _, r, _ in cold),
        "cold_search_p50_s": statistics.median(s for s, _, _ in search),
        "cold_search_stages_p50_s": stages(search),
        "peak_rss_mb_search_cli": max(r for _, r, _ in search),
    }


def directors():
    """The default director (with retrieval) and the same director without it."""
    from artdirector.director import ArtDirector

    rag = ArtDirector.from_default()
    # The same adapter-tuned director with retrieval off, on its own model instance: the tuned prompt does not
    # depend on retrieval, so a shared instance would answer the second call from the first one's cache.
    return rag, ArtDirector.from_default(rag=False)


def bench_single(ideas: list[str]) -> dict:
    import torch

    from artdirector.lm.transformers_backend import TransformersLM

    rag, fast = directors()
    slow = TransformersLM.from_embedded()
    fast.direct(ideas[0])  # warm both: first-call set-up is cold start, measured above
    rag.direct(ideas[0])
    fast_s, rag_s, plain_s, fast_tokens, plain_tokens = [], [], [], [], []
    # Each system in its own pass: PyTorch's OpenMP threads keep spinning after a generate, and interleaved
    # they would hold the cores the next llama.cpp direction needs (a cost no user of the fast path pays).
    for idea in ideas:
        start = time.perf_counter()
        rag.direct(idea)
        rag_s.append(time.perf_counter() - start)
    for idea in ideas:
        start = time.perf_counter()
        result = fast.direct(idea)
        fast_s.append(time.perf_counter() - start)
        fast_tokens.append(len(fast.lm.tokenize(result.prompt)))
    for idea in ideas:
        # Plain transformers generate on the same few-shot prompt, greedy, same new-token limit.
        prompt = fast.build_prompt(idea) + idea + ","
        ids = slow.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            slow.model.generate(**ids, max_new_tokens=4, do_sample=False)  # warm-up for this shape
            start = time.perf_counter()
            out = slow.model.generate(**ids, max_new_tokens=fast.answer_tokens, do_sample=False,
                                      pad_token_id=slow.tokenizer.pad_token_id)
            plain_s.append(time.perf_counter() - start)
        plain_tokens.append(out.shape[1] - ids["input_ids"].shape[1])
    fast_p50, plain_p50 = statistics.median(fast_s), statistics.median(plain_s)
    return {
        "ideas": len(ideas),
        "rag_direction_p50_s": statistics.median(rag_s),
        "rag_direction_p95_s": sorted(rag_s)[int(0.95 * (len(rag_s) - 1))],
        "fast_direction_p50_s": fast_p50,
        "fast_direction_p95_s": sorted(fast_s)[int(0.95 * (len(fast_s) - 1))],
        "transformers_generate_p50_s": plain_p50,
        "speedup_p50": plain_p50 / fast_p50,
        "fast_prompt_tokens_p50": statistics.median(fast_tokens),
        "transformers_new_tokens_p50": statistics.median(plain_tokens),
        "transformers_tokens_per_s_p50": statistics.median(t / s for t, s in zip(plain_tokens, plain_s)),
    }


def bench_phrase_vectors(ideas: list[str]) -> dict:
    """One direction as a fresh process starts it (nothing remembered between directions), with the phrase
    vectors kept at install (``PromptLibrary.remember_phrases``) and with every candidate embedded on the spot,
    alternately per idea. Before each, the LM forgets what it cached (its KV prefixes and answers) and the vectors
    cache is emptied, so both decode the same from scratch and differ only in where the vectors come from."""
    from artdirector.director import ArtDirector

    director = ArtDirector.from_default()
    vectors = director.ranker.embed
    known = vectors.known
    director.direct(ideas[0])
    runs: dict[str, dict[str, list[float]]] = {k: {"direction": [], "select": []} for k in ("kept", "embedded")}
    for i, idea in enumerate(ideas):
        for kind in (("kept", "embedded") if i % 2 == 0 else ("embedded", "kept")):
            vectors._cache.clear()
            director.lm.forget()
            vectors.known = known if kind == "kept" else None
            start = time.perf_counter()
            result = director.direct(idea)
            runs[kind]["direction"].append(time.perf_counter() - start)
            runs[kind]["select"].append(result.timings["select"])
    vectors.known = known
    p50 = {k: {f"{stage}_p50_s": statistics.median(v) for stage, v in r.items()} for k, r in runs.items()}
    return {"ideas": len(ideas), **p50,
            "direction_ratio_p50": p50["embedded"]["direction_p50_s"] / p50["kept"]["direction_p50_s"]}


def bench_batch(ideas: list[str], repeats: int) -> dict:
    out = {"ideas": len(ideas)}
    for label, director in zip(("rag", "no_rag"), directors()):
        director.direct(ideas[0])
        batch_s, singles_s = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            director.direct_many(ideas)
            batch_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            for idea in ideas:
                director.direct(idea)
            singles_s.append(time.perf_counter() - start)
        b, s = statistics.median(batch_s), statistics.median(singles_s)
        out[label] = {"batch_p50_s": b, "singles_p50_s": s, "batch_throughput_ratio": s / b,
                      "batch_ideas_per_s": len(ideas) / b, "single_ideas_per_s": len(ideas) / s}
    return out


def bench_decode_rates(ideas: list[str], repeats: int, tokens: int = 40) -> dict:
    """Raw decoding rates of the embedded model on llama.cpp, without and with the shipped adapter (applied
    at run time), one sequence and 32 at once, ``tokens`` new tokens each: what the director's speed and its
    batching gain are bounded by on this CPU."""
    from artdirector.director import default_adapter
    from artdirector.lm.base import GenerationConfig
    from artdirector.lm.llamacpp_backend import LlamaCppLM
    from artdirector.prompting import adapter_prompt

    config = GenerationConfig(max_new_tokens=tokens, stop=(), presence_penalty=0.0, no_repeat_ngram_size=0)
    lms = {"base": LlamaCppLM.from_embedded(), "adapter": LlamaCppLM.from_embedded(adapter=default_adapter())}
    prompts = [adapter_prompt(i) for i in ideas[:32]]
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):
        for name, lm in lms.items():  # interleaved, so all see the same machine load
            for batch in (1, 8, len(prompts)):
                start = time.perf_counter()
                made = lm.generate(prompts[:batch], config, prefixes=[i + "," for i in ideas[:batch]])
                # tokens actually made: an end-of-sequence token stops an answer before the limit
                rates.setdefault((name, batch), []).append(sum(len(g.tokens) for g in made)
                                                            / (time.perf_counter() - start))
    out = {}
    for (name, batch), rs in rates.items():
        out[f"{name}_batch{batch}_tokens_per_s"] = round(statistics.median(rs), 1)
    for name in lms:
        out[f"{name}_batch_gain"] = round(out[f"{name}_batch{len(prompts)}_tokens_per_s"]
                                          / out[f"{name}_batch1_tokens_per_s"], 2)
    out["adapter_slowdown_single"] = round(out["base_batch1_tokens_per_s"] / out["adapter_batch1_tokens_per_s"], 2)
    return out


def bench_ingest() -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_vector_store import bench_ingest as ingest

    return ingest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ideas", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "direct.json"))
    args = parser.parse_args()
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "cli": bench_cli(args.repeats),
        "single": bench_single(validation_ideas(args.ideas)),
        "phrase_vectors": bench_phrase_vectors(validation_ideas(32)),
        "batch": bench_batch(validation_ideas(32), args.repeats),
        "decode_rates": bench_decode_rates(validation_ideas(32), args.repeats),
        "ingest": bench_ingest(),
        "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    publish(report, args.out)


if __name__ == "__main__":
    main()
