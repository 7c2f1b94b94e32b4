"""Stage 5 of a direction: from what the model wrote to the phrases of a ``Direction``.

What the model writes goes through ``parse_modifiers`` (clean phrases only) and ``classify``; phrases the
vocabularies do not know are kept as subject details only when they are plausible ones. With retrieved
prompts, the model's phrases join the retrieval vote (``library.retrieval.vote``). If fewer than
``MIN_MODIFIERS`` clean phrases survive, the direction falls back to the modifiers the retrieved prompts
share, then to a tag list drawn from the shipped vocabularies (by DiffusionDB frequency), and says so.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from artdirector.brief import Direction
from artdirector.library.retrieval import shared_modifiers, vote
from artdirector.parse import parse_modifiers
from artdirector.vocab import category_vocab, classify

MIN_MODIFIERS = 2  # fewer usable phrases than this from the model: fall back
FALLBACK_SHARED = 6  # modifiers taken from the retrieved prompts on a fallback
# How many of each category a fallback direction takes, and from how many of the most used phrases.
FALLBACK = {"medium": (1, 12), "style": (1, 25), "artist": (1, 25), "lighting": (1, 23), "booster": (2, 12)}
# A negative prompt that suits SD-class models whatever the idea: the failure modes users fight most.
DEFAULT_NEGATIVE = (
    "blurry", "lowres", "low quality", "jpeg artifacts", "deformed", "disfigured", "bad anatomy",
    "extra limbs", "watermark", "text", "signature", "duplicate", "cropped",
)


@dataclass
class Selection:
    direction: Direction
    fallback: bool = False  # the model itself wrote too few usable phrases
    rejected: list[str] = field(default_factory=list)


def plausible_detail(phrase: str, idea_words: set[str]) -> bool:
    """Unclassified phrases are kept as subject details only when short, free of numbers (the model's
    "10-year life cycle" or "1024x768") and not a rewording of the idea itself."""
    words = phrase.split()
    if len(words) > 4 or any(ch.isdigit() for ch in phrase):
        return False
    return sum(w in idea_words for w in words) / len(words) < 0.5


def select_modifiers(idea: str, text: str, *, truncated: bool, seed: int, retrieved: Sequence = ()) -> Selection:
    """The direction for ``idea`` from the model's answer ``text`` (``truncated``: it hit the token limit)."""
    parsed = parse_modifiers(text, idea)
    phrases = parsed.phrases
    if truncated and phrases and not text.rstrip().endswith(","):
        phrases = phrases[:-1]  # the last phrase was cut off mid-word by the token limit
    selection = Selection(Direction(idea=idea, negative=list(DEFAULT_NEGATIVE)), rejected=list(parsed.rejected))
    idea_words = set(idea.lower().split())
    kept = []
    for phrase in phrases:
        if classify(phrase) == "subject" and not plausible_detail(phrase, idea_words):
            selection.rejected.append(phrase)
        else:
            kept.append(phrase)
    selection.fallback = len(kept) < MIN_MODIFIERS
    if retrieved:
        kept = vote(kept, retrieved)
    direction = selection.direction
    for phrase in kept:
        category = classify(phrase)
        direction.add(category, phrase[3:] if category == "artist" and phrase.startswith("by ") else phrase)
    if len(direction.phrases()) < MIN_MODIFIERS:
        fill_fallback(direction, random.Random(seed), retrieved)
    return selection


def fill_fallback(direction: Direction, rng: random.Random, retrieved: Sequence = ()) -> None:
    """Too little usable output: take the modifiers the retrieved prompts share (weighted by similarity),
    then fill the categories still empty from the vocabularies."""
    for phrase in shared_modifiers(retrieved, FALLBACK_SHARED):
        direction.add(classify(phrase), phrase)
    for category, (count, top) in FALLBACK.items():
        entries = category_vocab(category)[:top]
        if direction.parts.get(category) or not entries:
            continue
        for entry in rng.sample(entries, min(count, len(entries))):
            direction.add(category, entry.phrase)
