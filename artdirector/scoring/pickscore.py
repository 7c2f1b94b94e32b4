"""PickScore (Kirstain et al., 2023, "Pick-a-Pic"): a CLIP-H model fine-tuned on human preferences.

The score is the fine-tuned model's logit: ``exp(logit_scale) * cos(E_image, E_text)`` with L2-normalised
projected features, exactly as the authors' inference snippet computes before its optional softmax across
images (we return the logit so that scores compare across calls). Processor
``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``, model ``yuvalkirstain/PickScore_v1``; a local folder must hold
both (``save_pretrained`` of model and processor).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from artdirector.scoring.base import ClipEncoder, ClipScorer

DEFAULT_MODEL = "yuvalkirstain/PickScore_v1"
DEFAULT_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


class PickScore(ClipScorer):
    name = "pickscore"

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, *, device: str | None = None) -> PickScore:
        processor = None if Path(model).expanduser().exists() else DEFAULT_PROCESSOR
        return cls(ClipEncoder.from_pretrained(model, processor=processor, device=device, scorer=cls.name,
                                               default=DEFAULT_MODEL))

    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        return (self.encoder.logit_scale * self.cosines(prompts, images)).tolist()
