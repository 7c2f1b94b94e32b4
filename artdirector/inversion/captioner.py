"""Captions for ``invert``: a transformers image-to-text model (BLIP captioning by default), or any
OpenAI-compatible vision chat endpoint (``vlm=URL[#MODEL]``: a llama.cpp/vLLM/Ollama server with a VLM).

``Salesforce/blip-image-captioning-base`` / ``-large`` or any ``BlipForConditionalGeneration`` folder; the
caption is the direction's idea, as a user's words would be. Greedy, short (captions, not prompts), batched.
A VLM is asked for one plain sentence, and only its first line is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MODEL = "Salesforce/blip-image-captioning-base"
BATCH = 8
MAX_TOKENS = 30


VLM = "vlm="
ASK = ("Describe this image in one short plain sentence, as a caption: what it shows, not its style. "
       "Answer with the sentence only.")


def check_captioner(spec: str) -> None:
    """Refuse a missing local folder or a ``vlm=`` without a URL before any model loads."""
    from artdirector.errors import BadInput
    from artdirector.scoring.base import check_model_ref

    if spec.startswith(VLM):
        if not spec[len(VLM):].startswith(("http://", "https://")):
            raise BadInput("a vlm captioner needs the server's URL: vlm=http://HOST:PORT/v1 (or URL#MODEL)")
    else:
        check_model_ref("captioner", spec)


def load_captioner(spec: str = DEFAULT_MODEL, *, device: str | None = None):
    """A callable ``images -> captions`` with ``close()``: BLIP from a folder or hub id, or ``vlm=URL#MODEL``."""
    if spec.startswith(VLM):
        return VLMCaptioner.from_url(spec[len(VLM):])
    return Captioner.from_pretrained(spec, device=device)


class VLMCaptioner:
    def __init__(self, client):
        self.client = client  # an lm.openai_backend.OpenAILM

    @classmethod
    def from_url(cls, url: str) -> VLMCaptioner:
        from artdirector.lm.openai_backend import OpenAILM

        base, _, model = url.partition("#")
        return cls(OpenAILM.from_url(base, model or "default"))

    def __call__(self, images: Sequence) -> list[str]:
        from artdirector.critique.vlm_critic import ask_about_image

        replies = [ask_about_image(self.client, ASK, image, max_tokens=60) for image in images]
        return [(r.strip().splitlines() or [""])[0].strip().strip('"') for r in replies]

    def close(self) -> None:
        self.client.close()


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
