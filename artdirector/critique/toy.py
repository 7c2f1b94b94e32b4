"""The critic of the toy world (``imaging.toy``): it answers the questions from the pixels alone.

Shapes are found column slot by column slot above the palette band, as the pixels that are not background,
and told apart by how much of their bounding box they fill (square 1.0, circle π/4, triangle 1/2); colours
by the toy's palette. What the toy world cannot show (relations, media, styles, lighting) is answered 0.5: unknown,
neither a failure to fix nor a success to count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from artdirector.critique.base import Critic
from artdirector.critique.questions import Question
from artdirector.imaging.toy import BACKGROUND, BAND, GREY, RGB, SHAPE_OF, SLOT

FILL = {"square": 1.0, "circle": np.pi / 4, "triangle": 0.5}
UNKNOWN = 0.5


def regions(image) -> list[tuple[str, str]]:
    """(shape, colour name) of every shape drawn above the band, left to right."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)[: -BAND]
    names = {**RGB, "grey": GREY}
    out = []
    for left in range(0, pixels.shape[1] - SLOT + 1, SLOT):
        slot = pixels[:, left:left + SLOT]
        mask = np.any(slot != np.array(BACKGROUND), axis=-1)
        if mask.sum() < 30:
            continue
        rows, cols = np.nonzero(mask)
        fill = mask.sum() / ((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))
        colour = slot[mask].mean(axis=0)
        name = min(names, key=lambda n: float(np.abs(np.array(names[n]) - colour).sum()))
        out.append((min(FILL, key=lambda s: abs(FILL[s] - fill)), name))
    return out


def band_colours(image) -> set[str]:
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)[-BAND:].reshape(-1, 3)
    return {name for name, rgb in RGB.items() if np.all(pixels == np.array(rgb), axis=-1).mean() > 0.05}


class ToyCritic(Critic):
    name = "toy"

    def answer(self, questions: Sequence[Question], images: Sequence, *, idea: str = "") -> list[list[float]]:
        rows = []
        for image in images:
            found, band = regions(image), band_colours(image)
            rows.append([self._one(q, found, band) for q in questions])
        return rows

    @staticmethod
    def _one(q: Question, found: list[tuple[str, str]], band: set[str]) -> float:
        words = q.element.split()
        shape = SHAPE_OF.get(words[-1])
        if q.category == "entity":
            return UNKNOWN if shape is None else float(any(s == shape for s, _ in found))
        if q.category == "count":
            return UNKNOWN if shape is None else float(sum(s == shape for s, _ in found) == int(words[0]))
        if q.category == "attribute" and words[0] in RGB and shape is not None:
            return float(any(s == shape and c == words[0] for s, c in found))
        if q.category == "color":
            named = [w for w in words if w in RGB]
            return float(all(w in band for w in named)) if named else UNKNOWN
        return UNKNOWN
