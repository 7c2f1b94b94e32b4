"""HPS v2 (Wu et al., 2023, "Human Preference Score v2"): OpenCLIP ViT-H/14 fine-tuned on HPD v2.

The score is the cosine of the L2-normalised image and text features — the diagonal of
``image_features @ text_features.T`` in the authors' ``img_score.py``, with no logit scale (values near
0.25–0.30 for good images). The authors ship an OpenCLIP state dict (``xswu/HPSv2``, ``HPS_v2.1_compressed.pt``)
fine-tuned from ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``; this class reads it converted to a transformers
``CLIPModel`` folder on that architecture (with that model's processor), because importing ``open_clip`` here
would pull in torchvision. ``artdirector models convert hps FILE --out DIR`` (``scoring.convert``) writes it;
``--score hps=DIR`` takes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.scoring.base import ClipEncoder, ClipScorer, ScorerError, how_to_supply

BASE_MODEL = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
CONVERTED = "a folder made by: artdirector models convert hps HPS_v2.1_compressed.pt --out DIR"


class HPSv2(ClipScorer):
    name = "hps"

    @classmethod
    def from_pretrained(cls, model: str | None = None, *, device: str | None = None) -> HPSv2:
        if model is None:
            raise ScorerError(f"hps needs MODEL; {how_to_supply(cls.name, CONVERTED)}")
        return cls(ClipEncoder.from_pretrained(model, device=device, scorer=cls.name, default=CONVERTED))

    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        return self.cosines(prompts, images).tolist()
