"""The brief: a user's idea, checked, and the structured ``Direction`` the art director writes for it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from artdirector.errors import BadInput  # noqa: F401 - re-exported where it used to live
from artdirector.text import contains
from artdirector.vocab import CATEGORIES, VIDEO_CATEGORIES

MAX_IDEA_CHARS = 2000


@dataclass(frozen=True)
class Idea:
    text: str
    notes: tuple[str, ...] = ()  # what was done to the input, said to the user


def check_idea(raw: str) -> Idea:
    """Validate an idea. Control characters are removed (and said so); nothing else is changed."""
    if not isinstance(raw, str):
        raise BadInput("the idea must be text")
    controls = sorted({f"U+{ord(c):04X}" for c in raw if _is_control(c)})
    text = "".join(" " if c in "\t\n\r" else c for c in raw if not _is_control(c) or c in "\t\n\r")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise BadInput("the idea is empty: describe what you want to see, e.g. 'a lighthouse in a storm'")
    if len(text) > MAX_IDEA_CHARS:
        raise BadInput(f"the idea is {len(text)} characters; the limit is {MAX_IDEA_CHARS}")
    notes = (f"removed control characters {', '.join(controls)}",) if controls else ()
    return Idea(text=text, notes=notes)


def _is_control(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cf") and c not in " "


@dataclass
class Direction:
    """What the art director decided: the idea (verbatim) and short phrases per category."""

    idea: str
    parts: dict[str, list[str]] = field(default_factory=dict)
    negative: list[str] = field(default_factory=list)
    pinned: set[str] = field(default_factory=set)  # phrases the user required: never dropped to fit a budget
    # Phrases rendered right after the idea, in this order, whatever their category: diffusion models weigh
    # early tokens most (the critique loop puts what the image missed here).
    early: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        known = set(CATEGORIES) | set(VIDEO_CATEGORIES)
        unknown = set(self.parts) - known
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; known: {', '.join(sorted(known))}")

    def phrases(self) -> list[str]:
        """Every added phrase, in category order."""
        return [p for c in (*CATEGORIES, *VIDEO_CATEGORIES) for p in self.parts.get(c, [])]

    def add(self, category: str, phrase: str) -> bool:
        """Add a phrase unless the direction already says it; returns whether it was added."""
        key = phrase.lower()
        if contains(self.idea.lower(), key) or any(key == p.lower() for p in self.phrases()):
            return False
        self.parts.setdefault(category, []).append(phrase)
        return True
