"""Systems the harness compares. Each turns ideas into ``n`` prompts per idea through one method.

The baselines are deliberately simple and each a few lines; they are the bars any learned direction must
clear. The LM-based ones share one loaded model, passed in explicitly.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from artdirector.corpus import HumanPrompt, prompt_modifiers
from artdirector.lm.base import GenerationConfig, LanguageModel
from artdirector.prompting import Prompter


class System(ABC):
    name: str = "system"

    @abstractmethod
    def generate(self, ideas: Sequence[str], *, n: int, seed: int) -> list[list[str]]:
        """``n`` prompts for each idea."""


class Original(System):
    """The idea unchanged: what the user would have typed without us."""

    name = "original"

    def generate(self, ideas, *, n, seed):
        return [[idea] * n for idea in ideas]


class FrequentModifiers(System):
    """The train split's most frequent modifiers appended to every idea: a constant."""

    name = "frequent-modifiers"

    def __init__(self, train: Sequence[HumanPrompt], k: int = 6):
        counts = Counter(m.lower() for row in train for m in prompt_modifiers(row.prompt))
        self.modifiers = [m for m, _ in counts.most_common(k)]

    def generate(self, ideas, *, n, seed):
        return [[", ".join([idea, *self.modifiers])] * n for idea in ideas]


class NearestNeighbour(System):
    """Retrieval alone: the modifiers of the library's prompts whose ideas are closest to the idea (MiniLM), over
    all the ``collections`` the director retrieves from, their similarities as they are (the director discounts
    the Discord collection's; the baseline takes whichever is closest); sample k takes the k-th nearest."""

    name = "nearest-neighbour"

    def __init__(self, library, collections: Sequence[str]):
        self.library, self.collections = library, [c for c in collections if library.has(c)]

    def generate(self, ideas, *, n, seed):
        from artdirector.library.retrieval import nearest

        out = []
        for idea in ideas:
            hits = nearest(self.library, dict.fromkeys(self.collections, 0.0), idea, n)
            out.append([", ".join([idea, *self.keep(idea, prompt_modifiers(h.prompt))]) for h in hits] or [idea])
        return out

    def keep(self, idea: str, modifiers: list[str]) -> list[str]:
        """The neighbour's modifiers this baseline adds: all of them."""
        return modifiers


class GuardedNearestNeighbour(NearestNeighbour):
    """The nearest-neighbour baseline under the director's coherence and fidelity guards (``guards.judge``, in
    the neighbour's own order): the same retrieval, held to the same trust rules. The plain baseline keeps the
    neighbour's scene details ("medium length white hair" for "portrait of a woman"), which the director refuses
    by default; this one says how much of its lead those details are."""

    name = "nearest-neighbour-guarded"

    def keep(self, idea: str, modifiers: list[str]) -> list[str]:
        from artdirector.guards import Guards, judge
        from artdirector.vocab import classify

        modifiers = list(dict.fromkeys(modifiers))  # a phrase written twice is no fault of the second
        gone = {f.phrase for f in judge(Guards(idea), [(classify(m), m) for m in modifiers])}
        return [m for m in modifiers if m not in gone]


class DynamicPrompts(System):
    """The dynamicprompts library filling a wildcard template from the shipped vocabularies."""

    name = "dynamicprompts"
    TEMPLATE = "__medium__, __style__, __artist__, __lighting__, __booster__, __booster__"

    def __init__(self, wildcard_dir):
        from dynamicprompts.wildcards import WildcardManager

        from artdirector.vocab import category_vocab

        wildcard_dir.mkdir(parents=True, exist_ok=True)
        for category in ("medium", "style", "artist", "lighting", "booster"):
            words = [e.phrase for e in category_vocab(category)[:200]]
            (wildcard_dir / f"{category}.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
        self.manager = WildcardManager(wildcard_dir)

    def generate(self, ideas, *, n, seed):
        from dynamicprompts.generators import RandomPromptGenerator

        out = []
        for i, idea in enumerate(ideas):
            # The idea is prepended, not templated: braces or "__" in a user's idea must not be expanded.
            tails = RandomPromptGenerator(self.manager, seed=seed * 100_003 + i).generate(self.TEMPLATE, n)
            out.append([f"{idea}, {t}" for t in tails])
        return out


class FewShot(System):
    """The embedded LM with a plain few-shot completion prompt and plain decoding: no machinery of ours."""

    name = "fewshot"

    def __init__(self, lm: LanguageModel, exemplars: Sequence[HumanPrompt], shots: int = 6,
                 max_new_tokens: int = 48):
        self.lm = lm
        self.exemplars = list(exemplars)
        self.shots = shots
        self.max_new_tokens = max_new_tokens

    def prompt(self, idea: str, seed: int) -> str:
        shots = random.Random(seed).sample(self.exemplars, self.shots)
        return "".join(f"Idea: {s.prefix}\nPrompt: {s.prompt}\n\n" for s in shots) + f"Idea: {idea}\nPrompt:"

    def config(self, k: int, seed: int) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=0.0 if k == 0 else 0.8,
                                seed=seed + k, stop=("\n",), presence_penalty=0.0, no_repeat_ngram_size=0)

    def generate(self, ideas, *, n, seed):
        out = [[] for _ in ideas]
        for k in range(n):
            gens = self.lm.generate([self.prompt(i, seed + k) for i in ideas], self.config(k, seed),
                                    prefixes=[f" {i}," for i in ideas])
            for row, idea, gen in zip(out, ideas, gens):
                row.append(f"{idea},{gen.text}".rstrip(" ,"))
        return out


class VocabExpansion(FewShot):
    """Fooocus-V2-style expansion on the same LM: the same prompt, decoding biased toward the tokens of an
    expert vocabulary (the shipped lists, most used first) and away from repeating itself."""

    name = "vocab-expansion"

    def __init__(self, lm, exemplars, *, bias: float = 2.0, vocab_size: int = 1500, **kwargs):
        super().__init__(lm, exemplars, **kwargs)
        from artdirector.decoding.steer import vocabulary_bias

        self.bias = vocabulary_bias(lm, bias, vocab_size)

    def config(self, k, seed):
        return replace(super().config(k, seed), logit_bias=self.bias, presence_penalty=1.0,
                       no_repeat_ngram_size=3)


class ArtDirectorSystem(System):
    """Our pipeline (``ArtDirector``) rendering for SD 1.5; ablations are the same class with parts off."""

    def __init__(self, director, name: str = "artdirector"):
        self.director = director
        self.name = name

    def generate(self, ideas, *, n, seed):
        results = self.director.direct_many(list(ideas), target="sd15", n=n, seed=seed)
        return [[c.prompt for c in (r.candidates or [r])] for r in results]


class ConstrainedDirector(ArtDirectorSystem):
    """The director under user constraints, by one decoder (``neurologic``, ``grammar``, ``smc``) or by asking in
    the prompt only (``asked``: the constraints written after the idea, plain decoding, no repair) — LaDi's
    constrained-generation experiments. ``constraints`` is read by the harness for ``constraint_satisfaction``."""

    def __init__(self, director, constraints, how: str, name: str):
        super().__init__(director, name)
        self.constraints = constraints
        self.how = how

    def generate(self, ideas, *, n, seed):
        if self.how == "asked":
            from artdirector.director import ArtDirector

            asked = ArtDirector(self.director.lm, library=self.director.library, collection=self.director.collection,
                                max_new_tokens=self.director.max_new_tokens, answer_tokens=self.director.answer_tokens,
                                prompter=AskingPrompter(self.director.prompter, self.constraints))
            results = asked.direct_many(list(ideas), target="sd15", n=n, seed=seed)
        else:
            results = self.director.direct_many(list(ideas), target="sd15", n=n, seed=seed,
                                                constraints=self.constraints, decoding=self.how)
        return [[c.prompt for c in (r.candidates or [r])] for r in results]


class AskingPrompter(Prompter):
    """The "prompting only" baseline: the constraints written after the idea in the model's prompt (the
    direction itself still starts with the idea alone), no constrained decoding, no repair."""

    def __init__(self, inner: Prompter, constraints):
        self.inner = inner
        self.ask = "".join(f", {c.category or 'include'}: {c.alternatives[0]}" for c in constraints.include)
        self.ask += "".join(f", without {e}" for e in constraints.exclude)

    def messages(self, idea, seed=0, retrieved=()):
        return self.inner.messages(idea + self.ask, seed, retrieved)


def colour_pattern():
    """LaDi's colour-pattern constraint: the palette must hold teal and gold (either spelling each)."""
    from artdirector.decoding.constraints import Constraints

    return Constraints.build(color=["teal|turquoise", "gold|golden"])
