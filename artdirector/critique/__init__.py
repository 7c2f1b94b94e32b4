"""Critics of generated images and the loop that revises prompts with them. ``CRITICS`` is the registry the
CLI's ``--critic NAME[=MODEL]`` choices come from; a new critic is one module with a ``Critic`` subclass
(``from_pretrained(model, device=)`` when it has weights) and one line here."""

from __future__ import annotations

import importlib

CRITICS = {
    "vqa": "artdirector.critique.vqa_critic:VQACritic",  # a BLIP VQA model answers each question
    "clip": "artdirector.critique.clip_critic:ClipCritic",  # decomposed CLIP, the cheap fallback
    "vlm": "artdirector.critique.vlm_critic:VLMCritic",  # an OpenAI-compatible vision chat endpoint: vlm=URL
    "feedback": "artdirector.critique.feedback:FeedbackCritic",  # the LM + projected image, trained: train critic
    "toy": "artdirector.critique.toy:ToyCritic",  # reads the toy world's pixels (imaging.toy); no weights
}


def parse_critic(spec: str) -> tuple[str, str | None]:
    """``NAME[=MODEL]`` → (name, model or None), checked against the registry, and a local MODEL folder for
    existence (before a loop spends minutes on images)."""
    from artdirector.errors import BadInput
    from artdirector.scoring.base import check_model_ref

    name, _, model = spec.partition("=")
    name, model = name.strip().lower(), model.strip() or None
    if name not in CRITICS:
        raise BadInput(f"unknown critic {name!r}; valid: {', '.join(CRITICS)} (as NAME or NAME=MODEL)")
    if name == "vlm" and not (model or "").startswith(("http://", "https://")):
        raise BadInput("the vlm critic needs the server's URL: vlm=http://HOST:PORT/v1 (or URL#MODEL)")
    if model and name != "vlm":
        check_model_ref(name, model)
    return name, model


def load_critic(spec: str, *, device: str | None = None):
    name, model = parse_critic(spec)
    module, _, cls_name = CRITICS[name].partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    if not hasattr(cls, "from_pretrained"):
        return cls()
    return cls.from_pretrained(model, device=device) if model else cls.from_pretrained(device=device)
