"""Word roles from real prompts: is a word subject matter, or a modifier word?

Prompt writers put what they want to see first ("a red car in the rain") and how it should look after the
first comma ("digital painting, cinematic lighting, 8k"). Over a million prompts, each word's share of use in
the two positions separates the two roles with no tagger: "spaghetti" (0.10), "car" (0.16), "helmet" (0.39)
live in ideas; "smooth" (0.96), "cinematic" (0.86), "godrays" (0.96) in modifiers. ``modifier_share`` is the
word's rate among modifier-position words divided by the sum of its rates in the two positions (so the
positions' different sizes cancel). A phrase that names a subject-position word the idea does not say is new
subject matter (``guards``).

Why hand-written: a part-of-speech tagger would say "noun" for "lighting" and "bokeh" too; what matters here
is the role a word plays in prompts, which only prompts can tell. Built once from the 1.07M Discord prompts
(``artdirector data lexicon``), words seen at least ``MIN_COUNT`` times; the table ships in
``data/vocab/word_roles.tsv``. Beside it, ``modifier_counts.tsv`` counts how many prompts use each modifier
phrase (``phrase_share``): how generic a phrase is, which the retrieval vote weighs.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from pathlib import Path

WORD = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")
MIN_COUNT = 20
MIN_PHRASE_COUNT = 30
ROLES, COUNTS = "word_roles.tsv", "modifier_counts.tsv"
SUBJECT_BELOW = 0.5  # a word with a smaller modifier share plays the subject's role
# Function words and prompt glue: never subject matter on their own.
STOPWORDS = frozenset("""a an the and or of in on at to for with from by as into onto over under near behind
above below between through inside outside its it is are be being his her their my your our this that these
those very highly ultra super extremely hyper more most much many some no not very who which while""".split())


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def build(source: str | Path, out_dir: str | Path, *, min_count: int = MIN_COUNT,
          min_phrase_count: int = MIN_PHRASE_COUNT) -> dict[str, int]:
    """From ``source`` (a TSV, optionally gzipped, with a ``prompt`` column) write both tables to
    ``out_dir``: each word's prompts in the idea position (before the first comma) and the modifier
    position (after it) as ``word_roles.tsv``, and each modifier phrase's prompts (phrases as the parser
    cleans them) as ``modifier_counts.tsv``. Returns the rows written to each."""
    from artdirector.parse import parse_modifiers
    from artdirector.safety import is_unsafe

    idea, modifier, phrases, with_modifiers = Counter(), Counter(), Counter(), 0
    opener = gzip.open if str(source).endswith(".gz") else open
    csv.field_size_limit(10**7)
    with opener(source, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            head, comma, tail = (row.get("prompt") or "").lower().partition(",")
            idea.update(set(words(head)))
            modifier.update(set(words(tail)))
            if comma:
                with_modifiers += 1
                phrases.update(set(parse_modifiers(", " + tail).phrases))
    n_idea, n_mod = sum(idea.values()), sum(modifier.values())
    roles = []
    for word in sorted(set(idea) | set(modifier)):
        i, m = idea[word], modifier[word]
        if i + m < min_count or is_unsafe(word):
            continue
        roles.append((word, f"{(m / n_mod) / (m / n_mod + i / n_idea):.2f}", str(i + m)))
    counts = [(p, str(c)) for p, c in phrases.most_common() if c >= min_phrase_count and not is_unsafe(p)]
    out_dir = Path(out_dir)
    _write(out_dir / ROLES, "word\tmodifier_share\tprompts", roles)
    _write(out_dir / COUNTS, f"modifier phrase\tprompts using it, of {with_modifiers} prompts with modifiers",
           counts)
    return {ROLES: len(roles), COUNTS: len(counts)}


def _write(path: Path, header: str, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(f"# {header} (built by 'artdirector data lexicon')\n")
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)


def _read(name: str) -> tuple[str, list[list[str]]]:
    text = resources.files("artdirector.data").joinpath(f"vocab/{name}").read_text(encoding="utf-8")
    lines = text.splitlines()
    return lines[0], [line.split("\t") for line in lines[1:] if line]


@lru_cache(maxsize=1)
def _table() -> dict[str, float]:
    return {word: float(share) for word, share, _ in _read(ROLES)[1]}


@lru_cache(maxsize=1)
def _counts() -> tuple[dict[str, int], int]:
    header, rows = _read(COUNTS)
    total = int(re.search(r"of (\d+) prompts", header).group(1))
    return {phrase: int(n) for phrase, n in rows}, total


def phrase_share(phrase: str) -> float:
    """The share of real prompts that use ``phrase`` as a modifier (0 for phrases too rare to be listed):
    how generic it is ("highly detailed" 0.125, "8k" 0.109, "thomas cole" 0.0004)."""
    counts, total = _counts()
    return counts.get(phrase.lower(), 0) / total


def modifier_share(word: str) -> float | None:
    """The word's modifier share, or None for a word too rare to tell."""
    return _table().get(word.lower())


def subject_words(phrase: str, idea: str = "") -> list[str]:
    """The words of ``phrase`` that play the subject's role and that ``idea`` does not say (plural or
    singular). Rare words count as subject matter: a word prompt writers hardly use is no modifier."""
    said = set(words(idea))
    said |= {w[:-1] for w in said if w.endswith("s")} | {w + "s" for w in said}
    out = []
    for w in words(phrase):
        if w in STOPWORDS or w in said or any(ch.isdigit() for ch in w):
            continue
        share = modifier_share(w)
        if share is None or share < SUBJECT_BELOW:
            out.append(w)
    return out
