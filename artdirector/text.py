"""Text matching, defined once: space folding, DiffusionDB's spaced digits, phrase keys, whole-word search.

Every stage that asks "does this text say that phrase?" — constraints, rewards, video motion cues, the
direction's own de-duplication, the metrics — asks ``contains``, so they cannot disagree: matching is on
lower-cased text at word boundaries ("red" is not met by "bored", "cat" not by "cathedral"), with numbers
compared joined ("8 k" is "8k"), because DiffusionDB's prompts (and so a model trained on them) spell numbers
with spaces between the characters, an artefact of how the prompts were stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SPACES = re.compile(r"\s+")
SPACED_DIGITS = re.compile(r"(?<=\d) (?=\d)|(?<=\d) (?=(?:k|d|s|mm|p)\b)")
_EDGES = re.compile(r"^[\s\"'`()\[\]{}.:;!?*_-]+|[\s\"'`()\[\]{}.:;!?*_-]+$")
_WEIGHT = re.compile(r":\s*[\d.]+$")


def fold_space(text: str) -> str:
    """Runs of whitespace as one space, ends trimmed."""
    return _SPACES.sub(" ", text).strip()


def join_digits(text: str) -> str:
    """DiffusionDB's "8 k", "3 d", "1 9 2 0 s" joined back to "8k", "3d", "1920s"."""
    return SPACED_DIGITS.sub("", text)


def lower_key(text: str) -> str:
    """Lower case, spaces folded: how users' phrases (constraints, vocabulary lookups) are compared."""
    return fold_space(text).lower()


def duplicate_key(text: str) -> str:
    """Exact-duplicate key of a whole prompt: lower case, punctuation and spacing folded."""
    return fold_space(re.sub(r"[^\w\s]", " ", text.lower()))


def normalise_phrase(phrase: str) -> str:
    """A modifier phrase as the metrics compare it: lower case, prompt weights and edge punctuation removed,
    spaced digits joined."""
    text = _EDGES.sub("", phrase.lower())
    text = _EDGES.sub("", _WEIGHT.sub("", text))
    return join_digits(_SPACES.sub(" ", text))


@lru_cache(maxsize=8192)
def _pattern(phrase: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(join_digits(phrase))}(?!\w)")


def contains(text: str, phrase: str, *, joined: bool = False) -> bool:
    """``phrase`` occurs in ``text`` as whole words, numbers compared joined. Both are lower-case (callers
    lower once; decoders call this on every candidate of every step). ``joined``: ``text`` is already
    through ``join_digits``."""
    return _pattern(phrase).search(text if joined else join_digits(text)) is not None


def first_contained(text: str, phrases: Iterable[str]) -> str | None:
    """The first of ``phrases`` that ``text`` contains (both lower-case), or None."""
    text = join_digits(text)
    return next((p for p in phrases if _pattern(p).search(text)), None)
