"""Stage 3 of a direction: the language model's prompt, and the exemplars it shows.

Two frames. With a fine-tuned adapter (``training.sft``; the shipped one is the default) the prompt is the
chat frame the adapter was trained in (``adapter_prompt``): zero-shot, so it is shorter and faster, and the
model writes in the human prompt engineers' style it learned; or, for an adapter trained retrieval-augmented
(``SFTSettings.neighbours``), the idea followed by the retrieved prompts it learned to adapt. Without one it is a chat
few-shot: a system instruction, then real human prompts from the training split as (idea, prompt) turns —
retrieved ones nearest the question, after a seeded sample from a fixed pool — then the user's idea. In both,
the decoder begins the assistant's answer with the idea itself and a comma, which keeps the subject first and
verbatim and leaves the model only the modifiers to write. Measured on SmolLM2-135M-Instruct, the chat form
writes 3-4x more modifiers than a plain "Idea:/Prompt:" completion prompt.

A prompter writes chat messages (``Messages``: role, content); the language model formats them
(``LanguageModel.format_chat``), so a model with its own chat template gets it and a server LM receives the
messages as they are. The embedded model formats them in plain ChatML: SmolLM2's own template would add a
default system turn that the shipped adapter was not trained with. Training (``training.sft``,
``training.rl``) imports ``adapter_prompt`` from here, so the frame a model is trained in and the frame it
is prompted with are one definition.
"""

from __future__ import annotations

import json
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from artdirector.corpus import HumanPrompt, prompt_modifiers, read_tsv
from artdirector.vocab import vocabulary

N_SHOTS = 6
MAX_RETRIEVED_SHOTS = 4  # the other shots come from a pool sample shared by every idea of a batch (cached once)
NEIGHBOURS_HEADER = "Prompts people wrote for similar ideas:"
SYSTEM = (
    "You are an art director. Expand the user's idea into a Stable Diffusion prompt: the idea, then "
    "comma-separated modifiers for medium, style, artist, lighting, color, composition, mood and quality."
)


Messages = list[tuple[str, str]]  # (role, content), in order


def chatml(turns: Sequence[tuple[str, str]]) -> str:
    """Chat turns in SmolLM2's ChatML, up to the start of the assistant's answer."""
    return "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns) + \
        "<|im_start|>assistant\n"


def adapter_messages(idea: str, neighbours: Sequence[str] = ()) -> Messages:
    """The chat frame a fine-tuned adapter was trained in (``training.sft``) and is prompted with: the idea
    alone (zero-shot), or, for a retrieval-augmented adapter, the idea and then human prompts of similar ideas
    (``shown_neighbours``), nearest first."""
    if not neighbours:
        return [("user", idea)]
    return [("user", "\n".join([idea, NEIGHBOURS_HEADER, *(f"- {p}" for p in neighbours)]))]


def adapter_prompt(idea: str, neighbours: Sequence[str] = ()) -> str:
    """``adapter_messages`` in ChatML, up to the assistant's answer: what training puts before the target."""
    return chatml(adapter_messages(idea, neighbours))


def shown_neighbours(retrieved: Sequence, k: int) -> list[str]:
    """The retrieved prompts (best first) a retrieval-augmented adapter reads: the first ``k`` of a sane shape
    (``good_exemplar``, not strict), the same rule in training and at inference."""
    return [h.prompt for h in retrieved if good_exemplar(h.prompt, strict=False)][:k] if k else []


def good_exemplar(prompt: str, *, strict: bool = True) -> bool:
    """Whether a human prompt teaches the format: a short idea and real, comma-separated modifiers.

    ``strict`` (the random pool) also asks for 5-12 modifiers of which three the vocabularies know;
    retrieved prompts are already relevant, so for them 3 modifiers of a sane shape are enough."""
    mods = prompt_modifiers(prompt)
    idea_words = len(prompt.split(",", 1)[0].split())
    shape = (1 <= idea_words <= 12 and prompt.isascii() and len(prompt) < 300
             and all(len(m.split()) <= 6 for m in mods) and not any(c in prompt for c in "|:()[]{}"))
    if not strict:
        return shape and len(mods) >= 3
    vocab = vocabulary()
    known = sum(m.lower() in vocab or m.lower().startswith("by ") for m in mods)
    return shape and 2 <= idea_words <= 8 and 5 <= len(mods) <= 12 and known >= 3 and len(prompt) < 260


@lru_cache(maxsize=1)
def exemplar_pool() -> tuple[HumanPrompt, ...]:
    """Training-split prompts that make good few-shot examples when nothing is retrieved."""
    from importlib import resources

    path = resources.files("artdirector.data").joinpath("prompts/train.tsv")
    return tuple(row for row in read_tsv(str(path)) if good_exemplar(row.prompt))


class Prompter(ABC):
    """The chat messages for one idea, up to the assistant's answer (which the decoder begins)."""

    @abstractmethod
    def messages(self, idea: str, seed: int = 0, retrieved: Sequence = ()) -> Messages:
        """The turns the model reads before it answers ``idea``."""


class AdapterPrompter(Prompter):
    """The frame of a fine-tuned adapter: zero-shot, or with ``neighbours`` retrieved prompts when the adapter
    was trained with them (``adapter_neighbours``)."""

    def __init__(self, neighbours: int = 0):
        self.neighbours = neighbours

    def messages(self, idea: str, seed: int = 0, retrieved: Sequence = ()) -> Messages:
        return adapter_messages(idea, shown_neighbours(retrieved, self.neighbours))


def adapter_neighbours(adapter) -> int:
    """How many retrieved prompts the adapter in folder ``adapter`` was trained to read (its
    ``artdirector-sft.json``, or its run's for a ``checkpoint-N`` inside one; 0 for a zero-shot adapter or one
    trained elsewhere)."""
    folder = Path(adapter)
    recipe = folder / "artdirector-sft.json"
    if not recipe.is_file() and re.fullmatch(r"checkpoint-\d+", folder.name):
        recipe = folder.parent / "artdirector-sft.json"
    try:
        return int(json.loads(recipe.read_text())["settings"].get("neighbours", 0)) if recipe.is_file() else 0
    except (ValueError, KeyError, TypeError):
        return 0


class FewShotPrompter(Prompter):
    """The chat few-shot frame of the plain model."""

    def __init__(self, n_shots: int = N_SHOTS, exemplars: Sequence[HumanPrompt] | None = None):
        self.n_shots = n_shots
        self._exemplars = tuple(exemplars) if exemplars is not None else None

    @property
    def exemplars(self) -> tuple[HumanPrompt, ...]:
        if self._exemplars is None:
            self._exemplars = exemplar_pool()
        return self._exemplars

    def shots(self, seed: int, retrieved: Sequence = ()) -> list[HumanPrompt]:
        """Retrieved prompts that make good examples (most similar last, nearest the question), after
        random pool examples that fill the remaining places."""
        good = [h for h in retrieved if good_exemplar(h.prompt, strict=False)][:MAX_RETRIEVED_SHOTS]
        near = [HumanPrompt(h.prompt, h.source) for h in good][::-1]
        pool = self.exemplars
        # A prefix of one seeded sample, so ideas with different numbers of hits still share it.
        fill = random.Random(seed).sample(pool, min(self.n_shots, len(pool)))[: self.n_shots - len(near)]
        return fill + near

    def messages(self, idea: str, seed: int = 0, retrieved: Sequence = ()) -> Messages:
        turns = [("system", SYSTEM)]
        for shot in self.shots(seed, retrieved):
            turns += [("user", shot.prompt.split(",", 1)[0].strip()), ("assistant", shot.prompt)]
        turns.append(("user", idea))
        return turns
