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

import json
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


def held_out(library, collection: str, idea: str, prompt: str, vector=None) -> list:
    """The prompts the director retrieves for ``idea`` (``retrieval.retrieve``), less the near-copies of
    ``prompt``, the human's own: those sharing a ``corpus.copy_keys`` key with it (its prefix group, its
    session's retypings) or holding nearly its modifiers (``COPY_OVERLAP``). Whatever learns from the train split
    with retrieved prompts in view (the ranker, a retrieval-augmented adapter) sees these, so it learns to adapt
    other people's prompts rather than to copy the answer. The Discord collection was filtered against the
    validation and test splits by the same keys, not against train. ``vector``: the idea's embedding, if the
    caller has it (``retrieval.retrieve``)."""
    from artdirector.corpus import copy_keys
    from artdirector.library.retrieval import RAG_DEPTH, retrieve

    keys = set(copy_keys(prompt))
    own = {m.lower() for m in prompt_modifiers(prompt)}
    hits = retrieve(library, collection, idea, k=2 * RAG_DEPTH, vector=vector)
    return [h for h in hits if not keys.intersection(copy_keys(h.prompt))
            and jaccard({m.lower() for m in prompt_modifiers(h.prompt)}, own) < COPY_OVERLAP][:RAG_DEPTH]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def with_neighbours(examples: list[Example], library, collection: str, k: int, progress=None,
                    batch: int = 256) -> list[Example]:
    """``examples`` with the ``k`` held-out retrieved prompts (``held_out``, ``prompting.shown_neighbours``) an
    adapter trained retrieval-augmented reads before each target. The ideas are embedded ``batch`` at a time: one
    at a time, the embedder's per-call cost made 4,000 examples take minutes."""
    from dataclasses import replace

    from artdirector.prompting import shown_neighbours

    out = []
    for start in range(0, len(examples), batch):
        chunk = examples[start:start + batch]
        vectors = library.embedder.encode([e.idea for e in chunk])
        for e, vector in zip(chunk, vectors):
            hits = held_out(library, collection, e.idea, e.target, vector=vector[None, :])
            out.append(replace(e, neighbours=tuple(shown_neighbours(hits, k))))
        if progress is not None:
            progress(f"neighbours: {len(out)}/{len(examples)} examples")
    return out


NEIGHBOURS = "neighbours.json"


def neighboured(examples: list[Example], library, collection: str, k: int, out: Path, progress=None) -> list[Example]:
    """``with_neighbours``, kept in the run folder ``out`` and read back when the run resumes: the search costs
    about 40 ms an example (minutes for thousands), and a resumed run must train on the same frames. What is kept
    counts only while ``k``, ``collection`` and the library's prompt counts are the same."""
    from dataclasses import replace

    key = {"neighbours": k, "collection": collection, "library": library.collections()}
    path, kept = Path(out) / NEIGHBOURS, {}
    try:
        saved = json.loads(path.read_text())
        if saved["key"] == key:
            kept = {(idea, target): tuple(shown) for idea, target, shown in saved["rows"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or one a kill cut short: searched again
    todo = [e for e in examples if (e.idea, e.target) not in kept]
    if todo:
        kept.update(((e.idea, e.target), e.neighbours) for e in with_neighbours(todo, library, collection, k, progress))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "rows": [[i, t, list(n)] for (i, t), n in kept.items()]}))
        tmp.replace(path)  # whole or not at all
    return [replace(e, neighbours=kept[(e.idea, e.target)]) for e in examples]
