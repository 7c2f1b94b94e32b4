"""What an image must show, as atomic yes/no questions with dependencies (Davidsonian Scene Graph style).

Cho et al., "Davidsonian Scene Graph" (ICLR 2024), judge text-image consistency by atomic questions —
entities, their attributes and counts, relations — where a child question counts only if its parent holds
("is the cube red?" means nothing if there is no cube). They generate the questions with a large LLM; the
director needs none: the idea is short and the direction already names what else must be visible, one
category per phrase. So the questions are built here, by rule:

1. **Entities** from the idea: the idea is cut at relation words ("on", "under", "next to", "riding", ...)
   and at "and"/"with"; each piece is a noun phrase whose last content word is the entity, a number word or
   digit before it its count, colour words (``guards.COLOURS``, the project's one list) its colour, other
   content words its attributes. One question per entity, one per attribute (child of the entity's).
2. **Relations** between consecutive entities, children of both.
3. **Look**: one question per phrase of the direction's medium, style, artist, lighting, colour and
   composition parts (boosters and moods are not visible facts).

Each question carries the ``phrase`` that would make the image show it — what the critique loop requires,
placed early, when the question fails. Why hand-written: a dependency parser would be a large model to ship
for ideas of five words; the rules are exact on the "adjectives noun relation adjectives noun" ideas that
benchmark sets (GenEval, T2I-CompBench) and users type, and an LM may add or rephrase questions on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from artdirector.guards import COLOURS
from artdirector.lexicon import STOPWORDS

# Longest first: "in front of" before "in", "next to" before "to".
RELATIONS = ("in front of", "on top of", "next to", "to the left of", "to the right of", "on the left of",
             "on the right of", "underneath", "beside", "behind", "above", "below", "under", "over", "inside",
             "near", "holding", "riding", "wearing", "eating", "chasing", "carrying", "sitting on", "standing on",
             "on", "in", "at")
JOINERS = ("and", "with", "of")
# "a portrait of X", "a photo of X": the frame is the medium's business, X is the entity.
FRAMES = frozenset({"portrait", "photo", "photograph", "picture", "image", "painting", "drawing", "close-up",
                    "closeup", "illustration", "render", "sketch", "view", "shot"})
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "a": 1, "an": 1, "single": 1}
PAIRS = re.compile(r"\b(a )?(pair|couple) of\b")  # "a pair of shoes" is two shoes, not a pair and shoes
LOOK = ("medium", "style", "artist", "lighting", "color", "composition")  # visible parts of a direction
_SPLIT = re.compile(r"\b(" + "|".join(re.escape(w) for w in (*RELATIONS, *JOINERS)) + r")\b")


@dataclass(frozen=True)
class Question:
    id: int
    text: str
    element: str  # what is asked about: "cube", "red cube", "cube on sphere", "oil painting"
    category: str  # entity | attribute | count | relation | a direction part (medium, style, ...)
    phrase: str  # what a prompt must say for the image to show it
    parents: tuple[int, ...] = ()


@dataclass
class Entity:
    noun: str
    count: int | None = None
    colours: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)

    @property
    def phrase(self) -> str:
        return " ".join([*self.attributes, *self.colours, self.noun])


def entities_and_relations(idea: str) -> tuple[list[Entity], list[tuple[int, str, int]]]:
    """The idea's noun phrases, and (subject index, relation, object index) between consecutive ones."""
    pieces = _SPLIT.split(PAIRS.sub("two", idea.lower().strip(" .!?")))
    entities: list[Entity] = []
    relations: list[tuple[int, str, int]] = []
    pending: str | None = None
    for piece in pieces:
        piece = piece.strip(" ,;")
        if not piece:
            continue
        if piece in RELATIONS or piece in JOINERS:
            pending = piece if piece in RELATIONS else None
            continue
        entity = _noun_phrase(piece)
        if entity is None:
            continue
        if pending and entities:
            relations.append((len(entities) - 1, pending, len(entities)))
        entities.append(entity)
        pending = None
    return entities, relations


def _noun_phrase(text: str) -> Entity | None:
    count = None
    for word, n in sorted(NUMBERS.items(), key=lambda kv: -len(kv[0])):
        if text == word or text.startswith(word + " "):
            count, text = n, text[len(word):].strip()
            break
    words = [w for w in re.findall(r"[a-z0-9][a-z0-9'\-]*", text) if w not in STOPWORDS]
    if words and words[0].isdigit():
        count, words = int(words[0]), words[1:]
    if not words or all(w in FRAMES or w in COLOURS for w in words):  # "a portrait", "a colour photo"
        return None
    colours = [w for w in words[:-1] if w in COLOURS]
    return Entity(words[-1], count, colours, [w for w in words[:-1] if w not in COLOURS])


def _plural(noun: str, count: int | None) -> str:
    if not count or count == 1 or noun.endswith("s"):
        return noun
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


def questions_for(idea: str, parts: dict[str, list[str]] | None = None) -> list[Question]:
    """The questions an image of ``idea`` directed with ``parts`` (a ``Direction``'s) must answer yes to."""
    out: list[Question] = []

    def ask(text, element, category, phrase, parents=()):
        out.append(Question(len(out), text, element, category, phrase, tuple(parents)))
        return out[-1].id

    entities, relations = entities_and_relations(idea)
    ids = []
    for e in entities:
        noun = e.noun
        is_are = "Are" if _is_plural(noun) else "Is"
        ids.append(ask(f"{is_are} there {_indefinite(noun)}?", noun, "entity", noun))
        if e.count and e.count > 1:
            many = _plural(noun, e.count)
            ask(f"Are there {e.count} {many}?", f"{e.count} {many}", "count", f"{e.count} {many}", [ids[-1]])
        for colour in e.colours:
            ask(f"{is_are} the {noun} {colour}?", f"{colour} {noun}", "attribute", f"{colour} {noun}", [ids[-1]])
        for attribute in e.attributes:
            ask(f"{is_are} the {noun} {attribute}?", f"{attribute} {noun}", "attribute", f"{attribute} {noun}",
                [ids[-1]])
    for a, relation, b in relations:
        x, y = entities[a].noun, entities[b].noun
        ask(f"{'Are' if _is_plural(x) else 'Is'} the {x} {relation} the {y}?", f"{x} {relation} {y}", "relation",
            f"{entities[a].phrase} {relation} {entities[b].phrase}", [ids[a], ids[b]])
    for category in LOOK:
        for phrase in (parts or {}).get(category, []):
            ask(_look_question(category, phrase), phrase, category, phrase)
    return out


def _is_plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith(("ss", "us", "is"))


def _indefinite(noun: str) -> str:
    if _is_plural(noun):
        return noun
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _look_question(category: str, phrase: str) -> str:
    return {
        "medium": f"Is this {_indefinite(phrase)}?",
        "style": f"Is the image in {phrase} style?",
        "artist": f"Does it look like a work by {phrase.removeprefix('by ')}?",
        "lighting": f"Does the image have {phrase}?",
        "color": f"Is the image {phrase}?",
        "composition": f"Is the image {_indefinite(phrase)}?",
    }[category]


def dsg_score(questions: list[Question], p_yes: list[float], threshold: float = 0.5) -> float:
    """DSG's score: the mean answer, a question counting 0 when any parent is answered no."""
    if not questions:
        return 0.0
    holds = {q.id: p >= threshold for q, p in zip(questions, p_yes)}
    kept = [0.0 if any(not holds[p] for p in q.parents) else p for q, p in zip(questions, p_yes)]
    return sum(kept) / len(kept)
