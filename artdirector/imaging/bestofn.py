"""Generate, score, rank: best-of-n over candidate prompts × seeds, and the side-by-side comparison.

Stages run one after another and hand memory over: on one GPU the language model, the diffusion pipeline and
the reward models do not all fit. The director's LM (llama.cpp, on the CPU) is released before the pipeline
loads; the pipeline is released before the first scorer loads (``unload=True``, the default); scorers are
given as factories and each is loaded, run over every image, and released before the next. What was done is
listed in ``memory`` so a user can see why a run took the time it did.

Ranking uses one scorer (``rank_by``, by default the first); the others are reported. With ``side_by_side``
the idea as typed is rendered with the same seeds and settings (NeuroPrompts' demo): the report gives both
means per scorer and how often the directed prompt won on the same seed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artdirector.imaging.base import GenerationSettings, ImageGenerator, Sample
from artdirector.imaging.metadata import save_sample
from artdirector.scoring.base import ImageScorer


@dataclass(frozen=True)
class PromptJob:
    prompt: str
    negative_prompt: str
    source: str  # "directed" | "original"
    candidate: int = 0


@dataclass
class Scored:
    job: PromptJob
    sample: Sample
    record: dict  # the sidecar as written (``metadata.save_sample``); the scores join it once known
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def files(self) -> dict:
        return self.record["files"]

    def to_json(self) -> dict:
        return {"path": self.files.get("gif") or self.files["png"], "files": self.files, "prompt": self.job.prompt,
                "negative_prompt": self.job.negative_prompt, "seed": self.sample.seed, "source": self.job.source,
                "candidate": self.job.candidate, "nsfw": self.sample.nsfw,
                "scores": {k: round(v, 6) for k, v in self.scores.items()}}


@dataclass
class Ranking:
    images: list[Scored]
    rank_by: str | None
    memory: list[str]
    seconds: dict[str, float]

    @property
    def best(self) -> Scored | None:
        directed = [s for s in self.images if s.job.source == "directed"]
        if not directed:
            return None
        if self.rank_by is None:
            return directed[0]
        return max(directed, key=lambda s: s.scores[self.rank_by])

    def side_by_side(self) -> dict | None:
        originals = {s.sample.seed: s for s in self.images if s.job.source == "original"}
        if not originals:
            return None
        names = list(self.images[0].scores)
        out: dict = {}
        for source in ("original", "directed"):
            group = [s for s in self.images if s.job.source == source]
            out[source] = {n: sum(s.scores[n] for s in group) / len(group) for n in names}
        if self.rank_by:
            pairs = [(s, originals[s.sample.seed]) for s in self.images
                     if s.job.source == "directed" and s.sample.seed in originals]
            out["directed_wins"] = sum(d.scores[self.rank_by] > o.scores[self.rank_by] for d, o in pairs) / len(pairs)
        return out


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "image"


def generate_and_rank(generator: ImageGenerator, jobs: Sequence[PromptJob], seeds: Sequence[int],
                      settings: GenerationSettings, scorers: dict[str, Callable[[], ImageScorer]], out_dir: Path,
                      *, rank_by: str | None = None, unload: bool = True, sidecar: dict | None = None,
                      memory: list[str] | None = None) -> Ranking:
    """Render every job with every seed, save the files, then score them with each scorer in turn. With
    ``unload`` the pipeline is released before the first scorer loads and each scorer after it runs; without,
    both stay loaded (a server keeps them for the next request)."""
    if rank_by is not None and rank_by not in scorers:
        raise ValueError(f"rank_by {rank_by!r} is not among the scorers {sorted(scorers)}")
    rank_by = rank_by or next(iter(scorers), None)
    memory = list(memory or [])
    out_dir = Path(out_dir)
    seconds = {}
    start = time.perf_counter()
    pairs = [(job, seed) for job in jobs for seed in seeds]
    samples = generator.generate([j.prompt for j, _ in pairs], [s for _, s in pairs], settings,
                                 negative_prompts=[j.negative_prompt for j, _ in pairs])
    sampler = getattr(generator, "sampler", "")
    scored = []
    for k, ((job, seed), sample) in enumerate(zip(pairs, samples)):
        name = f"{k:03d}-{job.source}-c{job.candidate}-s{seed}-{_slug(job.prompt)}"
        record = save_sample(sample, out_dir / name, sampler=sampler,
                             sidecar={"source": job.source, "candidate": job.candidate, **(sidecar or {})})
        scored.append(Scored(job, sample, record))
    seconds["generate"] = time.perf_counter() - start
    memory += list(getattr(generator, "notes", []))
    if unload and scorers:
        generator.close()
        memory.append("image pipeline released before scoring")
    start = time.perf_counter()
    for name, make in scorers.items():
        scorer = make()
        values = scorer([s.job.prompt for s in scored], [s.sample.frames for s in scored])
        for s, v in zip(scored, values):
            s.scores[name] = float(v)
        if unload:
            scorer.close()
        memory.append(f"scorer {name} loaded, run over {len(scored)} samples, released" if unload else
                      f"scorer {name} run over {len(scored)} samples (kept loaded)")
    seconds["score"] = time.perf_counter() - start
    for s in scored:  # the scores join each sidecar, so a folder of results stands on its own
        _update_sidecar(s)
    return Ranking(scored, rank_by if scorers else None, memory, seconds)


def _update_sidecar(s: Scored) -> None:
    import json

    s.record["scores"] = s.scores
    Path(s.files["png"]).with_suffix(".json").write_text(json.dumps(s.record, indent=2, ensure_ascii=False) + "\n")
