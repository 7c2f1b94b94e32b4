"""The critique loop: direct → render → critique → revise, round after round, the user's constraints inside.

The seed system ("LLM-generated feedback for generated images") appends the critic's feedback to the prompt
and regenerates; its own finding is that the diffusion model ignores what comes at the end. OPT2I and
Idea2Img keep several candidates per round and a scored history; none keeps the user's hard constraints in
the loop. Here a round is:

1. **Direct** ``candidates`` directions under the user's constraints plus every phrase earlier rounds found
   missing, as required phrases (NeuroLogic writes them), and every phrase a critic said must go, as
   exclusions (they join the negative prompt). The user's own constraints stay hard in every round and the
   director's guards hold, so a revision cannot drift off the idea.
2. **Place early**: the required-by-critique phrases are rendered right after the idea (``Direction.early``),
   where text encoders weigh them most.
3. **Render** every candidate not tried before with the same seeds (so the prompt is what changes) — a
   revision never repeats a prompt, whose score is already in the history.
4. **Critique** each candidate's images (``critique.base.Critic``): per-question p(yes), the DSG score, the
   missing phrases.
5. **Keep the best** so far; stop at ``threshold``, after ``rounds``, or when a round brings no gain.

``revise="append"`` is the seed system's revision (the missing phrases appended at the end of the best
prompt, nothing else changed), kept as the baseline the loop is measured against.

Memory: the director's LM runs on the CPU (llama.cpp); the pipeline and the critic are the large ones, and
unless ``keep_loaded`` they hand over — the pipeline is released before the critic loads, the critic before
the next round's pipeline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from artdirector.errors import BadInput, ImageModelError

REVISIONS = ("constraints", "append")


@dataclass(frozen=True)
class RefineJob:
    """How the loop runs; each default declared here once (the CLI shows these)."""

    rounds: int = 3
    candidates: int = 2
    images_per_prompt: int = 1
    threshold: float = 0.9  # a DSG score at or above this stops the loop
    revise: str = "constraints"
    out_dir: str = "artdirector-refine"
    keep_loaded: bool = False  # the pipeline and critic stay loaded between rounds, and after (their owner's)

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.candidates < 1 or self.images_per_prompt < 1:
            raise BadInput("rounds, candidates and images per prompt must be at least 1")
        if not 0 < self.threshold <= 1:
            raise BadInput(f"the threshold is a DSG score in (0, 1] (got {self.threshold})")
        if self.revise not in REVISIONS:
            raise BadInput(f"unknown revision {self.revise!r}; valid: {', '.join(REVISIONS)}")


def refine(idea: str, director, generator_factory: Callable, critic_factory: Callable, job: RefineJob, *,
           target: str = "sd15", seed: int = 0, constraints=None, settings=None, **direct_options) -> dict:
    """Run the loop on ``idea``; ``generator_factory()`` and ``critic_factory()`` load the image model and the
    critic (called again after a release). Returns the report, also written to ``job.out_dir/refine.json``;
    an image model or critic that fails mid-way ends the loop with the rounds done so far reported."""
    from artdirector.brief import check_idea
    from artdirector.decoding.constraints import Constraints
    from artdirector.errors import check_seed
    from artdirector.imaging.base import GenerationSettings
    from artdirector.render import render

    # 0. Check what can be refused before any model work.
    checked = check_idea(idea)
    check_seed(seed)
    user = constraints or Constraints()
    out = Path(job.out_dir)
    seeds = [seed + i for i in range(job.images_per_prompt)]
    rounds, history, added, removed = [], {}, [], []  # history: prompt -> score
    best, stopped, error, start = None, "rounds", None, time.perf_counter()
    generator = critic = None
    for r in range(1, job.rounds + 1):
        # 1. Direct under the user's constraints and what earlier rounds found missing or unwanted.
        if job.revise == "constraints" or r == 1:
            wanted = _with(user, added, removed)
            result = director.direct(checked.text, target=target, n=job.candidates, seed=seed,
                                     constraints=wanted or None, **direct_options)
            directions = [c.direction for c in (result.candidates or [result])]
            # 2. What the images missed goes right after the idea (after what was asked to come first).
            for direction in directions:
                missed = [p for p in added if p.lower() in {x.lower() for x in direction.phrases()}]
                direction.early = list(dict.fromkeys([*direction.early, *missed]))
            prompts = [(shown.prompt, shown.negative_prompt, d) for d, shown in
                       ((d, render(d, target)) for d in directions)]
        else:  # the seed system's revision: the best prompt with the missing phrases appended
            tail = [p for p in added if p.lower() not in best["prompt"].lower()]
            prompts = [(", ".join([best["prompt"], *tail]), best["negative_prompt"], best["direction"])]
        fresh = _fresh(prompts, history)
        if not fresh:
            stopped = "no gain"
            break
        # 3. Render every new candidate with the same seeds.
        try:
            if generator is None:
                generator = generator_factory()
            samples = generator.generate([p for p, _, _ in fresh for _ in seeds], seeds * len(fresh),
                                         settings or GenerationSettings(), [n for _, n, _ in fresh for _ in seeds])
            if not job.keep_loaded:
                generator.close()
                generator = None
            # 4. Critique each candidate's images.
            if critic is None:
                critic = critic_factory()
            entries = []
            for k, (prompt, negative, direction) in enumerate(fresh):
                mine = samples[k * len(seeds):(k + 1) * len(seeds)]
                files = _save(mine, out / f"round-{r}", k)
                verdict = critic.critique(checked.text, direction.parts, [s.image for s in mine])
                history[prompt] = verdict.score
                entries.append({"prompt": prompt, "negative_prompt": negative, "direction": direction,
                                "images": [{"path": f, "seed": s.seed, "scores": {critic.name: round(verdict.score, 4)}}
                                           for f, s in zip(files, mine)],
                                "questions": verdict.to_json(), "critique": verdict.feedback,
                                "add": verdict.add, "remove": verdict.remove, "score": verdict.score})
            if not job.keep_loaded:
                critic.close()
                critic = None
        except (ImageModelError, RuntimeError, OSError) as e:  # keep the rounds done so far
            stopped, error = "error", f"round {r}: {type(e).__name__}: {e}"
            break
        # 5. Keep the best; stop at the threshold or when the round brought no gain.
        top = max(entries, key=lambda e: e["score"])
        rounds.append({"round": r, "candidates": entries, "best": entries.index(top)})
        gained = best is None or top["score"] > best["score"]
        if gained:
            best = {**top, "round": r}
        if best["score"] >= job.threshold:
            stopped = "threshold"
            break
        if not gained:
            stopped = "no gain"
            break
        # Revise from the best so far: what it missed becomes required, what must go is excluded. What the
        # idea itself says (its entities, attributes, relations) is already first in every prompt: requiring
        # it again adds nothing, so it is reported, not added.
        added += [p for p in best["add"] if p.lower() not in {a.lower() for a in added}
                  and not _said_by(checked.text, p)]
        removed += [p for p in best["remove"] if p.lower() not in {x.lower() for x in removed}]
    if not job.keep_loaded:  # what an error left loaded; kept loaded, they are the caller's (a server's)
        for held in (generator, critic):
            if held is not None:
                held.close()
    report = {
        "idea": checked.text, "target": target, "revise": job.revise,
        "rounds": [{**rd, "candidates": [_public(e) for e in rd["candidates"]]} for rd in rounds],
        "best": None if best is None else {"round": best["round"], "prompt": best["prompt"],
                                           "negative_prompt": best["negative_prompt"],
                                           "path": best["images"][0]["path"], "score": round(best["score"], 4)},
        "stopped": stopped, "seconds": round(time.perf_counter() - start, 3),
    }
    if error:
        report["error"] = error
    out.mkdir(parents=True, exist_ok=True)
    (out / "refine.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def _with(user, added: list[str], removed: list[str]):
    """The user's constraints plus the loop's: each missing phrase a required clause, each unwanted one an
    exclusion (never one the user requires)."""
    from artdirector.decoding.constraints import Clause
    from artdirector.vocab import classify

    required = {a for c in user.include for a in c.alternatives}
    clauses = [*user.include, *(Clause((p.lower(),), classify(p)) for p in added
                                if not any(p.lower() == a for a in required))]
    banned = [*user.exclude, *(p.lower() for p in removed if p.lower() not in required)]
    return replace(user, include=tuple(clauses), exclude=tuple(dict.fromkeys(banned)))


def _said_by(idea: str, phrase: str) -> bool:
    from artdirector.lexicon import STOPWORDS, words

    have = set(words(idea))
    return all(w in have for w in words(phrase) if w not in STOPWORDS)


def _fresh(prompts, history: dict) -> list:
    seen, out = set(), []
    for prompt, negative, direction in prompts:
        if prompt not in history and prompt not in seen:
            seen.add(prompt)
            out.append((prompt, negative, direction))
    return out


def _save(samples, folder: Path, candidate: int) -> list[str]:
    from artdirector.imaging.metadata import save_sample

    return [save_sample(s, folder / f"c{candidate}-s{s.seed}")["files"]["png"] for s in samples]


def _public(entry: dict) -> dict:
    shown = {k: v for k, v in entry.items() if k not in ("direction", "add", "remove")}
    return {**shown, "score": round(entry["score"], 4)}
