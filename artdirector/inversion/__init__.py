"""Image → prompt: ``interrogate`` (caption + vocabularies ranked by CLIP), run over files by ``invert``."""

MODES = ("fast", "best")  # interrogate: the best phrase per category, or the greedy flavour chain
