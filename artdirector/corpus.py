"""The human-prompt corpus: reading, safety filtering and the train/validation/test split.

DiffusionDB prompts come in sessions: one person iterates an idea with the same modifiers for minutes and
those images land in neighbouring DiffusionDB parts. A random row split would put near-copies of a test
prompt into the training data and flatter every memorising or retrieval system. The split is therefore a
*rule*, recorded here and nowhere else:

1. Parts are grouped in blocks of ``BLOCK_PARTS`` consecutive part numbers. Block ``b`` goes to ``test`` when
   ``b % 10 == 0``, to ``validation`` when ``b % 10 == 5``, to ``train`` otherwise.
2. Rows whose part lies within ``BUFFER_PARTS`` of a boundary with a block of another split are dropped
   (the buffer), so a session that straddles the boundary cannot leak.
3. Every prompt prefix (text before the first comma, normalised) lives in one split only: a prefix seen in
   test is removed from validation and train, a prefix seen in validation is removed from train.

``artdirector data split`` applies the rule to the shipped TSV and writes the files; the counts it prints
are recorded in ``artdirector/data/prompts/SPLIT.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from artdirector.safety import is_unsafe
from artdirector.text import duplicate_key, fold_space

BLOCK_PARTS = 250
BUFFER_PARTS = 3
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class HumanPrompt:
    prompt: str
    source: str
    part: int | None = None

    @property
    def prefix(self) -> str:
        return prompt_prefix(self.prompt)


def prompt_prefix(prompt: str) -> str:
    """NeuroPrompts' idea extraction: the text before the first comma, lower-cased and space-folded."""
    return fold_space(prompt.split(",", 1)[0]).lower()


COPY_WORDS = 6


def copy_keys(prompt: str) -> tuple[str, str]:
    """Two prompts sharing either key are one prompt retyped, or one session's: the same text before the first
    comma, or the same first ``COPY_WORDS`` words. The keys by which the Discord prompts were filtered against
    the validation and test splits (``../shared/data/README.md``), so that whatever learns on the train split
    is kept from its near-copies the same way."""
    words = duplicate_key(prompt).split()
    return "prefix:" + prompt_prefix(prompt), "words:" + " ".join(words[:COPY_WORDS])


def prompt_modifiers(prompt: str) -> list[str]:
    """The comma-separated phrases after the prefix: what the human expert added to the idea."""
    return [p for p in (fold_space(x) for x in prompt.split(",")[1:]) if p]


def split_of_part(part: int) -> str:
    block = part // BLOCK_PARTS
    return {0: "test", 5: "validation"}.get(block % 10, "train")


def in_buffer(part: int) -> bool:
    here = split_of_part(part)
    return any(split_of_part(part + d) != here for d in range(-BUFFER_PARTS, BUFFER_PARTS + 1) if part + d >= 0)


def read_tsv(path: str | Path) -> Iterator[HumanPrompt]:
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            part = row.get("diffusiondb_part")
            yield HumanPrompt(
                prompt=fold_space(row["prompt"]),
                source=row.get("source") or Path(path).name,
                part=int(part) if part else None,
            )


def split_corpus(rows: Iterable[HumanPrompt], *, drop_unsafe: bool = True) -> dict[str, list[HumanPrompt]]:
    """Apply the split rule above; rows without a part number cannot be placed and are left out."""
    by_split: dict[str, list[HumanPrompt]] = {s: [] for s in SPLITS}
    for row in rows:
        if row.part is None or in_buffer(row.part) or not row.prompt:
            continue
        if drop_unsafe and is_unsafe(row.prompt):
            continue
        by_split[split_of_part(row.part)].append(row)
    claimed: set[str] = set()
    for name in ("test", "validation", "train"):
        kept = [r for r in by_split[name] if r.prefix not in claimed]
        claimed.update(r.prefix for r in kept)
        by_split[name] = kept
    return by_split


def write_tsv(rows: Iterable[HumanPrompt], path: str | Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["source", "prompt", "diffusiondb_part"])
        for r in rows:
            w.writerow([r.source, r.prompt, "" if r.part is None else f"{r.part:06d}"])
            n += 1
    return n
