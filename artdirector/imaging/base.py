"""The image-generation interface every backend implements.

One abstract method, ``generate``: a batch of prompts with one seed each in, one ``Sample`` per prompt out
(an image, or the frames of a clip). Seeds are per sample, not per batch, so that the same (prompt, seed)
gives the same picture whether it is rendered alone or in a batch of eight — best-of-n and the side-by-side
comparison rely on that. ``close`` releases the model's memory between pipeline stages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from artdirector.brief import BadInput
from artdirector.errors import ImageModelError  # noqa: F401 - re-exported where it used to live


@dataclass(frozen=True)
class GenerationSettings:
    steps: int = 25
    guidance: float = 7.0
    width: int | None = None  # None: the model's native size
    height: int | None = None
    frames: int = 16  # video only
    fps: int = 8  # video only

    def __post_init__(self):
        if self.steps < 1:
            raise BadInput(f"steps must be at least 1 (got {self.steps})")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (value < 8 or value % 8):
                raise BadInput(f"{name} must be a positive multiple of 8 (got {value}): the VAE works on 8-pixel "
                               "blocks")
        if self.guidance < 0:
            raise BadInput(f"guidance must be at least 0 (got {self.guidance})")
        if self.frames < 1 or self.fps < 1:
            raise BadInput("frames and fps must be at least 1")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Sample:
    """One generated image (``frames`` holds a single PIL image) or clip (several frames)."""

    prompt: str
    negative_prompt: str
    seed: int
    frames: list  # PIL images
    settings: GenerationSettings
    model: str
    nsfw: bool | None = None  # the pipeline's safety checker verdict; None where the pipeline has none
    extra: dict = field(default_factory=dict)

    @property
    def image(self):
        return self.frames[0]

    @property
    def is_video(self) -> bool:
        return len(self.frames) > 1


class ImageGenerator(ABC):
    name: str = "image-model"
    kind: str = "image"  # "image" | "video"
    target: str = "sd15"  # the director target that suits this model's text encoder

    @abstractmethod
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], settings: GenerationSettings,
                 negative_prompts: Sequence[str] | None = None) -> list[Sample]:
        """One sample per (prompt, seed) pair, in order."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the model's memory (the next stage may need it)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
