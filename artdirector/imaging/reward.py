"""An image-side reward in the text-reward shape, for RL and best-of-n over prompts.

``rendered_reward(generator, scorer, settings)`` returns ``(prompts, completions, **kw) -> list[float]``: it
renders each completion (the director's prompt) with a fixed seed list and scores the images, so
``training.rl.train_rl(..., rewards={"aesthetic": rendered_reward(...)})`` optimises the director for the
pictures its prompts produce (NeuroPrompts' PPO reward was exactly this, with PickScore/aesthetics) without
any change to the trainer. Fixed seeds make the reward a function of the prompt alone; several seeds average
out the noise of one draw.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.imaging.base import GenerationSettings, ImageGenerator
from artdirector.scoring.base import ImageScorer


def rendered_reward(generator: ImageGenerator, scorer: ImageScorer, settings: GenerationSettings,
                    seeds: Sequence[int] = (0,), name: str | None = None):
    seeds = list(seeds)

    def reward(prompts, completions, **kw) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]  # TRL's chat format too
        jobs = [t for t in texts for _ in seeds]
        samples = generator.generate(jobs, seeds * len(texts), settings)
        scores = scorer(jobs, [s.frames for s in samples])
        k = len(seeds)
        return [sum(scores[i * k:(i + 1) * k]) / k for i in range(len(texts))]

    reward.__name__ = name or f"rendered_{scorer.name}"
    return reward
