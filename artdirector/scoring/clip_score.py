"""CLIP score: how well an image matches its prompt.

Hessel et al. (2021), "CLIPScore: A Reference-free Evaluation Metric for Image Captioning", define
``w * max(cos(E_image, E_text), 0)``; we use ``w = 100`` as torchmetrics' ``CLIPScore`` does, the scale most
text-to-image papers report (about 20–35 for a matching pair on ViT-L/14). Embeddings are the projected,
L2-normalised image and text features of the same CLIP model; default ``openai/clip-vit-large-patch14``.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.scoring.base import ClipEncoder, ClipScorer

DEFAULT_MODEL = "openai/clip-vit-large-patch14"
WEIGHT = 100.0


class ClipScore(ClipScorer):
    name = "clip"

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, *, device: str | None = None) -> ClipScore:
        return cls(ClipEncoder.from_pretrained(model, device=device, scorer=cls.name, default=DEFAULT_MODEL))

    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        return (WEIGHT * self.cosines(prompts, images).clamp(min=0)).tolist()
