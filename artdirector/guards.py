"""Coherence and fidelity guards: a direction never betrays the idea, contradicts itself or pads.

Each guard finds a kind of fault in a direction's added phrases; ``apply_guards`` drops what they find and
says so in the notes. The same detectors (``faults``) serve the evaluation's metrics, the RL rewards and the
critique loop, so what is measured is what is enforced. The guards, in order:

- ``format``: a fragment the parser cut from a longer phrase ("and turner", "from the side", a lone "behind").
- ``invented``: new subject matter — a phrase that is no vocabulary entry or artist and names something the
  idea does not (``lexicon.subject_words``: "slurping spaghetti", "big hands", "fire" for children in the
  snow), or that no category claims and few real prompts use ("mini-skirt", "silver hair"), or that gives a
  colour to something the idea does not name ("black hair" for an old man; "red background" is a palette). Off with
  ``details=True``, the opt-in for scene details.
- ``medium``: the medium follows the idea — when the idea names one ("a photo of ...", "a watercolor
  painting of ..."), added phrases of a family that clashes with it go; when it names none, the direction keeps
  the family its best-ranked medium phrase belongs to. Photo mixes with nothing else, and painting, drawing and
  render not with each other; illustration (concept art, digital art, any "... art" that names no other
  family, such as "psychedelic art") sits with any of the three, so "an illustration of ..." may take "digital
  painting" (on validation, against refusing every other family: soft F1 0.178 -> 0.180).
  Painter artists leave a photo direction (an artist phrase stays only if it says it is a photographer), and
  a photo phrase ranked below a painter's name leaves the direction. An idea that names a hand-made medium
  (oil, watercolor, pencil, ink) takes no digital one ("digital painting", "digital art"), and a digital idea
  no hand-made one (``PROCESSES``).
- ``colour``, ``time``, ``weather``: no colour, time of day or weather that contradicts the idea ("dusk" for a
  harbour at dawn, "blue" or "black and white" for a red car, "sunny" or a "serene mood" for a storm), nor, for
  time and weather, one the direction already took ("dramatic sunrise" after "dusk"), nor black and white beside
  full colour, whichever came first (``tone``: "colorful feathers, black and white").
- ``redundant``: near-duplicates collapse to the more specific phrase ("artstation" into "trending on
  artstation", "cinematic light" into "cinematic lighting", "very detailed" into "highly detailed"), and at
  most one phrase of each kind of technical token (resolution "4k/8k/uhd", render engine, film stock, art site,
  "detailed", realism: ``KINDS``) stays. A phrase that
  only says again a time of day or weather the idea or the direction already says ("snowing" and "snowstorm" for
  children playing in the snow), or a bare medium name of a family already there ("photograph" after "food
  photography"), adds nothing and goes too (``restated``).

The word lists are small, written for this project, and each family is one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from artdirector.brief import Direction
from artdirector.lexicon import STOPWORDS, modifier_share, phrase_share, subject_words, words
from artdirector.text import contains, join_digits
from artdirector.vocab import classify, vocabulary

# Medium families, by the words that name them. Photo conflicts with every other family.
MEDIA = {
    "photo": ("photo", "photograph", "photography", "photographic", "dslr", "polaroid", "kodak", "portra",
              "kodachrome", "ektachrome", "fujifilm", "cinestill", "ilford", "daguerreotype", "daguerrotype",
              "tintype", "canon", "nikon", "35mm", "50mm", "85mm", "film still", "photoshoot"),
    # The painting movements are painting too: "renaissance" or "impressionism" makes a food photo a painting.
    "painting": ("painting", "painted", "oil", "watercolor", "watercolour", "acrylic", "gouache", "canvas",
                 "impasto", "fresco", "tempera", "brushstrokes", "brush strokes", "renaissance", "baroque",
                 "rococo", "impressionism", "impressionist", "post-impressionism", "pre-raphaelite", "fauvism",
                 "pointillism", "cubism", "cubist"),
    "render": ("render", "rendered", "rendering", "3d", "octane", "unreal engine", "blender", "cgi", "vray",
               "cinema 4d", "c4d", "redshift", "zbrush", "ray tracing"),
    "drawing": ("drawing", "sketch", "pencil", "charcoal", "ink", "lineart", "line art", "crayon", "etching",
                "lithograph", "lithographic", "woodcut", "engraving"),
    "illustration": ("illustration", "cartoon", "anime", "manga", "comic", "concept art", "digital art",
                     "vector art", "cel shaded"),
}
# Families that make one picture look like two: photo with anything else, and paint, pencil and 3D with each
# other (illustration — concept art, digital art — sits with any of the three).
CLASHES = {frozenset(p) for p in (("photo", "painting"), ("photo", "render"), ("photo", "drawing"),
                                   ("photo", "illustration"), ("painting", "render"), ("painting", "drawing"),
                                   ("drawing", "render"))}
# A stylised look and a realistic one contradict each other, whatever the medium ("vector art ... photorealistic").
# Thick, visible paint is a look of its own, no photograph's ("thick oil paint ... photorealistic").
STYLISED = ("vector art", "vector", "cartoon", "anime", "manga", "comic", "cel shaded", "cel-shaded", "flat colors",
            "flat colours", "pixel art", "chibi", "low poly", "clipart", "clip art", "sticker", "impasto",
            "thick paint", "thick oil paint", "palette knife", "loose brushwork", "expressive brushstrokes")
REALISTIC = ("photorealistic", "photorealism", "photo realistic", "hyperrealistic", "hyper realistic",
             "hyperrealism", "hyper-realistic", "realistic", "realism", "lifelike", "true to life")
# Specific paints: a watercolor idea takes no oil painting, and so on.
PAINTS = ("oil", "watercolor", "watercolour", "acrylic", "gouache", "tempera", "fresco")
# How the picture is made, by hand or on a computer. Illustration sits with any family, but an idea that names a
# hand-made medium takes no digital one ("oil painting ..., digital painting, digital art"), nor the other way round.
PROCESSES = {
    "hand-made": (*PAINTS, "canvas", "impasto", "pencil", "charcoal", "crayon", "ink", "etching", "woodcut",
                  "linocut", "lithograph", "engraving"),
    "digital": ("digital", "vector", "pixel art", "cgi", "3d", "procreate", "photoshop"),
}
COLOURS = ("red", "blue", "green", "yellow", "orange", "purple", "violet", "pink", "teal", "turquoise", "cyan",
           "magenta", "gold", "silver", "black", "white", "brown", "grey", "gray", "beige", "crimson", "scarlet",
           "emerald", "indigo", "maroon", "navy", "amber", "lavender", "ivory", "copper", "bronze")
ACHROMATIC = ("black and white", "monochrome", "monochromatic", "grayscale", "greyscale", "sepia")
# Full colour, said of the whole picture: no black and white beside it ("colorful feathers, black and white").
COLOURFUL = ("colorful", "colourful", "multicolored", "multicoloured", "rainbow", "technicolor", "vibrant colors",
             "vibrant colours", "vivid colors", "vivid colours", "saturated colors", "saturated colours", "full color",
             "full colour")
TIMES = {
    "dawn": ("dawn", "sunrise", "daybreak", "morning", "early morning"),
    "day": ("midday", "noon", "afternoon", "daytime", "daylight", "broad daylight"),
    "dusk": ("dusk", "sunset", "evening", "twilight", "sundown", "golden hour"),
    "night": ("night", "nighttime", "night time", "midnight", "moonlight", "moonlit", "starry night", "night sky",
              "starry sky", "starlit"),
}
WEATHER = {
    "storm": ("storm", "stormy", "thunderstorm", "thunder", "lightning", "rain", "rainy", "raining", "downpour",
              "hurricane", "tempest"),
    "snow": ("snow", "snowy", "snowing", "blizzard", "snowfall", "snowstorm"),
    "fog": ("fog", "foggy", "mist", "misty", "haze", "hazy"),
    "clear": ("sunny", "sunshine", "clear sky", "clear skies", "cloudless", "bright sun"),
}
# A calm mood is no storm's ("a lighthouse in a storm, ..., serene mood"): for the weather guard, it is weather.
CALM = {"calm": ("serene", "serenity", "peaceful", "tranquil", "tranquility", "calm", "placid")}
WEATHER_CONFLICTS = {"clear": {"storm", "snow", "fog"}, "storm": {"clear", "calm"}, "snow": {"clear"},
                     "fog": {"clear"}, "calm": {"storm"}}
WEATHER_AND_CALM = {**WEATHER, **CALM}
# Genres: what kind of world the picture shows. A far idea's retrieved prompts are about other things, and their
# genre is theirs ("fantasy art" for a pillow on a nightstand); ``library.ranker.Vote`` keeps out those the idea
# does not name.
GENRES = {
    "fantasy": ("fantasy", "magic", "magical", "mythical", "mythological"),
    "sci-fi": ("sci-fi", "scifi", "sci fi", "science fiction", "futuristic", "space opera"),
    "cyberpunk": ("cyberpunk", "synthwave", "vaporwave"),
    "steampunk": ("steampunk", "dieselpunk"),
    "horror": ("horror", "lovecraftian", "eldritch", "gothic"),
    "post-apocalyptic": ("post-apocalyptic", "apocalyptic", "dystopian"),
    "medieval": ("medieval",),
}
INTENSIFIERS = ("very", "highly", "extremely", "ultra", "super", "hyper", "insanely", "incredibly", "really")
# The words of a boilerplate token of one kind, around its head word ("lots of detail", "featured on artstation").
_DETAIL = r"(detail|detailed|details|intricate|intricately|intricacy|hyperdetailed)"
_DETAIL_FILL = r"(very|highly|ultra|super|extremely|hyper|insanely|incredibly|high|fine|finely|lots|of|and|with|level)"
SITES = ("artstation", "deviantart", "behance", "cgsociety", "pixiv")
_SITE_FILL = rf"(trending|trend|featured|popular|on|from|hq|hd|contest|winner|{'|'.join(SITES)})"
# Technical tokens of which one per kind is enough.
KINDS = {
    # "8k hdr" and "4k" are two resolution tokens as much as "8k" and "4k" are
    "resolution": re.compile(r"^((\d+ ?k|uhd|hd|hdr|fhd|1080p)( (uhd|hd|hdr|resolution))*|ultra hd|full hd|"
                             r"high resolution|ultra high resolution|hi-res|highres)$"),
    "render engine": re.compile(r"^((rendered in |made in |render )?(octane|octante|unreal engine( \d)?|vray|v-ray|"
                                r"redshift|cinema 4d|blender)( render(er|ing)?)?)$"),
    # One film stock or photographic process: Kodachrome and a daguerreotype are two different pictures.
    "film stock": re.compile(r"^((shot on |on )?(kodachrome|ektachrome|portra( \d+)?|kodak( \w+)?|fujifilm( \w+)?|"
                             r"cinestill( \w+)?|ilford( \w+)?|polaroid|daguerreotype|daguerrotype|tintype)"
                             r"( film| photo| photograph)?)$"),
    # One "detailed": "ultra detailed", "very high detail", "lots of detail" and "insanely detailed and intricate"
    # say it four times.
    "detail": re.compile(rf"^(\w+ )?({_DETAIL_FILL}[ -])*{_DETAIL}([ -]({_DETAIL_FILL}|{_DETAIL}))*$"),
    # One mention of each art site: "artstation hq", "trending artstation" and "artstation trend" after "trending on
    # artstation" say it again, as does "deviantart artstation" (which names two).
    **{site: re.compile(rf"^({_SITE_FILL} )*{site}( {_SITE_FILL})*$") for site in SITES},
    # One claim of realism: "photorealistic, realistic, hyperrealistic" is one word said three ways.
    "realism": re.compile(rf"^(({'|'.join(INTENSIFIERS)})[ -])*({'|'.join(REALISTIC)})$"),
}
# What a colour may qualify without adding to the subject: words this much of a modifier ("background" 0.74,
# "tones" 0.84, "glow" 0.82; "hair" is 0.50, "eyes" 0.61, "skin" 0.67).
PALETTE_WORD = 0.7
# Below this modifier share a word names a thing, and "<thing> style" brings the thing ("samurai" 0.14, "car"
# 0.16, "dog" 0.10); genre words sit above it ("street" 0.31, "steampunk" 0.32, "food" 0.43, "fantasy" 0.73).
THING_WORD = 0.25
GENERIC_SHARE = 1e-3  # an uncategorised phrase in fewer prompts than this (about 800 of 793k) is scene content
# The head word of a genre phrase ("food photography", "fantasy art"): a style, not subject matter.
GENRE_HEADS = frozenset({"photography", "photograph", "photo", "painting", "art", "artwork", "render",
                         "rendering", "illustration", "drawing", "sketch", "style", "design", "poster", "print",
                         "aesthetic", "shot", "photoshoot", "cover", "concept"})


# How the picture is framed is the director's choice too, never subject matter ("close-up", "side view", "in
# focus"), though ideas use these words more than modifiers do ("close" 0.37, "side" 0.42). Framings that
# presume a figure ("portrait", "full body", "headshot") stay subject matter: a plate of pasta has none.
FRAMING_WORDS = frozenset({"close", "up", "close-up", "closeup", "shot", "view", "angle", "side", "front", "frame",
                           "framed", "focus", "macro", "centered", "centred", "zoom", "zoomed", "wide"})
LOOK_WORDS = frozenset(w for terms in (COLOURS, *TIMES.values(), *WEATHER.values(), *MEDIA.values()) for t in terms
                       for w in t.split()) | {"golden", "colors", "colours", "colored", "coloured"} | FRAMING_WORDS
# A phrase that begins like the tail of another ("and turner" from "by x and turner"): the parser cut it.
FRAGMENT = re.compile(r"^(and|or|from|of|with|for|to|the|a|an|as|but|than|into)\s")


@dataclass(frozen=True)
class Fault:
    guard: str  # format | medium | colour | time | weather | invented | redundant
    phrase: str
    why: str


def families(text: str, table: dict[str, Iterable[str]]) -> list[str]:
    """The families of ``table`` whose words ``text`` names (whole words), in table order."""
    low = join_digits(text.lower())  # once, not once per term: the guards run this on every candidate
    return [name for name, terms in table.items() if any(contains(low, t, joined=True) for t in terms)]


ART_FORM = re.compile(r"\s(art|artwork)$")


def phrase_media(phrase: str) -> list[str]:
    """The medium families an added phrase names. A phrase that ends in "art" and names no family is an art
    form, drawn or painted, not photographed ("psychedelic art", "fantasy art", "pop art"): illustration."""
    found = families(phrase, MEDIA)
    return found or (["illustration"] if ART_FORM.search(phrase.lower()) else [])


def _look(low: str) -> str | None:
    """"stylised" or "realistic" when the lower-case text says one (and not both), else None."""
    stylised, realistic = (any(contains(low, t) for t in terms) for terms in (STYLISED, REALISTIC))
    return None if stylised == realistic else "stylised" if stylised else "realistic"


def colours_named(text: str, *, golden: bool = True) -> set[str]:
    """The colours ``text`` names ("golden hour" is a time; ``golden``: "golden" counts as gold, as it does
    in an added phrase but not in an idea, where "a golden retriever" sets no palette)."""
    low = join_digits(text.lower().replace("golden hour", ""))
    found = {c for c in COLOURS if contains(low, c, joined=True) or contains(low, c + "ish", joined=True)}
    if golden and contains(low, "golden", joined=True):
        found.add("gold")
    if any(contains(low, a, joined=True) for a in ACHROMATIC):
        found.add("achromatic")
    return found


def tone(text: str, *, golden: bool = True) -> str | None:
    """"achromatic" (black and white, sepia), "colourful" (in full colour, or naming a colour), or None when the
    text says neither or both ("a black and white photo of a red rose")."""
    low = join_digits(text.lower())
    achromatic = [a for a in ACHROMATIC if contains(low, a, joined=True)]
    for a in achromatic:  # "black and white" names no black or white
        low = re.sub(rf"(?<!\w){a}(?!\w)", " ", low)
    colourful = bool(colours_named(low, golden=golden)) or any(contains(low, c, joined=True) for c in COLOURFUL)
    if colourful == bool(achromatic):
        return None
    return "colourful" if colourful else "achromatic"


def invented(phrase: str, idea: str) -> list[str]:
    """The words by which ``phrase`` adds subject matter to ``idea`` (empty: it adds none). Colours, times
    of day, weather, media and framing are the director's choices of look, not subject matter (their own
    guards keep them from contradicting the idea)."""
    low = phrase.lower()
    if low in vocabulary() or low.startswith(("by ", "art by ", "in the style of ")):
        return []
    found = [w for w in subject_words(low, idea) if w not in LOOK_WORDS]
    said = set(words(idea))
    unsaid = [w for w in words(low) if w not in said and w not in STOPWORDS and w not in LOOK_WORDS]
    if not found and colours_named(low) - {"achromatic"}:
        # A colour qualifies a palette ("red background", "blue tones", "golden glow") or the subject ("black
        # hair", "blue eyes" for an old man who has neither yet): what it qualifies must be a modifier word.
        found = [w for w in unsaid if (modifier_share(w) or 0.0) < PALETTE_WORD]
    if found and words(low)[-1] in GENRE_HEADS and len(words(low)) <= 3 and not any(
            (modifier_share(w) or 1.0) < THING_WORD for w in found):
        return []  # "food photography", "fantasy art": a genre of the whole picture, not "samurai style"
    if not found and classify(low) == "subject" and phrase_share(low) < GENERIC_SHARE:
        # No category claims it and few prompts use it: scene content ("mini-skirt", "silver hair",
        # "dripping paint"), not a style word ("smooth" is in 43k prompts, "godrays" in 861).
        found = unsaid
    return found


def admissible(phrase: str, idea: str) -> bool:
    """Whether the invented-matter guard lets ``phrase`` into a direction of ``idea``: an artist, or a phrase
    that adds no subject matter. Of the guards it is the one that depends on no other phrase of the direction,
    so a ranker can leave out what it refuses before it ranks and sizes a direction (``Guards.admits``)."""
    return classify(phrase) == "artist" or not invented(phrase, idea)


# Medium names that say nothing but the family: after a phrase of that family they add no information.
BARE_MEDIA = frozenset({"photo", "photograph", "photography", "painting", "drawing", "sketch", "render", "rendering",
                        "illustration"})


_SCENE_WORDS = frozenset(w for table in (TIMES, WEATHER_AND_CALM) for terms in table.values() for t in terms
                         for w in words(t))


def restated(low: str, said: Iterable[str]) -> str | None:
    """The word of ``said`` (the idea's and the direction's words) whose time of day or weather the lower-case phrase
    ``low`` only says again, or None. Each of its words, stopwords aside, must be a time or weather word
    (``TIMES``, ``WEATHER_AND_CALM``) that one said word begins or is begun by: "snowing" and "snowstorm" say "snow"
    again, "misty" says "mist"; "lightning" in a storm and "sunrise" at dawn say something new, and "heavy snow"
    more."""
    said = [w for w in said if w in _SCENE_WORDS]
    found = None
    for w in words(low):
        if w in STOPWORDS:
            continue
        if w not in _SCENE_WORDS:
            return None
        found = next((s for s in said if w.startswith(s) or s.startswith(w)), None)
        if found is None:
            return None
    return found


def same_kind(a: str, b: str) -> str | None:
    """The kind of technical token (``KINDS``) both lower-case phrases are, or None."""
    return next((kind for kind, pattern in KINDS.items() if pattern.match(a) and pattern.match(b)), None)


def say_the_same(a: str, b: str) -> bool:
    """Whether two phrases are near-duplicates: one contains the other, they match without intensifiers and
    -ing/-s, or they are technical tokens of one kind (the guards' and the metrics' one definition)."""
    a, b = a.lower(), b.lower()
    return _stem(a) == _stem(b) or contains(a, b) or contains(b, a) or same_kind(a, b) is not None


def _stem(phrase: str) -> str:
    """A phrase's comparison key: intensifiers dropped (also when glued on), a trailing -ing/-s taken off each
    word."""
    out = []
    for w in words(phrase):
        if w in INTENSIFIERS:
            continue
        glued = next((i for i in INTENSIFIERS if w.startswith(i) and len(w) > len(i) + 3), None)
        w = w[len(glued):] if glued else w  # "hyperrealistic" is "hyper realistic"
        for suffix in ("ing", "s"):
            if w.endswith(suffix) and len(w) > len(suffix) + 3:
                w = w[: -len(suffix)]
                break
        out.append(w)
    return " ".join(out)


class Guards:
    """The guards for one idea, checking phrases one at a time in rank order (best first), so a selection can
    take the best phrases that pass until it has enough. ``pinned`` phrases (the user's) always pass."""

    def __init__(self, idea: str, *, details: bool = False, pinned: Iterable[str] = ()):
        self.idea, self.details = idea, details
        self.idea_words = words(idea)  # what ``restated`` checks a phrase against, with the accepted phrases' words
        self.pinned = {p.lower() for p in pinned}
        low = idea.lower()
        self.said_media = families(idea, MEDIA)
        self.medium = self.said_media[0] if self.said_media else None  # the direction's family, once known
        self.media = set(self.said_media)  # every family the direction holds so far
        self.paints = [x for x in PAINTS if contains(low, x)]
        processes = families(idea, PROCESSES)
        self.process = processes[0] if len(processes) == 1 else None  # "digital oil painting" says both
        self.colours = colours_named(idea, golden=False)
        self.tone = tone(idea, golden=False)  # "achromatic" or "colourful", once the idea or a phrase says which
        self.said_tone = self.tone is not None
        self.said_look = _look(low)
        self.look = self.said_look or ("realistic" if self.medium == "photo" else None)
        self.painters: list[str] = []  # artists taken before the direction's medium was known
        # The idea's time of day and weather, then the direction's: a phrase may contradict neither.
        self.said_times, self.said_weather = set(families(idea, TIMES)), set(families(idea, WEATHER_AND_CALM))
        self.times, self.weather = set(self.said_times), set(self.said_weather)

    def admits(self, phrase: str) -> bool:
        """Whether ``phrase`` may be ranked at all: pinned, scene details asked for, or ``admissible``."""
        return self.details or phrase.lower() in self.pinned or admissible(phrase, self.idea)

    def check(self, phrase: str, accepted: list[str], *, artist: bool = False) -> tuple[Fault | None, str | None]:
        """(the fault that keeps ``phrase`` out, or None; an accepted phrase it replaces, or None)."""
        low = phrase.lower()
        if low in self.pinned:
            return None, None
        if FRAGMENT.match(low) or all(w in STOPWORDS for w in low.split()):
            return Fault("format", phrase, "a fragment of a longer phrase"), None
        mine = phrase_media(phrase)
        # A family the idea names is the user's choice, never a clash ("photo cartoon ... painting of").
        clash = next(((f, held) for held in self.media for f in mine
                      if f not in self.said_media and frozenset((f, held)) in CLASHES), None)
        if clash:
            whose = "idea" if clash[1] in self.said_media else "direction"
            return Fault("medium", phrase, f"it is {clash[0]}, and the {whose} is {clash[1]}"), None
        look = _look(low)
        if look and self.look and look != self.look:
            return Fault("medium", phrase, f"it is {look}, and the {'idea' if self.said_look else 'direction'} is "
                                           f"{self.look}"), None
        if self.medium == "photo" and artist and "photo" not in mine:
            return Fault("medium", phrase, "a painter's name in a photo direction"), None
        if "photo" in mine and self.painters:  # a better-ranked painter came first: no photo of a painting
            return Fault("medium", phrase, f"it is photo, and the direction has the painter {self.painters[0]}"), None
        other_paint = [x for x in PAINTS if contains(low, x) and x not in self.paints]
        if self.paints and other_paint:
            return Fault("medium", phrase, f"the idea is {self.paints[0]}, not {other_paint[0]}"), None
        other_process = [p for p in families(phrase, PROCESSES) if p != self.process]
        if self.process and other_process:
            return Fault("medium", phrase, f"it is {other_process[0]}, and the idea is {self.process}"), None
        other_colour = colours_named(phrase) - self.colours
        if self.colours and other_colour and not (other_colour == {"gold"} and "yellow" in self.colours):
            return Fault("colour", phrase, f"the idea is {', '.join(sorted(self.colours))}"), None
        shade = tone(phrase)
        if shade and self.tone and shade != self.tone:
            return Fault("colour", phrase, f"it is {shade}, and the {'idea' if self.said_tone else 'direction'} is "
                                           f"{self.tone}"), None
        times = set(families(phrase, TIMES))
        if self.times and times - self.times:
            whose = "idea" if self.said_times else "direction"
            return Fault("time", phrase, f"the {whose} says {' and '.join(sorted(self.times))}"), None
        weather = set(families(phrase, WEATHER_AND_CALM))
        if any(f in WEATHER_CONFLICTS.get(n, ()) for f in weather - self.weather for n in self.weather):
            whose = "idea" if self.said_weather else "direction"
            return Fault("weather", phrase, f"the {whose} says {' and '.join(sorted(self.weather))}"), None
        again = restated(low, [*self.idea_words, *(w for q in accepted for w in words(q))])
        if again:
            whose = "idea" if again in self.idea_words else "direction"
            return Fault("redundant", phrase, f"the {whose} says '{again}' already"), None
        if low in BARE_MEDIA and mine and set(mine) <= self.media:
            whose = "idea" if set(mine) <= set(self.said_media) else "direction"
            return Fault("redundant", phrase, f"the {whose} is {mine[0]} already"), None
        if not self.details and not artist:
            named = invented(phrase, self.idea)
            if named:
                return Fault("invented", phrase, f"it adds {', '.join(named)}, which the idea does not name"), None
        replaced = None
        for q in accepted:
            b = q.lower()
            if _stem(low) == _stem(b) or contains(b, low):
                return Fault("redundant", phrase, f"'{q}' says it"), None
            if contains(low, b) and b not in self.pinned:
                replaced = q  # the more precise phrase takes the other's place
                break
        kind = next((k for q in accepted if q != replaced and (k := same_kind(low, q.lower()))), None)
        if kind:
            return Fault("redundant", phrase, f"one {kind} token is enough"), None
        # A replacement is taken like any phrase: "extremely detailed oil painting" in place of "extremely
        # detailed" brings painting, and no render may follow it.
        if mine and self.medium is None:
            self.medium = mine[0]  # the best-ranked medium decides the direction's family
        self.media.update(mine)  # and no later phrase may clash with any family taken
        if look and self.look is None:
            self.look = look
        self.tone = self.tone or shade
        if artist and "photo" not in mine:
            self.painters.append(phrase)
        self.times |= times  # "dusk" taken: no "dramatic sunrise" after it
        self.weather |= weather
        return None, replaced


def ranked_phrases(direction: Direction) -> list[tuple[str, str]]:
    """(category, phrase) in the order the guards judge them: media first (they set the family), then the
    rest in prompt order; within a part, the selection's rank."""
    order = ("medium", "style", "artist", "lighting", "color", "composition", "mood", "booster", "subject")
    rest = [c for c in direction.parts if c not in order]
    return [(c, p) for c in (*order, *rest) for p in direction.parts.get(c, [])]


def judge(guards: Guards, phrases: Iterable[tuple[str, str]]) -> list[Fault]:
    """Every fault among (category, phrase) pairs judged in order, each against those accepted before it (a
    phrase that a more precise later one replaces counts as redundant too)."""
    accepted: list[str] = []
    out = []
    for category, phrase in phrases:
        found, replaced = guards.check(phrase, accepted, artist=category == "artist")
        if found:
            out.append(found)
            continue
        if replaced:
            accepted.remove(replaced)
            out.append(Fault("redundant", replaced, f"'{phrase}' says it, more precisely"))
        accepted.append(phrase)
    return out


def faults(direction: Direction, *, details: bool = False) -> list[Fault]:
    """Every fault of ``direction``'s added phrases: what ``apply_guards`` drops."""
    return judge(Guards(direction.idea, details=details, pinned=direction.pinned), ranked_phrases(direction))


def apply_guards(direction: Direction, notes: list[str], *, details: bool = False) -> list[Fault]:
    """Drop every faulty phrase from ``direction`` and say why in ``notes``; returns the faults."""
    found = faults(direction, details=details)
    gone = {f.phrase for f in found}
    for category in list(direction.parts):
        direction.parts[category] = [p for p in direction.parts[category] if p not in gone]
        if not direction.parts[category]:
            del direction.parts[category]
    for f in found:
        notes.append(f"dropped '{f.phrase}' ({f.guard}): {f.why}")
    return found


# What a direction of each medium family should keep out: the families it must not look like.
OPPOSITES = {
    "photo": ("painting", "drawing", "illustration", "cartoon", "3d render", "cgi"),
    "painting": ("photo", "photograph", "3d render", "cgi"),
    "render": ("photo", "painting", "sketch"),
    "drawing": ("photo", "3d render", "color photograph"),
    "illustration": ("photo", "photograph", "3d render"),
}


def direction_medium(direction: Direction) -> str | None:
    """The direction's medium family: the idea's, else its best-ranked medium phrase's."""
    said = families(direction.idea, MEDIA)
    if said:
        return said[0]
    return next((f for _, p in ranked_phrases(direction) for f in phrase_media(p)), None)


def negative_prompt(direction: Direction, generic: Iterable[str]) -> list[str]:
    """The generic failure list, then what opposes the direction's medium; never a phrase or a medium family
    the direction itself holds (a user who requires "oil painting" in a photo idea gets no "painting" in the
    negative, a painting with "octane render" no "3d render")."""
    said = " ".join([direction.idea, *direction.phrases()]).lower()
    present = set(families(said, MEDIA))  # a painting with render phrases negates no render
    out = list(generic)
    for term in OPPOSITES.get(direction_medium(direction), ()):
        if not contains(said, term) and term not in out and not set(families(term, MEDIA)) & present:
            out.append(term)
    return out
