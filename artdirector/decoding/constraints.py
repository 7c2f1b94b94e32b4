"""Lexical constraints in conjunctive normal form, as users state them.

A ``Constraints`` holds positive clauses (each a set of alternative phrases of which at least one must appear:
``--artist "Hokusai|Katsushika Hokusai"``) and negative phrases (none may appear: ``--exclude blurry``).
A clause may name the direction part its phrase belongs in (``--artist`` → artist), so the director files
the phrase there whatever the classifier would say.

Matching is on lower-cased text at word boundaries ("red" is not satisfied by "bored"; "blurry" is not
excluded by "blurryface" — it is, however, the moment the text *ends* in "blurry", since a decoder cannot
know the next token yet). Case variants are covered by lower-casing; users add inflections and longer forms
as alternatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from artdirector.errors import BadInput
from artdirector.text import contains, first_contained, join_digits, lower_key

CATEGORY_FLAGS = ("style", "artist", "medium", "composition", "booster", "mood", "lighting", "color")
# The CLI's flag names (NeuroPrompts' words) for those categories.
FLAG_CATEGORIES = {"style": "style", "artist": "artist", "format": "medium", "perspective": "composition",
                   "booster": "booster", "vibe": "mood", "lighting": "lighting", "color": "color"}


@dataclass(frozen=True)
class Clause:
    alternatives: tuple[str, ...]
    category: str | None = None  # the direction part an included phrase goes to

    def met_by(self, text: str, *, joined: bool = False) -> str | None:
        """The first alternative present in ``text`` (lower-case; ``joined``: already through ``join_digits``)."""
        return next((a for a in self.alternatives if contains(text, a, joined=True)), None) if joined \
            else first_contained(text, self.alternatives)


@dataclass(frozen=True)
class Constraints:
    include: tuple[Clause, ...] = ()
    exclude: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    @classmethod
    def build(cls, *, include: list[str] = (), exclude: list[str] = (), **categories: list[str]) -> Constraints:
        """From CLI/API values: each value is one clause, alternatives separated by ``|``."""
        clauses = []
        for category, values in [(None, include), *categories.items()]:
            if category is not None and category not in CATEGORY_FLAGS:
                raise BadInput(f"unknown category {category!r}; valid: {', '.join(CATEGORY_FLAGS)}")
            for value in values or ():
                alts = tuple(dict.fromkeys(lower_key(a) for a in value.split("|") if lower_key(a)))
                if not alts:
                    raise BadInput(f"empty constraint {value!r}: give a phrase (alternatives separated by '|')")
                clauses.append(Clause(alts, category))
        if any(not lower_key(e) for e in exclude or ()):
            raise BadInput("an empty excluded phrase: give the phrase to keep out")
        banned = tuple(dict.fromkeys(lower_key(e) for e in exclude or () if lower_key(e)))
        for clause in clauses:
            clash = [a for a in clause.alternatives if any(contains(a, b) for b in banned)]
            if len(clash) == len(clause.alternatives):
                raise BadInput(f"'{'|'.join(clause.alternatives)}' is both required and excluded")
        return cls(tuple(clauses), banned, tuple(_typo_notes(clauses)))

    # The decoders call these on every candidate of every step: the text is joined once per call.
    def violated(self, text: str) -> str | None:
        return first_contained(text, self.exclude)

    def satisfied(self, text: str) -> frozenset[int]:
        text = join_digits(text)
        return frozenset(i for i, c in enumerate(self.include) if c.met_by(text, joined=True))

    def met(self, text: str) -> bool:
        """Every clause holds in ``text`` (lower-case): each include clause met, no excluded phrase."""
        return len(self.satisfied(text)) == len(self.include) and not self.violated(text)

    def check_budget(self, ideas: list[str], budget: int) -> None:
        """Refuse required phrases that cannot all fit the target's token window beside the idea."""
        from artdirector.tokens import clip_token_count

        # Each clause's cheapest alternative, with its ", " separator (one CLIP token).
        need = sum(min(clip_token_count(a) - 2 for a in c.alternatives) + 1 for c in self.include)
        for idea in ideas:
            have = clip_token_count(idea)
            if have + need > budget:
                raise BadInput(f"the required phrases need {need} tokens and the idea {have} (with start and end "
                               f"markers): {have + need} > the target's budget of {budget}; require fewer or "
                               "shorter phrases")

    def apply_to(self, direction, notes: list[str]) -> None:
        """Make ``direction`` hold every clause, saying in ``notes`` what had to change: phrases holding an
        excluded phrase go, required phrases the decoder did not write are added (filed in the clause's part,
        pinned so no budget drops them), and exclusions join the negative prompt."""
        from artdirector.vocab import classify

        for phrases in direction.parts.values():
            for phrase in [p for p in phrases if self.violated(p.lower())]:
                phrases.remove(phrase)
                notes.append(f"removed '{phrase}': it contains an excluded phrase")
        for clause in self.include:
            found = next(((c, p) for c, ps in direction.parts.items() for p in ps if clause.met_by(p.lower())), None)
            if found is None and clause.met_by(direction.idea.lower()):
                continue  # the idea itself says it
            if found is None:
                phrase = clause.alternatives[0]
                category = clause.category or classify(phrase)
                direction.add(category, phrase)
                notes.append(f"required '{phrase}' was added after decoding: the model did not write it in "
                             "the token limit")
            else:
                category, phrase = found
                if clause.category and clause.category != category:
                    direction.parts[category].remove(phrase)
                    direction.add(clause.category, phrase)
            direction.pinned.add(phrase)
        for banned in self.exclude:
            if banned not in (n.lower() for n in direction.negative):
                direction.negative.append(banned)

    def report(self, prompt: str, met_by_decoder: bool | None) -> list[dict]:
        """Each clause: what it asks, whether the final prompt meets it, whether the decoder met it unaided."""
        low = prompt.lower()
        out = [{"kind": "include", "phrases": list(c.alternatives), "category": c.category,
                "satisfied": c.met_by(low) is not None} for c in self.include]
        out += [{"kind": "exclude", "phrases": [b], "satisfied": not contains(low, b)} for b in self.exclude]
        for clause in out:
            clause["met_by_decoder"] = met_by_decoder
        return out


def _typo_notes(clauses: list[Clause]) -> list[str]:
    """A custom value is legitimate; one close to a vocabulary phrase may be a typo, so say which."""
    import difflib

    from artdirector.vocab import category_vocab

    notes = []
    for clause in clauses:
        if clause.category is None:
            continue
        known = [e.phrase.lower() for e in category_vocab(clause.category)]
        for alt in clause.alternatives:
            if alt in known:
                continue
            close = difflib.get_close_matches(alt, known, n=3, cutoff=0.8)
            if close:
                notes.append(f"'{alt}' is not in the {clause.category} vocabulary (used as given); "
                             f"did you mean {' or '.join(repr(c) for c in close)}?")
    return notes


