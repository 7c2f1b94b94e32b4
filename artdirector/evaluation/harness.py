"""The prefix evaluation: pick ideas from human prompts, run systems, score, report. Resumable.

Every (system, idea) result is appended to ``results.jsonl`` in the output folder as soon as its batch is
done; a re-run with the same configuration skips what is there, so a killed run loses at most one batch.
A folder holding a run with another configuration is refused rather than mixed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from artdirector.brief import BadInput
from artdirector.corpus import prompt_modifiers, prompt_prefix
from artdirector.readers import read_texts
from artdirector.text import fold_space

BATCH = 32
MIN_IDEA_WORDS = 3
MIN_MODIFIERS = 2


@dataclass(frozen=True)
class Item:
    idea: str
    prompt: str  # the human's full prompt
    modifiers: tuple[str, ...]


def read_prompts(path: str | Path) -> list[str]:
    """The ``prompt`` column of a TSV, CSV, JSONL or Parquet file (``readers.read_rows``), spaces folded."""
    return [fold_space(t) for t in read_texts(path)]


def prefix_items(prompts: Sequence[str], *, limit: int | None, seed: int) -> tuple[list[Item], int]:
    """NeuroPrompts' prefix protocol: ideas of >= 3 words whose prompt has >= 2 modifiers; one per prefix.
    Returns the items (a seeded sample of ``limit``) and how many rows were skipped."""
    items, seen, skipped = [], set(), 0
    for prompt in prompts:
        idea, mods = prompt_prefix(prompt), prompt_modifiers(prompt)
        if len(idea.split()) < MIN_IDEA_WORDS or len(mods) < MIN_MODIFIERS or idea in seen:
            skipped += 1
            continue
        seen.add(idea)
        items.append(Item(idea, prompt, tuple(mods)))
    random.Random(seed).shuffle(items)
    chosen = items[:limit] if limit else items
    return chosen, skipped + len(items) - len(chosen)


def idea_items(texts: Sequence[str], *, limit: int | None, seed: int) -> tuple[list[Item], int]:
    """Ideas as typed (benchmark sentences, everyday ideas): no human prompt to compare modifiers with, so
    only the metrics of the prompt itself (trust, fidelity, diversity, budget) are scored. Duplicates and
    empty lines are skipped; a seeded sample of ``limit``."""
    seen, items = set(), []
    for text in texts:
        idea = fold_space(text)
        if idea and idea.lower() not in seen:
            seen.add(idea.lower())
            items.append(Item(idea, "", ()))
    random.Random(seed).shuffle(items)
    chosen = items[:limit] if limit else items
    return chosen, len(texts) - len(chosen)


def run(items: Sequence[Item], systems: Sequence, *, out: Path, n: int, seed: int, config: dict,
        progress: Callable[[str, int, int], None] | None = None) -> dict[str, list[dict]]:
    """Run every system on every item (resuming from ``out/results.jsonl``); return results per system."""
    out.mkdir(parents=True, exist_ok=True)
    run_file, results_file = out / "run.json", out / "results.jsonl"
    if run_file.exists() and json.loads(run_file.read_text()) != config:
        raise BadInput(f"{out} holds a run with another configuration; choose another output folder or delete it")
    run_file.write_text(json.dumps(config, indent=2))
    done: dict[str, dict[int, dict]] = {}
    if results_file.exists():
        for line in results_file.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill; its batch is simply run again
            done.setdefault(rec["system"], {})[rec["i"]] = rec
    with open(results_file, "a", encoding="utf-8") as sink:
        for system in systems:
            have = done.setdefault(system.name, {})
            todo = [i for i in range(len(items)) if i not in have]
            for begin in range(0, len(todo), BATCH):
                chunk = todo[begin: begin + BATCH]
                start = time.perf_counter()
                prompts = system.generate([items[i].idea for i in chunk], n=n, seed=seed)
                per_idea = (time.perf_counter() - start) / len(chunk)
                for i, ps in zip(chunk, prompts):
                    rec = {"system": system.name, "i": i, "prompts": ps, "seconds": per_idea}
                    have[i] = rec
                    sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
                sink.flush()
                if progress:
                    progress(system.name, len(have), len(items))
    return {s.name: [done[s.name][i] for i in range(len(items))] for s in systems}


def score(items: Sequence[Item], results: dict[str, list[dict]], embedder,
          constraints: dict | None = None) -> dict[str, dict]:
    """Every metric per system; ``constraints[name]`` (a ``Constraints``) adds its ``constraint_satisfaction``."""
    from artdirector.evaluation.metrics import constraint_satisfaction, score_system

    ideas = [it.idea for it in items]
    with_humans = all(it.prompt for it in items)
    refs = [list(it.modifiers) for it in items] if with_humans else None
    table = {}
    for name, recs in results.items():
        table[name] = score_system(ideas, refs, [r["prompts"] for r in recs], [r["seconds"] for r in recs],
                                   embedder)
        if constraints and name in constraints:
            table[name]["constraint_satisfaction"] = constraint_satisfaction(
                [r["prompts"][0] for r in recs], constraints[name])
    if not with_humans:
        return table
    human = score_system(ideas, refs, [[it.prompt] for it in items], [], embedder, with_latency=False)
    for metric in ("modifier_precision", "modifier_recall", "modifier_f1", "soft_modifier_f1", "self_similarity"):
        human[metric] = None  # the reference against itself would score 1 by construction
    table["human"] = human
    return table



def evaluate(items: Sequence[Item], names: Sequence[str], *, out: Path, n: int, seed: int, config: dict,
             skipped: int = 0, progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Build the named systems (``evaluation.registry``), run them on ``items`` (resumable), score and
    write the report to ``out``; returns ``report.json``'s content."""
    from artdirector.evaluation.registry import build_systems
    from artdirector.evaluation.report import write_report

    systems, embedder = build_systems(list(names))
    results = run(items, systems, out=Path(out), n=n, seed=seed, config=config, progress=progress)
    constraints = {s.name: s.constraints for s in systems if getattr(s, "constraints", None)}
    return write_report(Path(out), score(items, results, embedder(), constraints=constraints), items=items,
                        results=results, skipped=skipped, config=config)
