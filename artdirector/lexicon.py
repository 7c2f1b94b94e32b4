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

``associations``: how much more often prompts whose idea says a word use a modifier phrase than prompts in
general (the lift ``P(phrase | word) / P(phrase)``, its log summed over the idea's words as naive Bayes does,
and its largest single word). Retrieval sees the 48 prompts most like the idea; the counts see every prompt
that shares a word with it. On 200 validation prefixes, the nine phrases it ranks first on its own match the
human's exactly with F1 0.141 (the nine most common phrases: 0.118; the nearest human prompt's: 0.138); the
ranker reads it as two features. Why counts and not a library: a sparse co-occurrence table over the two shipped
vocabularies is a few lines of numpy, and no package computes this lift. Pairs seen fewer than
``MIN_PAIR_COUNT`` times are left out (F1 0.141 -> 0.138, a third of the size; dropping the pairs of negative
lift instead loses what makes common phrases unlikely for some words: 0.10). Built by ``artdirector data
associations`` from the Discord prompts less those that copy a prompt of the given split files
(``corpus.copy_keys``), so that the ranker, which learns on the train split, cannot read its answer in the
counts; the table ships as ``data/vocab/word_modifiers.npz``.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

WORD = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")
MIN_COUNT = 20
MIN_PHRASE_COUNT = 30
MIN_PAIR_COUNT = 3
ROLES, COUNTS, ASSOCIATIONS = "word_roles.tsv", "modifier_counts.tsv", "word_modifiers.npz"
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


def build_associations(source: str | Path, out_dir: str | Path, *, exclude: Sequence[str | Path] = (),
                       min_pair_count: int = MIN_PAIR_COUNT) -> int:
    """Count, over the prompts of ``source`` with modifiers, less those sharing a ``corpus.copy_keys`` key with a
    prompt of the ``exclude`` files, each shipped word in the idea position and each shipped phrase (the tables
    ``build`` wrote to ``out_dir``) and each pair of the two; write ``word_modifiers.npz``. Returns the pairs."""
    from artdirector.corpus import copy_keys
    from artdirector.parse import parse_modifiers
    from artdirector.readers import read_rows

    out_dir = Path(out_dir)
    word_index = {row[0]: i for i, row in enumerate(_rows(out_dir / ROLES))}
    phrase_index = {row[0]: i for i, row in enumerate(_rows(out_dir / COUNTS))}
    banned = {key for path in exclude for _, text, _ in read_rows(path) if text for key in copy_keys(text)}
    word_prompts, phrase_prompts = np.zeros(len(word_index), np.int64), np.zeros(len(phrase_index), np.int64)
    codes, total = [], 0
    for _, text, _ in read_rows(source):
        head, comma, tail = (text or "").lower().partition(",")
        if not comma or banned.intersection(copy_keys(text)):
            continue
        ws = sorted({word_index[w] for w in words(head) if w in word_index and w not in STOPWORDS})
        ps = sorted({phrase_index[p] for p in parse_modifiers(", " + tail).phrases if p in phrase_index})
        total += 1
        word_prompts[ws] += 1
        phrase_prompts[ps] += 1
        if ws and ps:
            codes.append((np.array(ws)[:, None] * len(phrase_index) + np.array(ps)[None, :]).ravel())
    pairs, counts = np.unique(np.concatenate(codes) if codes else np.zeros(0, np.int64), return_counts=True)
    keep = counts >= min_pair_count
    pairs, counts = pairs[keep], counts[keep]
    index = np.uint16 if max(len(word_index), len(phrase_index)) < 1 << 16 else np.uint32
    np.savez_compressed(out_dir / ASSOCIATIONS, words=(pairs // len(phrase_index)).astype(index),
                        phrases=(pairs % len(phrase_index)).astype(index), counts=counts.astype(np.uint32),
                        word_prompts=word_prompts.astype(np.uint32), phrase_prompts=phrase_prompts.astype(np.uint32),
                        total=np.array(total))
    return int(len(pairs))


def _rows(path: Path) -> list[list[str]]:
    return _lines(path)[1]


def _lines(path: Path) -> tuple[str, list[list[str]]]:
    # Parsed once per file version: the shipped tables are read by the word and phrase lookups and by
    # ``Associations.from_folder`` in the same first direction (about 0.6 s each time here).
    stat = path.stat()
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int) -> tuple[str, list[list[str]]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return lines[0], [line.split("\t") for line in lines[1:] if line]


def _write(path: Path, header: str, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(f"# {header} (built by 'artdirector data lexicon')\n")
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)


def _shipped() -> Path:
    return Path(str(resources.files("artdirector.data").joinpath("vocab")))


def _read(name: str) -> tuple[str, list[list[str]]]:
    return _lines(_shipped() / name)


class Associations:
    """The pair counts of ``word_modifiers.npz``, and the lift they give. The pairs are kept as sorted
    ``word * phrases + phrase`` codes looked up by binary search: a direction reads a few hundred cells, and a
    SciPy sparse matrix cost 0.14 s of import and more to build on the first direction of a process."""

    def __init__(self, words: Sequence[str], phrases: Sequence[str], data: Mapping):
        self.words = {w: i for i, w in enumerate(words)}
        self.phrases = {p: i for i, p in enumerate(phrases)}
        codes = data["words"].astype(np.int64) * len(self.phrases) + data["phrases"].astype(np.int64)
        order = np.argsort(codes, kind="stable")  # already sorted as ``build_associations`` writes them
        self.codes, self.counts = codes[order], data["counts"][order].astype(float)
        self.word_prompts = data["word_prompts"].astype(float)
        self.prior = np.maximum(data["phrase_prompts"].astype(float), 1.0) / float(data["total"])

    def _pairs(self, rows: Sequence[int], cols: np.ndarray) -> np.ndarray:
        """The count of each (row word, column phrase) pair, 0 where the table has none."""
        wanted = np.asarray(rows, dtype=np.int64)[:, None] * len(self.phrases) + cols[None, :]
        if not len(self.codes):
            return np.zeros(wanted.shape)
        at = np.minimum(np.searchsorted(self.codes, wanted), len(self.codes) - 1)
        return np.where(self.codes[at] == wanted, self.counts[at], 0.0)

    @classmethod
    def from_folder(cls, folder: str | Path) -> Associations:
        """The three tables ``build`` and ``build_associations`` wrote to ``folder``."""
        folder = Path(folder)
        with np.load(folder / ASSOCIATIONS) as data:
            arrays = {k: data[k] for k in data.files}
        return cls([r[0] for r in _rows(folder / ROLES)], [r[0] for r in _rows(folder / COUNTS)], arrays)

    def lift(self, idea: str, phrases: Sequence[str]) -> np.ndarray:
        """Per phrase: the summed and the largest log lift over the idea's known words (``len(phrases)`` x 2);
        NaN for a phrase the table does not list or an idea with no word it lists."""
        out = np.full((len(phrases), 2), np.nan)
        rows = sorted({self.words[w] for w in words(idea) if w in self.words and w not in STOPWORDS})
        cols = np.array([self.phrases.get(p.lower(), -1) for p in phrases], dtype=np.int64)
        listed = cols >= 0
        if not rows or not listed.any():
            return out
        prior = self.prior[cols[listed]]
        counts = self._pairs(rows, cols[listed])
        # Smoothed toward the prior by one prompt's worth: a word seen in few ideas says little either way.
        lifts = np.log((counts + prior) / (self.word_prompts[rows][:, None] + 1.0)) - np.log(prior)
        out[listed, 0], out[listed, 1] = lifts.sum(axis=0), lifts.max(axis=0)
        return out


@lru_cache(maxsize=1)
def associations() -> Associations | None:
    """The shipped table (None where this installation has none)."""
    return Associations.from_folder(_shipped()) if (_shipped() / ASSOCIATIONS).is_file() else None


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
