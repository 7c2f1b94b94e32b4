"""Decomposed CLIP as the critic: each question's element scored against the image on its own.

The cheap fallback when no VQA model fits: for each question, the cosine of the image with "a photo of
ELEMENT" against its cosine with a neutral "a photo", through CLIP's own logit scale:
``p(yes) = sigmoid(scale · (cos(image, element) − cos(image, neutral)))``. An element the image shows pulls
its text closer than the neutral caption does; one it lacks does not. It cannot check relations or counts
the way a VQA model does (CLIP is a bag of words to a good degree), so those are answered by the same rule on
their phrase and weigh no more than the others. Shares ``scoring.base.ClipEncoder`` (and its embedding cache)
with the CLIP-family scorers.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.critique.base import Critic
from artdirector.critique.questions import Question
from artdirector.scoring.base import ClipEncoder

DEFAULT_MODEL = "openai/clip-vit-large-patch14"
NEUTRAL = "a photo"


class ClipCritic(Critic):
    name = "clip"

    def __init__(self, encoder: ClipEncoder):
        self.encoder = encoder

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, *, device: str | None = None) -> ClipCritic:
        return cls(ClipEncoder.from_pretrained(model, device=device, scorer=cls.name, default=DEFAULT_MODEL))

    def answer(self, questions: Sequence[Question], images: Sequence, *, idea: str = "") -> list[list[float]]:
        import torch

        texts = [NEUTRAL, *(f"a photo of {q.element}" for q in questions)]
        cos = self.encoder.image_embeddings(images) @ self.encoder.text_embeddings(texts).T  # (images, 1 + q)
        return torch.sigmoid(self.encoder.logit_scale * (cos[:, 1:] - cos[:, :1])).tolist()

    def close(self) -> None:
        self.encoder.close()
