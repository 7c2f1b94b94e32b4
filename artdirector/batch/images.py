"""The batch's image stage: every directed row rendered (``--image-model``), scored, its best image named.

Runs after the directions, chunk by chunk, like them: in process, or on Ray with one image worker per actor
(``num_gpus=1`` each when the cluster has GPUs). A worker keeps the pipeline and its scorers loaded between
chunks (``ImageStages(resident=True)``: a batch is about throughput). Every row uses the same seeds (``--seed``,
+1, … for ``--images-per-prompt``), as a fixed-seed A1111 batch does, so a row always gives the same pictures
whichever worker renders it. Files go to ``images_dir/<line>-<expansion>/`` of each chunk's first row (on a
cluster, a folder every node can write); each output row gains ``image`` (the best by ``rank_by``), ``images``
and ``scores``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageBatch:
    job: object  # imaging.pipeline.ImageJob
    images_dir: str
    seed: int = 0

    def describe(self) -> dict:
        job = self.job
        return {"image_model": job.image_model, "settings": job.settings.to_json(), "scorers": job.scorers,
                "images_per_prompt": job.images_per_prompt, "loras": [lo.name for lo in job.loras],
                "seed": self.seed}


class ImageWorker:
    """The pipeline and scorers, loaded once; ``__call__`` renders and scores one chunk of directed rows."""

    def __init__(self, batch: ImageBatch, threads: int | None = None):
        import torch

        from artdirector.cpu import threads as available
        from artdirector.imaging.pipeline import ImageStages

        # The same thread count in process and in an actor (Ray gives an actor OMP_NUM_THREADS = its CPUs):
        # a CPU pipeline's sums, and so its pixels, depend on how the work is split.
        torch.set_num_threads(threads or available())
        self.batch, self.stages = batch, ImageStages(batch.job, resident=True)

    def __call__(self, rows: Sequence[dict]) -> list[dict]:
        from artdirector.batch.run import key
        from artdirector.imaging.bestofn import PromptJob, generate_and_rank

        job = self.batch.job
        seeds = [self.batch.seed + i for i in range(job.images_per_prompt)]
        jobs = [PromptJob(r["prompt"], r["negative_prompt"] or "", "directed", k) for k, r in enumerate(rows)]
        scorers = {name: (lambda name=name: self.stages._scorer(name)) for name in job.scorers}
        ranking = generate_and_rank(self.stages.generator(), jobs, seeds, job.settings, scorers,
                                    Path(self.batch.images_dir) / "{:06d}-{:04d}".format(*key(rows[0])),
                                    rank_by=job.rank_by, unload=False)
        out = []
        for k, row in enumerate(rows):
            mine = [s for s in ranking.images if s.job.candidate == k]
            best = max(mine, key=lambda s: s.scores[ranking.rank_by]) if ranking.rank_by else mine[0]
            out.append({**row, "image": best.files["png"], "images": [s.files["png"] for s in mine],
                        "scores": best.scores})
        return out

    def close(self) -> None:
        self.stages.close()


def render_local(batch: ImageBatch, chunks: Sequence[list[dict]]) -> Iterable[list[dict]]:
    worker = ImageWorker(batch)
    try:
        for chunk in chunks:
            yield worker(chunk)
    finally:
        worker.close()

