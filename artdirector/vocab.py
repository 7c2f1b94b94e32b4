"""Category vocabularies and phrase classification.

The shipped lists (``data/vocab``, each with its licence) are merged into one table of
``phrase -> (category, weight)``. Weights are NeuroPrompts' DiffusionDB frequency counts where known, and a
small constant for the curated lists that carry none, so "most used first" means something.

Classifying a phrase the LM wrote: an exact vocabulary hit wins; else keyword rules (documented below) that
reflect how prompt writers phrase each category; else the phrase is a detail of the subject.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# The parts of a direction, in prompt order. "subject" holds details of the user's subject the director
# added; the idea itself is kept apart, verbatim.
CATEGORIES = ("subject", "medium", "style", "artist", "lighting", "color", "composition", "mood", "booster")
VIDEO_CATEGORIES = ("motion", "camera", "pacing")

# Which shipped list feeds which category; the first file to claim a phrase decides its category, so the
# weighted NeuroPrompts table comes first.
_NEUROPROMPTS = {
    "styles": "style",
    "artists": "artist",
    "formats": "medium",
    "perspective": "composition",
    "booster": "booster",
    "vibe": "mood",
}
_LISTS = (
    ("dynamicprompts_parrotzone/light.txt", "lighting"),
    ("dynamicprompts_parrotzone/color.txt", "color"),
    ("dynamicprompts_parrotzone/medium.txt", "medium"),
    ("dynamicprompts_parrotzone/photography.txt", "medium"),
    ("dynamicprompts_parrotzone/perspective.txt", "composition"),
    ("dynamicprompts_parrotzone/mood.txt", "mood"),
    ("dynamicprompts_parrotzone/quality.txt", "booster"),
    ("dynamicprompts_parrotzone/style.txt", "style"),
    ("dynamicprompts_parrotzone/art-movement.txt", "style"),
    ("dynamicprompts_parrotzone/aesthetic.txt", "style"),
    ("clip_interrogator/mediums.txt", "medium"),
    ("clip_interrogator/movements.txt", "style"),
    ("clip_interrogator/artists.txt", "artist"),
)
_LIST_WEIGHT = 100  # curated lists without counts rank below every counted NeuroPrompts term

# Keyword rules, tried in order on the lower-cased phrase. Each reflects a regular way prompt writers
# phrase a category: "by X" names an artist, "... lighting" a light, "... colors" a palette, and so on.
# The look words among the most used modifiers of the train split that no list claims ("smooth", "chiaroscuro",
# "art station", "deep focus", "film grain"...) are here too: left to "subject", a direction listed its
# lighting and boosters as subject details. A lone "sharp" or "smooth" is a booster, "sharp teeth" is not.
_RULE_WORDS = {  # category: alternatives, joined into one pattern each below
    "booster": r"\d+k|hd|uhd|hdr|hdri|(hyper|fine |high |extreme )?details?|(hyper)?detailed|quality|resolution|"
               r"masterpiece|award|trending|art ?station\w*|pixiv|deviantart|cgsociety|behance|pinterest|"
               r"featured on \w+|unreal( engine| \d)?|octane|vray|cinema 4d|blender|ray ?trac\w*|path traced|"
               r"ambient occlusion|subsurface scattering|post[- ]?processed|sharp focus|hard focus|^(sharp|smooth)$|"
               r"intricate|4k|8k|(ultra|hyper)?realistic|lifelike|very coherent|no blur|high definition",
    "lighting": r"light(s|ing)?|lit|glow(ing)?|shadows?|sun ?(set|rise|light)|golden hour|neon|moonlight|"
                r"illuminat\w*|rim light|backlit|volumetric|chiaroscuro|god ?rays|sunbeams|spotlight",
    "color": r"colou?rs?|colou?rful|palette|tones?|hues?|monochrom\w*|pastel|"
             r"red|blue|green|teal|gold(en)?|purple|orange|pink|yellow|black and white",
    "composition": r"shot|angle|view|close[- ]?up|portrait|composition|perspective|symmetr\w*|lens|\d+ ?mm|bokeh|"
                   r"depth of field|wide|panoram\w*|centered|framing|rule of thirds|(full|upper) body|headshot|"
                   r"^macro$|(deep|soft|selective) focus|aperture|f ?/? ?\d+(\.\d+)?",
    "medium": r"painting|photo(graph(y)?)?|illustration|render(ing)?|drawing|sketch|watercolou?r|oil|canvas|"
              r"digital art|concept art|3d|poster|matte|print|pencil|(movie|film) still|film grain|polaroid|"
              r"kodachrome|ektachrome|dslr|cgi|cell?[- ]shaded|character (design|art)|key art|etching|engraving|"
              r"woodcut|linocut|lithograph\w*|charcoal|gouache|acrylic|tempera|fresco|ink|mosaic|comic( book)?s?",
    "mood": r"mood(y)?|atmospher\w*|dramatic|cinematic|serene|eerie|dark|epic|melanchol\w*|peaceful|mysterious|"
            r"dreamy|ethereal|whimsical|gloomy|cozy|creepy|scary|ominous|terrifying|unsettling|mystical|majestic|"
            r"divine|sense of awe",
}
_LIGHT_HEAD = re.compile(r"\b(lighting|light|lights|backlight|backlit|glow|illumination)$")
_RULES = (
    ("artist", re.compile(r"^(by|in the style of|art by|artwork by|painted by|photographed by)\s")),
    *((category, re.compile(rf"\b({words})\b")) for category, words in _RULE_WORDS.items()),
    ("style", re.compile(r"(\bstyle\b|punk\b|ism\b|esque\b|\baesthetic\b|\bsurreal\b|\bfantasy\b|\banime\b|"
                         r"\bmanga\b)")),
)


@dataclass(frozen=True)
class VocabEntry:
    phrase: str
    category: str
    weight: int


def _read(name: str) -> str:
    return resources.files("artdirector.data").joinpath("vocab", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, VocabEntry]:
    """All shipped vocabulary, keyed by lower-cased phrase."""
    table: dict[str, VocabEntry] = {}
    counted = json.loads(_read("neuroprompts_categories.json"))
    for group, category in _NEUROPROMPTS.items():
        for phrase, count in counted[group].items():
            key = phrase.strip().lower()
            table.setdefault(key, VocabEntry(key, category, int(count)))
    for name, category in _LISTS:
        for line in _read(name).splitlines():
            key = line.strip().lower()
            if key and not key.startswith("#"):
                table.setdefault(key, VocabEntry(key, category, _LIST_WEIGHT))
    return table


def category_vocab(category: str) -> list[VocabEntry]:
    """A category's phrases, most used first."""
    entries = [e for e in vocabulary().values() if e.category == category]
    return sorted(entries, key=lambda e: (-e.weight, e.phrase))


def negative_vocab() -> list[str]:
    return [w.strip() for w in _read("clip_interrogator/negative.txt").splitlines() if w.strip()]


def classify(phrase: str) -> str:
    """The category a modifier phrase belongs to; ``subject`` when nothing claims it."""
    key = phrase.strip().lower()
    hit = vocabulary().get(key)
    if hit and hit.category == "booster" and _LIGHT_HEAD.search(key):
        return "lighting"  # NeuroPrompts files "studio lighting" as a booster; it says how the scene is lit
    if hit:
        return hit.category
    if key.startswith("by "):
        return "artist"
    for category, rule in _RULES:
        if rule.search(key):
            return category
    return "subject"
