"""A word-list safety filter for human prompts (documented in ``data/safety/nsfw_words.txt``).

A list rather than a classifier: it is transparent, costs nothing, and a user can read and change it. It
guards what the product ships and shows (few-shot exemplars, the retrieval library), not what users type.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    text = resources.files("artdirector.data").joinpath("safety/nsfw_words.txt").read_text(encoding="utf-8")
    words = [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")(?:e?s)?\b", re.IGNORECASE)


def is_unsafe(text: str) -> bool:
    return _pattern().search(text) is not None
