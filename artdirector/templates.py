"""Templates: dynamicprompts syntax expanded into ideas, wildcards the user lacks written by the director's LM.

``a {red|blue} {car|bicycle} in __place__`` is expanded by dynamicprompts itself (its parser, its random and
combinatorial generators, its wildcard files) — random expansions are seed-stable, combinatorial ones exact.
A wildcard with no values in the wildcard folder is **filled**: the LM is asked, in the context of the
template, for ``FILL`` entries of that name; the usable lines (short, no template syntax, no duplicates) are
written to ``<folder>/<name>.txt`` under a ``#`` comment saying they were generated (dynamicprompts skips
comment lines), so the user can edit the file and every later run reads it instead of asking again. Then each
expansion is directed like any idea, its negative prompt with it. ``ArtDirectorGenerator`` is the same behind
dynamicprompts' ``PromptGenerator`` interface, for code that already drives dynamicprompts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from dynamicprompts.generators.promptgenerator import PromptGenerator

from artdirector.errors import BadInput

FILL = 12  # entries written for a missing wildcard
SAMPLES = 32  # one-line samples drawn to find them (most frequent first)
MIN_ENTRIES = 3  # fewer usable lines than this: refused, with what to do
MAX_WORDS = 6
FRAME = (  # a numbered list, shown once: a 135M model copies the format, and samples one item per line
    ("system", "You write lists for image prompt templates. One item per line, numbered, a few words each."),
    ("user", "Template: a portrait of __animal__\nList 6 different animal."),
    ("assistant", "1. a red fox\n2. an old grey wolf\n3. a snowy owl\n4. a tabby cat\n5. a brown bear\n"
                  "6. a white horse"),
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s*")
_GLOB = re.compile(r"[*?\[\]]")


def wildcard_folder(folder: str | Path | None) -> Path:
    """``--wildcards DIR``, or ``wildcards`` in the user directory."""
    from artdirector.config import user_dir

    path = Path(folder) if folder else user_dir() / "wildcards"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wildcards_in(command) -> list[str]:
    """Every wildcard name a parsed template uses (dynamicprompts' command tree, walked by its fields)."""
    from dynamicprompts.commands import WildcardCommand

    if isinstance(command, WildcardCommand):
        return [command.wildcard] if isinstance(command.wildcard, str) else []
    found = []
    for name in ("tokens", "variants", "value"):
        child = getattr(command, name, None)
        for item in child if isinstance(child, (list, tuple)) else [child] if child is not None else []:
            found += _wildcards_in(item)
    return found


def missing_wildcards(template: str, manager) -> list[str]:
    """The wildcards of ``template`` that the manager has no values for (globs are left to dynamicprompts)."""
    from dynamicprompts.parser.parse import parse

    try:
        tree = parse(template)
    except Exception as e:  # dynamicprompts raises pyparsing's errors for a malformed template
        raise BadInput(f"cannot read the template {template!r}: {e}") from None
    names = dict.fromkeys(_wildcards_in(tree))
    return [n for n in names if not _GLOB.search(n) and not manager.get_values(n).items]


def parse_entries(texts: Sequence[str], limit: int = FILL, *, lead: str = "") -> list[str]:
    """The usable entries among the LM's lines, most frequent first: bullets, numbers and markdown stripped,
    the template's own words before the wildcard (``lead``: "a bowl of") not repeated, short, no template
    syntax."""
    from collections import Counter

    from artdirector.text import lower_key

    counts, first = Counter(), {}
    for line in (x for text in texts for x in text.splitlines()):
        entry = _BULLET.sub("", line).replace("*", "").strip().strip("\"'.,;").strip()
        if lead and lower_key(entry).startswith(lead + " "):
            entry = entry[len(lead):].strip()
        if not entry or len(entry.split()) > MAX_WORDS or any(c in entry for c in "{}|_#:"):
            continue
        key = lower_key(entry)
        counts[key] += 1
        first.setdefault(key, entry)
    ranked = sorted(counts, key=lambda k: -counts[k])  # stable: ties keep the order they were drawn in
    return [first[k] for k in ranked[:limit]]


def _lead(template: str, name: str, wrap: str = "__") -> str:
    """The (up to three) words the template puts right before the wildcard, lower-cased."""
    from artdirector.text import lower_key

    before = template.split(f"{wrap}{name}{wrap}", 1)[0]
    words = re.split(r"[\s{}|]+", before.strip())
    return lower_key(" ".join(w for w in words[-3:] if w)) if before.strip() and not before.endswith(("{", "|")) \
        else ""


def fill_wildcard(name: str, template: str, lm, folder: Path, n: int = FILL, seed: int = 0) -> list[str]:
    """Ask ``lm`` (without its adapter) for ``n`` entries of wildcard ``name`` in the context of ``template``:
    ``SAMPLES`` one-line samples of the list's first item, the most frequent usable ones kept. Written to
    ``folder/<name>.txt`` under a note that they were generated; returned."""
    from artdirector.lm.base import GenerationConfig

    what = name.rsplit("/", 1)[-1].replace("_", " ").replace("-", " ")
    config = GenerationConfig(max_new_tokens=12, temperature=0.7, top_p=0.9, seed=seed, stop=("\n",),
                              presence_penalty=0.0, no_repeat_ngram_size=0)
    with lm.plain():
        prompt = lm.format_chat([*FRAME, ("user", f"Template: {template}\nList {n} different {what}.")])
        drawn = lm.generate([prompt] * SAMPLES, config, prefixes=["1."] * SAMPLES)
    entries = parse_entries([g.text for g in drawn], n, lead=_lead(template, name))
    if len(entries) < MIN_ENTRIES:
        raise BadInput(f"the director could not write entries for __{name}__ (it wrote {len(entries)}): put them "
                       f"one per line in {folder / (name + '.txt')}")
    path = folder / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    note = (f"# generated by artdirector ({getattr(lm, 'name', 'lm')}, adapter off) for the template: {template}\n"
            "# edit or replace these lines freely; this file is read instead of asking again\n")
    path.write_text(note + "".join(e + "\n" for e in entries), encoding="utf-8")
    return entries


def expand(template: str, *, count: int = 1, combinatorial: bool = False, seed: int = 0,
           wildcards: str | Path | None = None, lm=None, notes: list | None = None) -> list[str]:
    """The ideas ``template`` expands to: ``count`` random ones (seed-stable), or with ``combinatorial`` every
    combination (at most ``count``). Missing wildcards are filled by ``lm`` first (refused without one);
    ``lm`` may be a function that returns the LM, called only when a wildcard is missing."""
    from dynamicprompts.generators import CombinatorialPromptGenerator, RandomPromptGenerator
    from dynamicprompts.wildcards import WildcardManager

    folder = wildcard_folder(wildcards)
    manager = WildcardManager(folder)
    for _ in range(3):  # a generated or user file may itself name wildcards that do not exist yet
        missing = missing_wildcards(template, manager) + [
            m for w in _wildcards_in_values(template, manager) for m in missing_wildcards(w, manager)]
        if not missing:
            break
        if lm is None:
            raise BadInput(f"no wildcard file for {', '.join('__' + m + '__' for m in missing)} in {folder}")
        if callable(lm) and not hasattr(lm, "generate"):
            lm = lm()
        for name in dict.fromkeys(missing):
            fill_wildcard(name, template, lm, folder, seed=seed)
            if notes is not None:
                notes.append(f"__{name}__ had no wildcard file: the director wrote {folder / (name + '.txt')} "
                             "(edit it; later runs read it)")
        manager.clear_cache()
    if combinatorial:
        ideas = CombinatorialPromptGenerator(wildcard_manager=manager).generate(template, max_prompts=count)
    else:
        ideas = RandomPromptGenerator(wildcard_manager=manager, seed=seed).generate(template, count)
    return [" ".join(i.split()) for i in ideas]


def _wildcards_in_values(template: str, manager) -> list[str]:
    """The values of the wildcards ``template`` uses that are themselves templates (hold a wildcard)."""
    from dynamicprompts.parser.parse import parse

    wrap = manager.wildcard_wrap
    values = []
    for name in dict.fromkeys(_wildcards_in(parse(template))):
        if not _GLOB.search(name):
            values += [v for v in manager.get_values(name).items if isinstance(v, str) and wrap in v]
    return values


class ArtDirectorGenerator(PromptGenerator):
    """dynamicprompts' ``PromptGenerator`` interface (``generate(template, num_images) -> list[str]``) with the
    director behind it: each expansion directed; its negative prompt in ``negative_prompts`` (same order).
    ``seed`` picks the expansions and the directions' few-shot sets and samples alike."""

    def __init__(self, director, *, target: str = "sd15", combinatorial: bool = False, seed: int = 0,
                 wildcards: str | Path | None = None, **direct_options):
        self.director, self.target, self.combinatorial, self.seed = director, target, combinatorial, seed
        self.wildcards, self.options = wildcards, direct_options
        self.negative_prompts: list[str] = []
        self.results: list = []

    def generate(self, template: str, num_images: int = 1, **_ignored) -> list[str]:
        notes: list[str] = []
        ideas = expand(template, count=num_images, combinatorial=self.combinatorial, seed=self.seed,
                       wildcards=self.wildcards, lm=self.director.lm, notes=notes)
        self.results = self.director.direct_many(ideas, target=self.target, seed=self.seed,
                                                 **self.options) if ideas else []
        for result in self.results:
            result.notes[:0] = notes
        self.negative_prompts = [r.rendered.negative_prompt for r in self.results]
        return [r.prompt for r in self.results]

