"""Reward models for images and clips, each a plain callable ``(prompts, images) -> list[float]``.

``load_scorer(name, model)`` is the one place names map to classes (the CLI's ``--score NAME[=MODEL]``);
library users construct the classes directly.
"""

from __future__ import annotations

SCORERS = {
    "aesthetic": ("artdirector.scoring.aesthetic", "AestheticScore"),
    "clip": ("artdirector.scoring.clip_score", "ClipScore"),
    "pickscore": ("artdirector.scoring.pickscore", "PickScore"),
    "imagereward": ("artdirector.scoring.imagereward", "ImageRewardScore"),
    "hps": ("artdirector.scoring.hps", "HPSv2"),
}


def load_scorer(name: str, model: str | None = None, *, device: str | None = None):
    """The scorer ``name`` from ``model`` (a folder or hub id), or from its default weights."""
    import importlib

    from artdirector.scoring.base import ScorerError

    if name not in SCORERS:
        raise ScorerError(f"unknown scorer {name!r}; valid: {', '.join(SCORERS)}")
    module, cls_name = SCORERS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    return cls.from_pretrained(model, device=device) if model else cls.from_pretrained(device=device)
