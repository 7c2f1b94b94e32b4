"""artdirector: an LLM art director for text-to-image and text-to-video prompts.

Names are imported lazily so that ``import artdirector`` (and the CLI's ``--help``) stays light.
"""

from __future__ import annotations

__all__ = ["ArtDirector", "Direction", "DirectionResult", "render"]


def __getattr__(name: str):
    if name in ("ArtDirector", "DirectionResult"):
        from artdirector import director

        return getattr(director, name)
    if name == "Direction":
        from artdirector.brief import Direction

        return Direction
    if name == "render":
        from artdirector.render import render

        return render
    raise AttributeError(name)
