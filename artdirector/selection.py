"""Stage 5 of a direction: from what the model wrote to the phrases of a ``Direction``.

What the model writes goes through ``parse_modifiers`` (clean phrases only) and ``classify``; phrases the
vocabularies do not know are kept as subject details only when they are plausible ones. With retrieved prompts,
the model's phrases and theirs are ranked by the learned ranker (``library.ranker``) where one is installed, by
the retrieval vote (``library.retrieval.vote``) otherwise. The rankers rank
only what the invented-matter guard admits (``Guards.admits``), so the budget is of phrases that can get in. The
ranked phrases are then taken best first through the coherence and fidelity guards (``guards.Guards``: no
invented subject matter, the idea's medium, no contradicted colour, time or weather, no near-duplicates) until
the budget is reached (the ranker's expected-F1 budget, or ``retrieval.modifier_budget``: up to
``MAX_MODIFIERS``, fewer when the nearest human idea is far). A direction the guards leave short stays short
(padding it is what they prevent). If fewer than ``MIN_MODIFIERS`` clean phrases came from the model, the
direction falls back to the modifiers the retrieved prompts share (unless a ranker ranked them all already), then
to tags drawn from the shipped vocabularies (by DiffusionDB frequency), through the same guards, and says so.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from artdirector.brief import Direction
from artdirector.guards import Fault, Guards
from artdirector.library.retrieval import MAX_MODIFIERS, modifier_budget, shared_modifiers, vote
from artdirector.parse import parse_modifiers
from artdirector.vocab import category_vocab, classify

MIN_MODIFIERS = 2  # fewer usable phrases than this from the model: fall back
# At most this many phrases of a part: a list of five artists crowds out the rest, and "moody lighting, diffuse
# lighting, hint of blue lighting" is one light too many (lighting at 2: validation soft F1 0.173 -> 0.175, the
# rest the same; capping boosters at 3 cost 0.006 soft F1 and left the top-10 share where it was). Two media at most:
# "digital illustration, digital oil painting, trompe-l'oeil painting" is no one picture (4.2% of 793 validation
# directions held three or more; capped, soft F1 0.2042 -> 0.2038, paired -0.0004 [-0.0013, +0.0004]; one medium
# cost 0.0024). Counting the phrases that name a medium family instead (``guards.phrase_media``, which counts "3d"
# and "octane render") cost 0.0022 [0.0002, 0.0042].
CATEGORY_CAPS = {"artist": 3, "lighting": 2, "medium": 2}
FALLBACK_SHARED = 6  # modifiers taken from the retrieved prompts on a fallback
# With this many of them in, no vocabulary tags are drawn: "Constructivism, by vincent van gogh, ...,
# photorealistic" for "A woman walks her dog in the park." came from such random draws.
FALLBACK_ENOUGH = 3
# How many of each category a fallback direction takes, and from how many of the most used phrases.
FALLBACK = {"medium": (1, 12), "style": (1, 25), "artist": (1, 25), "lighting": (1, 23), "booster": (2, 12)}
# A negative prompt that suits SD-class models whatever the idea: the failure modes users fight most.
DEFAULT_NEGATIVE = (
    "blurry", "lowres", "low quality", "jpeg artifacts", "deformed", "disfigured", "bad anatomy",
    "extra limbs", "watermark", "text", "signature", "duplicate", "cropped",
)


ARTIST_PREFIX = re.compile(r"^(?:(?:art|artwork|painted|illustrated|drawn|photographed) by|in the style of|"
                           r"style of|by)\s+")


@dataclass
class Selection:
    direction: Direction
    fallback: bool = False  # the model itself wrote too few usable phrases
    rejected: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # what the guards kept out


def artist_name(phrase: str) -> str:
    """"art by greg rutkowski", "in the style of hokusai" -> the name (the renderer writes "by NAME")."""
    return ARTIST_PREFIX.sub("", phrase)


def plausible_detail(phrase: str, idea_words: set[str]) -> bool:
    """Unclassified phrases are kept as subject details only when short, free of numbers (the model's
    "10-year life cycle" or "1024x768") and not a rewording of the idea itself."""
    words = phrase.split()
    if len(words) > 4 or any(ch.isdigit() for ch in phrase):
        return False
    return sum(w in idea_words for w in words) / len(words) < 0.5


def model_phrases(idea: str, text: str, *, truncated: bool) -> tuple[list[str], list[str]]:
    """The usable phrases of the model's answer ``text``, and those it wrote that are unusable."""
    parsed = parse_modifiers(text, idea, repair=True)
    phrases = parsed.phrases
    if truncated and phrases and not text.rstrip().endswith(","):
        phrases = phrases[:-1]  # the last phrase was cut off mid-word by the token limit
    idea_words, kept, rejected = set(idea.lower().split()), [], list(parsed.rejected)
    for phrase in phrases:
        if classify(phrase) == "subject" and not plausible_detail(phrase, idea_words):
            rejected.append(phrase)
        else:
            kept.append(phrase)
    return kept, rejected


def select_modifiers(idea: str, text: str, *, truncated: bool, seed: int, retrieved: Sequence = (),
                     details: bool = False, used: Mapping[str, int] | None = None, ranker=None) -> Selection:
    """The direction for ``idea`` from the model's answer ``text`` (``truncated``: it hit the token limit).
    ``details``: keep scene details the idea does not name (the guards drop them otherwise); ``used``: the
    phrases earlier candidates of the same idea took, voted down so that candidates differ; ``ranker`` (a
    ``library.ranker.Ranker`` or ``Vote``): ranks the candidates and sizes the direction (without one, the
    plain vote of ``retrieval.vote``)."""
    kept, rejected = model_phrases(idea, text, truncated=truncated)
    selection = Selection(Direction(idea=idea, negative=list(DEFAULT_NEGATIVE)), rejected=rejected)
    selection.fallback = len(kept) < MIN_MODIFIERS
    guards = Guards(idea, details=details)
    take = _taker(selection, guards)
    if ranker is not None and retrieved:
        ranking = ranker.rank(idea, kept, retrieved, used, guards.admits)
        ranked, budget = ranking.phrases, ranking.budget
    else:
        ranked = vote(kept, retrieved, limit=None, used=used) if retrieved else kept
        budget = modifier_budget(retrieved)
    for phrase in ranked:
        if take(phrase) >= budget:
            break
    if selection.fallback:  # the model failed; phrases the guards refused are not a reason to pad
        # A ranker ranked every retrieved modifier already: their shared ones would only add, beyond its budget,
        # those it ranked lower ("artistic, detailed, high resolution" after four phrases for a woman and her dog).
        shared = () if ranker is not None else retrieved
        fill_fallback(selection.direction, random.Random(seed), shared, take)
    return selection


def _taker(selection: Selection, guards: Guards):
    """A function that adds one ranked phrase to the direction if the guards let it in; returns how many
    phrases the direction holds."""
    direction, accepted = selection.direction, []

    def take(phrase: str) -> int:
        category = classify(phrase)
        phrase = artist_name(phrase) if category == "artist" else phrase
        if len(direction.parts.get(category, ())) >= CATEGORY_CAPS.get(category, MAX_MODIFIERS):
            return len(accepted)  # enough of this kind: room for the others
        fault, replaced = guards.check(phrase, accepted, artist=category == "artist")
        if fault:  # a phrase the direction already holds is one too: the guards find it redundant
            selection.faults.append(fault)
            return len(accepted)
        if replaced:
            accepted.remove(replaced)
            for part in direction.parts.values():
                if replaced in part:
                    part.remove(replaced)
        if direction.add(category, phrase):
            accepted.append(phrase)
        return len(accepted)

    return take


def fill_fallback(direction: Direction, rng: random.Random, retrieved: Sequence, take) -> None:
    """Too little usable output: take the modifiers the retrieved prompts share (weighted by similarity);
    if fewer than ``FALLBACK_ENOUGH`` got in, fill the categories still empty from the vocabularies.
    ``take`` (the guarded adder of ``select_modifiers``) decides what gets in."""
    held = len(direction.phrases())
    for phrase in shared_modifiers(retrieved, FALLBACK_SHARED):
        held = take(phrase)
    if held >= FALLBACK_ENOUGH:
        return  # people's own choices for ideas like this one; tags drawn at random would only pad them
    for category, (count, top) in FALLBACK.items():
        entries = category_vocab(category)[:top]
        if direction.parts.get(category) or not entries:
            continue
        for entry in rng.sample(entries, min(count, len(entries))):
            take(entry.phrase)
