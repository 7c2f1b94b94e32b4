"""HPS v2 (Wu et al., 2023, "Human Preference Score v2"): OpenCLIP ViT-H/14 fine-tuned on HPD v2.

The score is the cosine of the L2-normalised image and text features — the diagonal of
``image_features @ text_features.T`` in the authors' ``img_score.py``, with no logit scale (values near
0.25–0.30 for good images). The authors ship an OpenCLIP state dict (``xswu/HPSv2``, ``HPS_v2.1_compressed.pt``);
``convert_open_clip`` turns it into a transformers ``CLIPModel`` on the architecture of
``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` (the model HPS v2 was fine-tuned from), because importing
``open_clip`` here would pull in torchvision. ``--score hps=DIR`` takes the converted folder.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.scoring.base import ClipEncoder, ImageScorer

BASE_MODEL = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
DEFAULT_MODEL = BASE_MODEL  # the architecture and processor; weights come from the HPS checkpoint


class HPSv2(ImageScorer):
    name = "hps"

    def __init__(self, encoder: ClipEncoder):
        self.encoder = encoder

    @classmethod
    def from_pretrained(cls, model: str, *, device: str | None = None) -> HPSv2:
        return cls(ClipEncoder.from_pretrained(model, device=device, scorer=cls.name,
                                               default="a folder made by convert_open_clip"))

    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        return (self.encoder.image_embeddings(images) * self.encoder.text_embeddings(prompts)).sum(-1).tolist()

    def close(self) -> None:
        self.encoder.close()
