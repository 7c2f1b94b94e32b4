"""A small deterministic image world where what a prompt does to the picture is measurable.

Real diffusion weights cannot run here, and random tiny ones draw noise whatever the prompt says, so the
critique loop's gain could not be seen with them. ``ToyImages`` is an ``ImageGenerator`` that draws what a
prompt names — shapes (cube, sphere, pyramid and their synonyms) in the colour written just before them, and
free colour words as a palette band along the bottom — and, like CLIP-conditioned models that weigh early
tokens most, **ignores every word past the first** ``window``. ``critique.toy.ToyCritic`` reads the shapes
and colours back from the pixels. A loop that moves what the image missed to the front of the prompt raises
the critic's score; one that appends it to the end cannot. Shipped with the library, like ``DummyLM``, so
tests and examples drive the image side for real in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from artdirector.imaging.base import GenerationSettings, ImageGenerator, Sample

RGB = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 170, 60), "yellow": (240, 220, 30),
       "orange": (245, 140, 20), "purple": (140, 40, 180), "pink": (250, 130, 190), "teal": (0, 150, 150),
       "black": (15, 15, 15), "white": (250, 250, 250), "brown": (120, 75, 30), "gold": (212, 175, 55)}
GREY = (128, 128, 128)  # a shape named with no colour
BACKGROUND = (200, 200, 190)
SHAPES = {"square": ("cube", "cubes", "square", "squares", "box", "boxes", "block", "blocks"),
          "circle": ("sphere", "spheres", "ball", "balls", "circle", "circles", "orb", "orbs"),
          "triangle": ("pyramid", "pyramids", "triangle", "triangles", "cone", "cones")}
SHAPE_OF = {word: shape for shape, words in SHAPES.items() for word in words}
SIZE = (96, 64)  # width, height
BAND = 12  # rows of the palette band at the bottom
SLOT = 32  # each shape in its own 32-pixel column, left to right
WINDOW = 10


def read(prompt: str, window: int = WINDOW) -> tuple[list[tuple[str, tuple]], list[str]]:
    """What the toy model draws for ``prompt``: (shape, colour) per shape word, and the free colours, from
    the first ``window`` words only."""
    words = re.findall(r"[a-z]+", prompt.lower())[:window]
    shapes, bound = [], set()
    for i, word in enumerate(words):
        if word in SHAPE_OF:
            colour = next((words[j] for j in (i - 1, i - 2) if j >= 0 and words[j] in RGB), None)
            if colour:
                bound.add(i - 1 if words[i - 1] == colour else i - 2)
            shapes.append((SHAPE_OF[word], RGB[colour] if colour else GREY))
    free = [w for i, w in enumerate(words) if w in RGB and i not in bound]
    return shapes[: SIZE[0] // SLOT], list(dict.fromkeys(free))


class ToyImages(ImageGenerator):
    name = "toy"
    kind = "image"
    target = "sd15"
    device = "cpu"

    def __init__(self, window: int = WINDOW):
        self.window = window

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], settings: GenerationSettings,
                 negative_prompts: Sequence[str] | None = None) -> list[Sample]:
        return [Sample(p, (negative_prompts or [""] * len(prompts))[i], seeds[i], [self.draw(p)], settings,
                       self.name) for i, p in enumerate(prompts)]

    def draw(self, prompt: str):
        from PIL import Image, ImageDraw

        shapes, free = read(prompt, self.window)
        image = Image.new("RGB", SIZE, BACKGROUND)
        pen = ImageDraw.Draw(image)
        top, bottom = 6, SIZE[1] - BAND - 6
        for k, (shape, colour) in enumerate(shapes):
            left, right = k * SLOT + 4, (k + 1) * SLOT - 4
            if shape == "square":
                pen.rectangle([left, top, right - 1, bottom - 1], fill=colour)
            elif shape == "circle":
                pen.ellipse([left, top, right - 1, bottom - 1], fill=colour)
            else:
                pen.polygon([(left, bottom - 1), (right - 1, bottom - 1), ((left + right) // 2, top)], fill=colour)
        for k, colour in enumerate(free):  # the palette band, split evenly among the free colours
            width = SIZE[0] / len(free)
            pen.rectangle([int(k * width), SIZE[1] - BAND, int((k + 1) * width) - 1, SIZE[1] - 1], fill=RGB[colour])
        return image
