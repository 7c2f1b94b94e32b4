"""Turning what a small LM wrote into clean modifier phrases.

A 135M-parameter model drifts: it may start a new "Idea:" line, write a sentence instead of tags, repeat a
word, or emit markup. The parser keeps only phrases that look like prompt modifiers and says how many it
rejected; the director falls back to vocabulary tags when too few survive, so garbage never reaches the
rendered prompt.

Candidates (the model's phrases and the retrieved prompts', never the user's own text) also have two slips of
human prompt writers mended (``repaired``), each checked against how a million real prompts spell the phrase
(``lexicon.phrase_share``): "lightning" typed for "lighting" ("cinematic lightning": 707 prompts, "cinematic
lighting" 28,072), and "hq"/"hd" glued to a word ("artstationhq", which hides that it repeats "artstation").
DiffusionDB's tokenizer spaced hyphens out ("sci - fi", "close - up"); candidates have them closed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from artdirector.safety import is_unsafe
from artdirector.text import fold_space, join_digits
from artdirector.vocab import vocabulary

MAX_WORDS = 6  # longer "phrases" are sentences, not modifiers
_CUT = re.compile(r"(?i)(\bidea\s*:|\bprompt\s*:|\bnegative\s*:|<\||\n)")
_SPLIT = re.compile(r"[,;|]|\.(?:\s|$)")
_WEIGHT = re.compile(r"^\((.*?)(?::[\d.]+)?\)$|^\[(.*)\]$")
_ALLOWED = re.compile(r"^[\w][\w '&\-./+]*$")
# Numbers prompt writers really use: output resolutions and lens focal lengths.
_NUMERIC_OK = re.compile(r"^((4|8|16) ?k( uhd| resolution| hdr)?|[1-9]\d{1,2} ?mm( lens| photography| film)?|1080p|"
                         r"(19|20)\d0s|\d ?d( render)?)$")


@dataclass
class Parsed:
    phrases: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)




def _clean(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip().strip("\"'`*_ ")
    m = _WEIGHT.match(text)
    if m:
        text = (m.group(1) or m.group(2) or "").strip()
    return join_digits(fold_space(text).lower())  # "8 k" is the vocabulary's "8k"


def _acceptable(phrase: str) -> bool:
    words = phrase.split()
    if not words or len(words) > MAX_WORDS or len(phrase) < 2:
        return False
    if not _ALLOWED.match(phrase) or not re.search(r"[a-z]", phrase):
        return False
    if "http" in phrase or "www." in phrase:
        return False
    if len(words) >= 3 and len(set(words)) <= len(words) / 2:
        return False  # "very very very detailed": a repetition loop
    if any(ch.isdigit() for ch in phrase) and phrase not in vocabulary() and not _NUMERIC_OK.match(phrase):
        return False  # small models drift into counting ("360, 480, 560", "24 k", "100x10")
    return not is_unsafe(phrase)


# "lightning" is mended to "lighting" where real prompts spell the phrase so this many times more often ("red
# lightning" stays: "red lighting" is only twice as common).
MISSPELT = 10
_GLUED = re.compile(r"\b([a-z]{4,})(hq|hd)\b")


_SPACED_HYPHEN = re.compile(r"(?<=[a-z]) - (?=[a-z])")


def repaired(phrase: str) -> str:
    """``phrase`` with "lightning" for "lighting" and a glued "hq"/"hd" mended, where real prompts say so, and
    DiffusionDB's spaced hyphens closed ("sci - fi" -> "sci-fi", as its spaced digits are joined)."""
    from artdirector.lexicon import phrase_share

    phrase = _SPACED_HYPHEN.sub("-", phrase)
    if "lightning" in phrase:
        lighting = phrase.replace("lightning", "lighting")
        if phrase_share(lighting) >= MISSPELT * max(phrase_share(phrase), 1e-9):
            phrase = lighting
    spaced = _GLUED.sub(r"\1 \2", phrase)
    if spaced != phrase and all(phrase_share(f"{m.group(1)} {m.group(2)}") for m in _GLUED.finditer(phrase)):
        phrase = spaced
    return phrase


def parse_modifiers(text: str, idea: str = "", *, repair: bool = False) -> Parsed:
    """Split generated text into modifier phrases; drop duplicates, the idea itself and anything unclean.
    ``repair``: mend the common slips of ``repaired`` (for candidates, never for the user's own text)."""
    text = _CUT.split(text, maxsplit=1)[0]
    out = Parsed()
    seen = {idea.strip().lower()}
    for raw in _SPLIT.split(text):
        phrase = _clean(raw)
        phrase = repaired(phrase) if repair and phrase else phrase
        if not phrase or phrase in seen:
            continue
        seen.add(phrase)
        (out.phrases if _acceptable(phrase) else out.rejected).append(phrase)
    return out


def split_prompt(prompt: str) -> tuple[str, dict[str, list[str]]]:
    """A written prompt as (idea, parts): the text before the first comma, then its modifiers by category."""
    from artdirector.vocab import classify

    idea, _, rest = prompt.partition(",")
    parts: dict[str, list[str]] = {}
    for phrase in parse_modifiers(", " + rest).phrases if rest else []:
        parts.setdefault(classify(phrase), []).append(phrase)
    return idea.strip(), parts
