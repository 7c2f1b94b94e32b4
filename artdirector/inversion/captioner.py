"""Captions for ``invert``: a transformers image-to-text model (BLIP captioning by default).

``Salesforce/blip-image-captioning-base`` / ``-large`` or any ``BlipForConditionalGeneration`` folder; the
caption is the direction's idea, as a user's words would be. Greedy, short (captions, not prompts), batched.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MODEL = "Salesforce/blip-image-captioning-base"
BATCH = 8
MAX_TOKENS = 30


class Captioner:
    def __init__(self, model, processor, *, device: str = "cpu"):
        self.model, self.processor, self.device = model.eval(), processor, device

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, *, device: str | None = None) -> Captioner:
        from transformers import BlipForConditionalGeneration

        from artdirector.scoring.base import load_pretrained

        blip, processor, device, _ = load_pretrained("captioner", model, DEFAULT_MODEL, BlipForConditionalGeneration,
                                                     device=device, kind="BLIP captioning model")
        return cls(blip, processor, device=device)

    def __call__(self, images: Sequence) -> list[str]:
        import torch

        out = []
        for start in range(0, len(images), BATCH):
            batch = [im.convert("RGB") for im in images[start:start + BATCH]]
            inputs = self.processor(images=batch, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                ids = self.model.generate(**inputs, max_new_tokens=MAX_TOKENS, do_sample=False)
            out += [self.processor.decode(i, skip_special_tokens=True).strip() for i in ids]
        return out

    def close(self) -> None:
        from artdirector.imaging.devices import free_memory

        self.model = None
        free_memory()
