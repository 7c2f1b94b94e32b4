"""The image pipeline as a Python API: direct → generate → score → rank → report.

``run_images`` is what ``artdirector generate`` calls; a Python user calls it the same way:

    from artdirector.director import ArtDirector
    from artdirector.imaging.pipeline import ImageJob, run_images

    job = ImageJob(image_model="stabilityai/sd-turbo", scorers={"clip": None}, out_dir="foxes")
    report = run_images("a red fox in snow", job, lambda: ArtDirector.from_default(), n=2)

Stages hand memory over: the director's LM is released before the pipeline loads, the pipeline before the
scorers, and each scorer after it runs. Everything that can be refused is refused before any model loads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from artdirector.errors import BadInput, check_seed
from artdirector.imaging.base import GenerationSettings

OFFLOAD = ("none", "model", "sequential")


@dataclass(frozen=True)
class ImageJob:
    """The image side of a run; each default declared here once (the CLI shows these)."""

    image_model: str  # a diffusers folder or hub id, or the URL of an AUTOMATIC1111-compatible server
    motion_adapter: str | None = None  # AnimateDiff: clips instead of images
    images_per_prompt: int = 1  # seeds per candidate prompt: seed, seed+1, ...
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    scorers: dict = field(default_factory=dict)  # name -> model folder/hub id, or None for its default
    rank_by: str | None = None  # default: the first scorer
    side_by_side: bool = False  # also render the idea as typed, same seeds
    out_dir: str = "artdirector-images"
    device: str | None = None
    dtype: str | None = None
    offload: str = "none"
    batch_size: int = 4
    safety_checker: bool = True
    loras: tuple = ()  # imaging.lora.Lora: applied to the pipeline (a server gets them as prompt tags)

    def __post_init__(self) -> None:
        from artdirector.scoring import SCORERS
        from artdirector.scoring.base import check_model_ref

        if self.images_per_prompt < 1 or self.batch_size < 1:
            raise BadInput("images per prompt and batch size must be at least 1")
        if self.offload not in OFFLOAD:
            raise BadInput(f"unknown offload {self.offload!r}; valid: {', '.join(OFFLOAD)}")
        for name, model in self.scorers.items():
            if name not in SCORERS:
                raise BadInput(f"unknown scorer {name!r}; valid: {', '.join(SCORERS)}")
            if model:
                check_model_ref(name, model)
        if self.rank_by is not None and self.rank_by not in self.scorers:
            raise BadInput(f"rank_by {self.rank_by!r} is not among the scorers ({', '.join(self.scorers) or 'none'})")


def open_image_model(job: ImageJob) -> tuple[Callable, str]:
    """Check the image model without loading weights (a server must answer, a folder must hold a
    text-to-image pipeline); return a function that loads it, and the director target that suits it."""
    from artdirector.imaging.a1111_backend import A1111Generator, is_server_url

    if is_server_url(job.image_model):
        if job.motion_adapter:
            raise BadInput("a motion adapter needs a diffusers pipeline; a server URL renders images only")
        local_only = [what for what, given in (("device", job.device), ("dtype", job.dtype),
                                                ("offload", job.offload != "none"),
                                                ("safety checker", not job.safety_checker)) if given]
        if local_only:
            raise BadInput(f"{', '.join(local_only)} apply to local pipelines; the server at {job.image_model} "
                           "manages its own device, precision and safety settings")
        server = A1111Generator.from_url(job.image_model, loras=job.loras)
        return (lambda: server), server.target
    from artdirector.imaging.diffusers_backend import (
        DiffusersGenerator,
        check_text_to_image,
        pipeline_class_name,
        target_for,
    )

    class_name = pipeline_class_name(job.image_model)
    check_text_to_image(class_name)

    def load():
        return DiffusersGenerator.from_pretrained(
            job.image_model, device=job.device, dtype=job.dtype, offload=job.offload,
            safety_checker=job.safety_checker, motion_adapter=job.motion_adapter, batch_size=job.batch_size,
            loras=job.loras)

    return load, "video" if job.motion_adapter else target_for(class_name)


class ImageStages:
    """The image side of runs — the pipeline and the scorers — released when a run is done (``resident=False``:
    the CLI, one run, the least memory; each scorer loads after the pipeline is gone) or kept loaded between
    runs (``resident=True``: ``artdirector serve``, where a request must not wait for a pipeline to load)."""

    def __init__(self, job: ImageJob, *, resident: bool = False):
        self.job, self.resident = job, resident
        self._load, self.target = open_image_model(job)  # checked now, loaded on first use
        self._generator = None
        self._scorers: dict = {}

    def load(self) -> None:
        """Load the pipeline and every scorer now (a server does, so failures show at start-up)."""
        self.generator()
        for name in self.job.scorers:
            self._scorer(name)

    def generator(self):
        if self._generator is None:
            self._generator = self._load()
        return self._generator

    def _scorer(self, name: str):
        from artdirector.scoring import load_scorer

        if not self.resident:  # generate_and_rank releases it after its run
            return load_scorer(name, self.job.scorers[name], device=self.job.device)
        if name not in self._scorers:
            self._scorers[name] = load_scorer(name, self.job.scorers[name], device=self.job.device)
        return self._scorers[name]

    def run(self, idea: str, result, seed: int, *, out_dir: str | Path | None = None, memory=(),
            seconds: dict | None = None, images_per_prompt: int | None = None,
            side_by_side: bool | None = None) -> dict:
        """Render every candidate of direction ``result`` (and, side by side, ``idea`` as typed) with the same
        seeds, score, rank, write ``run.json`` to ``out_dir`` (default: the job's) and return that report."""
        from artdirector.imaging.bestofn import PromptJob, generate_and_rank

        job, out = self.job, Path(out_dir or self.job.out_dir)
        per_prompt = images_per_prompt or job.images_per_prompt
        candidates = result.candidates or [result]
        jobs = [PromptJob(c.prompt, c.rendered.negative_prompt, "directed", k) for k, c in enumerate(candidates)]
        if job.side_by_side if side_by_side is None else side_by_side:
            jobs.append(PromptJob(idea, "", "original"))
        generator = self.generator()
        ranking = generate_and_rank(generator, jobs, [seed + i for i in range(per_prompt)], job.settings,
                                    {name: (lambda name=name: self._scorer(name)) for name in job.scorers}, out,
                                    rank_by=job.rank_by, unload=not self.resident, memory=list(memory),
                                    sidecar={"idea": idea, "target": result.target})
        if not self.resident:
            generator.close()
            self._generator = None
        best = ranking.best
        report = {
            "idea": idea, "target": result.target, "image_model": job.image_model,
            "motion_adapter": job.motion_adapter, "kind": generator.kind, "device": generator.device,
            "settings": job.settings.to_json(), "out": str(out), "direction": result.to_json(),
            "images": [s.to_json() for s in ranking.images], "rank_by": ranking.rank_by,
            "best": best.to_json() if best else None, "side_by_side": ranking.side_by_side(),
            "memory": ranking.memory,
            "seconds": {**(seconds or {}), **{k: round(v, 3) for k, v in ranking.seconds.items()}},
        }
        report["seconds"]["total"] = round(sum(report["seconds"].values()), 3)
        out.mkdir(parents=True, exist_ok=True)
        Path(out, "run.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return report

    def close(self) -> None:
        for scorer in self._scorers.values():
            scorer.close()
        if self._generator is not None:
            self._generator.close()
        self._generator, self._scorers = None, {}


def run_images(idea: str, job: ImageJob, load_director: Callable, *, target: str | None = None, n: int = 1,
               seed: int = 0, **direct_options) -> dict:
    """Direct ``idea`` (``direct_options``: constraints, grammar, decoding, steer — as ``ArtDirector.direct``),
    render every candidate with ``job.images_per_prompt`` seeds, score, rank, and write ``run.json`` to
    ``job.out_dir``. Returns that report."""
    from artdirector.brief import check_idea

    # 1. Check everything that can be refused before a model loads.
    checked = check_idea(idea)
    check_seed(seed)
    stages = ImageStages(job)
    # 2. Direct, then release the director's LM for the image pipeline.
    director = load_director()
    start = time.perf_counter()
    result = director.direct(checked.text, target=target or stages.target, n=n, seed=seed, **direct_options)
    result.notes[:0] = [x for x in checked.notes if x not in result.notes]
    direct_s = time.perf_counter() - start
    director.lm.close()
    # 3. Generate every candidate (and the idea as typed, for a side-by-side), score, rank, report.
    return stages.run(checked.text, result, seed, memory=["director LM released before the image pipeline loaded"],
                      seconds={"direct": round(direct_s, 3)})
