"""Rendering a ``Direction`` into the prompt string a given text-to-image or text-to-video model reads.

Every target starts with the user's idea, verbatim: diffusion models weigh early tokens most, and the idea is
what the user asked for. What follows depends on the model's text encoder:

- ``sd15`` — CLIP ViT-L/14, 77 tokens: comma-separated tags, the convention these models were prompted with.
- ``sdxl`` — two CLIP encoders (ViT-L/14 and OpenCLIP bigG/14). Both use the same BPE vocabulary and merges
  and differ only in padding, so one count is exact for both and both must fit 77.
- ``flux`` — T5-XXL reads fluent sentences (CLIP-L sees only the start, which is the idea): subject details
  join the idea ("with fishing boats"), a time of day or weather word sets the scene ("at dusk", "on a foggy
  day"), a lone modifier word stays a tag ("Clean."), then how it is made and lit. FLUX.1-schnell
  reads up to 256 T5 tokens. We have no T5 vocabulary offline, so the budget is counted in CLIP BPE tokens,
  which on English prompt text run at or above T5's SentencePiece counts: a conservative proxy.
- ``sd3`` — Stable Diffusion 3 reads the same prose through its T5 encoder (256 tokens in diffusers by default; its
  two CLIP encoders see the start, the idea), and, unlike FLUX.1, takes a negative prompt: it gets the direction's.
- ``video`` — AnimateDiff on SD 1.5: tags within 77 CLIP tokens, with motion, camera movement and pacing
  right after the idea, since they decide whether the clip moves at all.

When a prompt is over budget, phrases are dropped lowest priority first (``DROP_ORDER``), and the rendered
result says which. The idea itself is never cut: if it alone is over budget, the result says so.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from artdirector.brief import Direction
from artdirector.errors import BadInput
from artdirector.text import contains
from artdirector.tokens import CLIP_MAX_TOKENS, clip_token_count

# Lowest priority first: quality boosters are the most generic words; the subject details least so.
DROP_ORDER = (
    "negative",
    "booster", "mood", "color", "composition", "pacing", "lighting", "camera", "artist", "style", "medium",
    "motion", "subject",
)
TAG_ORDER = ("subject", "medium", "style", "artist", "lighting", "color", "composition", "mood", "booster")
VIDEO_TAG_ORDER = ("subject", "motion", "camera", "pacing", *TAG_ORDER[1:])


@dataclass(frozen=True)
class Target:
    name: str
    budget: int  # CLIP BPE tokens, start/end markers included
    prose: bool
    negative: bool  # whether the model takes a negative prompt
    order: tuple[str, ...] = TAG_ORDER


TARGETS = {
    "sd15": Target("sd15", CLIP_MAX_TOKENS, prose=False, negative=True),
    "sdxl": Target("sdxl", CLIP_MAX_TOKENS, prose=False, negative=True),
    "flux": Target("flux", 256, prose=True, negative=False),
    "sd3": Target("sd3", 256, prose=True, negative=True),
    "video": Target("video", CLIP_MAX_TOKENS, prose=False, negative=True, order=VIDEO_TAG_ORDER),
}


# Video motion: camera moves and pacing read by AnimateDiff-style models, and subject-driven motion cues
# chosen by words of the idea (the first rule that matches; whole words, plurals included, so "a cathedral"
# is no cat and "the research lab" no sea). Written for this project. Each cue brings the pacings that suit it:
# a timelapse speeds up clouds, traffic and stars, but turns a woman walking her dog into a blur.
CAMERA = ("slow dolly in", "slow pan left", "slow pan right", "tracking shot", "slow orbit around the subject",
          "crane shot rising", "static camera", "slow zoom out")
LIVING = ("slow motion", "smooth motion")
SCENERY = ("timelapse", "smooth motion", "gentle looping motion")
STILL = ("smooth motion", "gentle looping motion")
MOTION_RULES = (  # what moves first: what the idea does, creatures and people, fire and weather, then the scenery
    (("walk", "walking", "stroll", "strolling", "hike", "hiking"), "natural walking motion", LIVING),
    (("run", "running", "race", "racing", "gallop", "galloping"), "dynamic running motion", LIVING),
    (("dance", "dancing", "dancer"), "flowing dance movement", LIVING),
    (("dragon", "bird", "eagle", "flying", "fly", "butterfly"), "wings beating, soaring", LIVING),
    (("cat", "dog", "fox", "horse", "wolf", "animal", "kitten", "puppy"), "natural animal movement, fur moving",
     LIVING),
    (("woman", "women", "man", "men", "girl", "boy", "person", "people", "portrait", "face"),
     "subtle head turn, hair moving in the wind", LIVING),
    (("fire", "flame", "candle", "lava", "volcano"), "flickering flames, rising embers", LIVING),
    (("storm", "rain", "wind", "hurricane"), "wind-driven rain, churning clouds", LIVING),
    (("sea", "ocean", "wave", "beach", "lake", "river", "water"), "rolling waves, rippling water", LIVING),
    (("city", "cities", "street", "traffic", "cyberpunk"), "moving traffic, flickering signs", SCENERY),
    (("forest", "tree", "garden", "flower", "field", "grass"), "leaves swaying in the breeze", STILL),
    (("space", "galaxy", "galaxies", "planet", "star", "nebula"), "slowly rotating stars", SCENERY),
    (("sky", "skies", "cloud", "sunset", "sunrise", "mountain"), "drifting clouds", SCENERY),
)
DEFAULT_MOTION = ("subtle ambient motion", STILL)


def motion_for(idea: str) -> tuple[str, tuple[str, ...]]:
    """The motion cue of the first rule a word of ``idea`` (or its plural) matches, and the pacings that suit it."""
    low = idea.lower()
    for keys, motion, pacing in MOTION_RULES:
        if any(contains(low, k) or contains(low, k + "s") or contains(low, k + "es") for k in keys):
            return motion, pacing
    return DEFAULT_MOTION


def add_motion(direction: Direction, rng: random.Random) -> None:
    """The video target's parts: what moves, how the camera moves, a pacing that suits what moves."""
    motion, pacing = motion_for(direction.idea)
    direction.add("motion", motion)
    direction.add("camera", rng.choice(CAMERA))
    direction.add("pacing", rng.choice(pacing))


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise BadInput(f"unknown target {name!r}; valid targets: {', '.join(TARGETS)}") from None


@dataclass
class Rendered:
    target: str
    prompt: str
    negative_prompt: str
    tokens: int
    budget: int
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def over_budget(self) -> bool:
        return self.tokens > self.budget


def _artist(phrase: str) -> str:
    return phrase if phrase.lower().startswith("by ") else f"by {phrase}"


def _tags(idea: str, parts: dict[str, list[str]], order: tuple[str, ...], early: list[str] = ()) -> str:
    # A lone modifier the vocabularies do not claim ("artistic") is no detail of the subject: it reads as a mood
    # tag ("... in the park. Thick oil paint, ..., artistic"), not as the first word after the idea.
    lone = [p for p in parts.get("subject", []) if _lone_modifier(p)]
    parts = {**parts, "subject": [p for p in parts.get("subject", []) if p not in lone],
             "mood": [*parts.get("mood", []), *lone]}
    tags = [_artist(p) if category == "artist" else p for category in order for p in parts.get(category, [])]
    first = [t for e in early for t in tags if t.lower() in (e.lower(), _artist(e).lower())]
    tags = list(dict.fromkeys([*first, *tags]))
    if not tags:
        return idea
    if idea.rstrip()[-1:] in ".!?":  # a sentence idea: its own full stop ends it, the tags follow cleanly
        return f"{idea.rstrip()} {tags[0][:1].upper()}{tags[0][1:]}" + "".join(f", {t}" for t in tags[1:])
    return ", ".join([idea, *tags])


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# "vector art", not "a vector art"; "oil paint", not "an oil paint"
MASS_NOUNS = ("art", "photography", "artwork", "realism", "design", "cgi", "3d", "paint")
PARTICLES = frozenset({"van", "von", "de", "da", "di", "del", "der", "den", "la", "le", "du", "of", "the", "and",
                       "y", "ter"})


def _article(phrase: str) -> str:
    first, last = phrase.split()[0].lower(), phrase.split()[-1].lower()
    if first in ("a", "an", "the") or phrase.endswith("s") or last in MASS_NOUNS:
        return phrase
    low = phrase.lower()
    # "a unicorn", "a ukiyo-e", but "an umbrella", "an ultra": a u, a consonant, a vowel sounds like "you"
    you = re.match(r"u[^aeiou\W][aeiou]", low) is not None
    return ("an " if low[0] in "aeiou" and not you else "a ") + phrase


def _name(artist: str) -> str:
    """An artist's name as a name ("vincent van gogh" → "Vincent van Gogh"): T5 reads case."""
    words = artist.split()
    return " ".join(w if (w in PARTICLES and i) or not w.islower() else w[:1].upper() + w[1:]
                    for i, w in enumerate(words))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# Resolution, engine and renderer tokens mean nothing to a T5 encoder: prose keeps only descriptive boosters and
# styles.
_TECHNICAL = re.compile(r"(^|\s)(\d+ ?k|uhd|hd|hdr|1080p|octane|unreal engine|artstation|trending|cgsociety|"
                        r"resolution|vray|v-ray|redshift|blender|cinema 4d|c4d|keyshot)(\s|$)")


# A word this much of a modifier (its share of use after the first comma of real prompts) reads as a tag.
LONE_MODIFIER = 0.7
# Shares alone do not tell adjectives from nouns ("artistic" 0.67, "boats" 0.53), and no part-of-speech model
# installs offline; an adjective's ending does, for a word prompt writers use as a modifier often enough
# ("metallic" 0.45, "whimsical" 0.58; "crystal" 0.33 and "animal" 0.32 stay things).
ADJECTIVE = re.compile(r"(ic|al|ful|ous|ive|ish|less|able|ible|esque)$")
ADJECTIVE_MODIFIER = 0.4


def _described(phrases: list[str], says: str, noun: str, qualifies=lambda phrase: True) -> list[str]:
    """Phrases that name their own noun as they are, or that ``qualifies`` says cannot qualify it; the others
    together as one "a/an X, Y and Z <noun>"."""
    own = [p for p in phrases if re.search(rf"\b({says})\b", p) or not qualifies(p)]
    bare = [p for p in phrases if p not in own]
    return own + ([_article(f"{_join(bare)} {noun}")] if bare else [])


# The guards' times and weather of more than one word, and the sun, as the clauses that set a scene.
SETTING_CLAUSES = {
    "night time": "at night", "early morning": "in the early morning", "broad daylight": "in broad daylight",
    "clear sky": "under a clear sky", "clear skies": "under clear skies", "night sky": "under a night sky",
    "starry sky": "under a starry sky", "starry night": "on a starry night", "bright sun": "in bright sun",
    "sun": "in the sun",
}
# A lighting phrase that names its light as it is ("rim light", "dramatic shadows"); the others ("golden hour",
# "volumetric") are the kind of light: "with golden hour" is no English, "with a golden hour light" is.
LIGHT_NOUNS = r"\w*(light|lights|lighting|lit|glow|glowing|shadows?|rays|beams?|illumination)|chiaroscuro"


def _film_stock(phrase: str) -> str | None:
    """A film stock or photographic process as what it was shot on ("kodachrome film" -> "Kodachrome film",
    "polaroid photo" -> "Polaroid"), or None. The stocks are the guards' (one definition)."""
    from artdirector.guards import KINDS

    low = phrase.lower()
    if not KINDS["film stock"].match(low):
        return None
    return _cap(re.sub(r" (photo|photograph)$", "", re.sub(r"^(shot on|on) ", "", low)))


def _setting(phrase: str) -> str | None:
    """A lone time of day or weather word as the clause that sets the scene ("dusk" -> "at dusk", "foggy" ->
    "on a foggy day"), or None: "with dusk" is no English. The words are the guards' (one definition)."""
    from artdirector.guards import TIMES, WEATHER

    low = phrase.lower()
    if low in SETTING_CLAUSES:
        return SETTING_CLAUSES[low]
    if " " in low:
        return None
    if low in ("morning", "evening", "afternoon"):
        return f"in the {low}"
    if any(low in terms for terms in TIMES.values()):
        return f"at {low}"
    if any(low in terms for terms in WEATHER.values()):
        return f"on a {low} day" if low.endswith("y") else f"in the {low}"
    return None


def _palette_word(phrase: str) -> bool:
    """Whether a colour phrase can qualify "palette": one word ("pastel"), or ending in a colour ("teal and orange",
    "deep blue"); "colorful feathers" names its own thing ("a colorful feathers palette" was the owls' prose)."""
    from artdirector.guards import tone

    return " " not in phrase or tone(phrase.split()[-1]) is not None


def _lone_modifier(phrase: str) -> bool:
    """A single word prompt writers use as a modifier ("clean", "symmetrical", "artistic"): a tag, not a thing
    to be with ("with artistic" is no English)."""
    from artdirector.lexicon import modifier_share

    if " " in phrase:
        return False
    share = modifier_share(phrase) or 0.0
    return share >= LONE_MODIFIER or (share >= ADJECTIVE_MODIFIER and ADJECTIVE.search(phrase.lower()) is not None)


def _prose(idea: str, parts: dict[str, list[str]]) -> str:
    """Descriptive sentences for T5-read models: the idea, its details and its setting; how it is made
    (medium, style, artist) and lit, as one sentence; then palette, framing and mood; at most one quality
    phrase."""
    get = parts.get
    first = idea.rstrip(" .!?")
    if first.split(" ", 1)[0].islower():  # a sentence begins with a capital; "iPhone" and "eBay" keep their case
        first = _cap(first)
    settings, tags, things = [], [], []
    for detail in get("subject", []):
        clause = _setting(detail)
        if clause:
            settings.append(clause)
        else:
            (tags if _lone_modifier(detail) else things).append(detail)
    if things:
        first += ", with " + _join(things)
    if settings:
        first += " " + " and ".join(settings)
    sentences = [first + (idea.rstrip()[-1] if idea.rstrip()[-1:] in "!?" else ".")]
    artists = [_name(a[3:] if a.lower().startswith("by ") else a) for a in get("artist", [])]
    # A genre filed as a mood ("concept art", "fantasy art") says how the picture is made: the medium where the
    # direction names none ("Concept art.", not "In a concept art style."), else a style beside it.
    genres = [m for m in get("mood", []) if m.split()[-1].lower() in ("art", "artwork", "painting", "illustration")]
    look = ""
    stock_of = {m: _film_stock(m) for m in get("medium", [])}
    stocks = [f for f in stock_of.values() if f]
    media = [m for m, f in stock_of.items() if not f]
    # "octane" filed as a style is the render engine, no style T5 can draw ("In an octane style")
    styles = [*(s for s in get("style", []) if not _TECHNICAL.search(s.lower())), *(genres if media else [])]
    media = media or genres
    if media:
        # "food photography and a polaroid photo"; "a painting by Van Gogh": a name inside a medium is a name too
        look = _cap(_join([_article(re.sub(r"\bby (.+)$", lambda by: "by " + _name(by[1]), m)) for m in media]))
        if styles:
            look += f" with {_article(_join(styles) + ' feel')}"
    elif styles:
        look = f"In {_article(_join(styles) + ' style')}"
    if stocks:  # "Food photography, shot on Kodachrome film", not "... and a kodachrome film"
        look = f"{look}, shot on {_join(stocks)}" if look else f"Shot on {_join(stocks)}"
    if artists:
        look = f"{look}, after {_join(artists)}" if look else f"After {_join(artists)}"
    if get("lighting"):
        light = _join(_described(get("lighting"), LIGHT_NOUNS, "light"))
        look = f"{look}, with {light}" if look else _cap(light)
    if look:
        sentences.append(look + ".")
    scene = _described(get("color", []), r"palette|colou?rs?|tones?|hues?", "palette", _palette_word)
    scene += tags + get("composition", [])
    scene += _described([m for m in get("mood", []) if m not in genres], r"mood|atmosphere|feel|vibe", "atmosphere")
    if scene:
        sentences.append(_cap(_join(scene)) + ".")
    quality = [b for b in get("booster", []) if not _TECHNICAL.search(b.lower())][:1]
    if quality:
        sentences.append(_cap(quality[0]) + ".")
    return " ".join(sentences)


def _fit(text_of, parts: dict[str, list[str]], budget: int,
         pinned: frozenset[str] = frozenset()) -> tuple[str, int, list[str]]:
    parts = {k: list(v) for k, v in parts.items()}
    dropped: list[str] = []
    while True:
        text = text_of(parts)
        tokens = clip_token_count(text)
        if tokens <= budget:
            return text, tokens, dropped
        victim = next((c for c in DROP_ORDER if any(p not in pinned for p in parts.get(c, ()))), None)
        if victim is None:
            return text, tokens, dropped
        last = max(i for i, p in enumerate(parts[victim]) if p not in pinned)
        dropped.append(parts[victim].pop(last))


def render(direction: Direction, target: str | Target = "sd15") -> Rendered:
    t = target if isinstance(target, Target) else get_target(target)
    parts = {k: v for k, v in direction.parts.items() if k in t.order}
    pinned = frozenset(direction.pinned)
    if t.prose:
        prompt, tokens, dropped = _fit(lambda p: _prose(direction.idea, p), parts, t.budget, pinned)
    else:
        prompt, tokens, dropped = _fit(lambda p: _tags(direction.idea, p, t.order, direction.early), parts, t.budget,
                                       pinned)
    notes = []
    if tokens > t.budget:
        what, kept = ("the idea and the required phrases are", "they were") if pinned else ("the idea alone is",
                                                                                            "the idea was")
        notes.append(
            f"{what} {tokens} tokens, over the {t.budget}-token window of {t.name}; "
            f"the model will not read its end ({kept} not shortened)"
        )
    negative = ""
    if t.negative and direction.negative:
        negative, _, neg_dropped = _fit(
            lambda p: ", ".join(p["negative"]), {"negative": list(direction.negative)}, t.budget
        )
        if neg_dropped:
            notes.append(f"negative prompt shortened to fit {t.budget} tokens: dropped {', '.join(neg_dropped)}")
    elif direction.negative:
        notes.append(f"{t.name} takes no negative prompt; the negative phrases are reported but not rendered")
    return Rendered(t.name, prompt, negative, tokens, t.budget, dropped, notes)
