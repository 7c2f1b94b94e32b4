"""Training examples from human prompts: NeuroPrompts' prefix extraction.

A human prompt "a castle on a hill, matte painting, by greg rutkowski, trending on artstation" becomes the
example (idea = "a castle on a hill", target = the whole prompt). The model sees the idea in the same chat
frame the director uses at inference (``director.adapter_prompt``) and learns to write the rest.

Rows that cannot teach the format are skipped and counted by reason (with the first line numbers), never
silently: unreadable rows, prompts without at least ``MIN_MODIFIERS`` modifiers, over-long prompts, unsafe
prompts. Each idea keeps at most ``PER_IDEA`` prompts, so a prefix that a user re-rolled fifty times does not
dominate the data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from artdirector.brief import BadInput
from artdirector.corpus import prompt_modifiers, prompt_prefix
from artdirector.safety import is_unsafe
from artdirector.text import fold_space

MIN_MODIFIERS = 2
MAX_CHARS = 400
MAX_IDEA_WORDS = 16
PER_IDEA = 2
COPY_OVERLAP = 0.8  # a retrieved prompt sharing this much of the target's modifier set is the target retyped


@dataclass(frozen=True)
class Example:
    idea: str
    target: str
    neighbours: tuple[str, ...] = ()  # the retrieved prompts shown in the frame (retrieval-augmented training)


@dataclass
class DataReport:
    used: int = 0
    skipped: Counter = field(default_factory=Counter)
    skipped_lines: list[str] = field(default_factory=list)

    def skip(self, line: int, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.skipped_lines) < 20:
            self.skipped_lines.append(f"line {line}: {reason}")

    def to_json(self) -> dict:
        return {"used": self.used, "skipped": dict(self.skipped), "first_skipped": self.skipped_lines}


def load_examples(path: str | Path, *, limit: int | None = None) -> tuple[list[Example], DataReport]:
    """Examples from a TSV/CSV/JSONL/Parquet file with a ``prompt`` column, in file order."""
    from artdirector.library.library import read_rows

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path} does not exist")
    report, examples, per_idea = DataReport(), [], Counter()
    for line, prompt, error in read_rows(path):
        if error:
            report.skip(line, error)
            continue
        prompt = fold_space(prompt or "")
        idea = prompt_prefix(prompt)
        if not prompt or any("\udc80" <= c <= "\udcff" for c in prompt):
            report.skip(line, "empty or not valid UTF-8")
        elif is_unsafe(prompt):
            report.skip(line, "unsafe")
        elif len(prompt) > MAX_CHARS:
            report.skip(line, f"longer than {MAX_CHARS} characters")
        elif not 1 <= len(idea.split()) <= MAX_IDEA_WORDS:
            report.skip(line, f"idea not 1-{MAX_IDEA_WORDS} words")
        elif len(prompt_modifiers(prompt)) < MIN_MODIFIERS:
            report.skip(line, f"fewer than {MIN_MODIFIERS} modifiers")
        elif per_idea[idea.lower()] >= PER_IDEA:
            report.skip(line, f"idea already has {PER_IDEA} prompts")
        else:
            per_idea[idea.lower()] += 1
            examples.append(Example(idea, prompt))
            if limit is not None and len(examples) >= limit:
                break
    report.used = len(examples)
    if not examples:
        raise BadInput(f"{path}: no usable training rows ({dict(report.skipped) or 'file is empty'})")
    return examples, report


def held_out(library, collection: str, idea: str, prompt: str) -> list:
    """The prompts the director retrieves for ``idea`` (``retrieval.retrieve``), less the near-copies of
    ``prompt``, the human's own: those sharing a ``corpus.copy_keys`` key with it (its prefix group, its
    session's retypings) or holding nearly its modifiers (``COPY_OVERLAP``). Whatever learns from the train split
    with retrieved prompts in view (the ranker, a retrieval-augmented adapter) sees these, so it learns to adapt
    other people's prompts rather than to copy the answer. The Discord collection was filtered against the
    validation and test splits by the same keys, not against train."""
    from artdirector.corpus import copy_keys
    from artdirector.library.retrieval import RAG_DEPTH, retrieve

    keys = set(copy_keys(prompt))
    own = {m.lower() for m in prompt_modifiers(prompt)}
    hits = retrieve(library, collection, idea, k=2 * RAG_DEPTH)
    return [h for h in hits if not keys.intersection(copy_keys(h.prompt))
            and jaccard({m.lower() for m in prompt_modifiers(h.prompt)}, own) < COPY_OVERLAP][:RAG_DEPTH]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def with_neighbours(examples: list[Example], library, collection: str, k: int, progress=None) -> list[Example]:
    """``examples`` with the ``k`` held-out retrieved prompts (``held_out``, ``prompting.shown_neighbours``) an
    adapter trained retrieval-augmented reads before each target."""
    from dataclasses import replace

    from artdirector.prompting import shown_neighbours

    out = []
    for i, e in enumerate(examples):
        hits = held_out(library, collection, e.idea, e.target)
        out.append(replace(e, neighbours=tuple(shown_neighbours(hits, k))))
        if progress is not None and (i + 1) % 500 == 0:
            progress(f"neighbours: {i + 1}/{len(examples)} examples")
    return out
