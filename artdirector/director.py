"""The art director: idea -> few-shot prompt -> language model -> parsed parts -> rendered prompt.

The prompt is a chat few-shot: a system instruction, then real human prompts from the training split as
(idea, prompt) turns, then the user's idea with the assistant's answer already begun by the idea itself and a
comma. Starting the answer with the idea keeps the subject first and verbatim, and leaves the model only the
modifiers to write. Measured on SmolLM2-135M-Instruct, the chat form writes 3-4x more modifiers than a plain
"Idea:/Prompt:" completion prompt.

With a fine-tuned adapter (``training.sft``; the shipped one is the default, see ``default_adapter``) the
prompt is the zero-shot frame the adapter was trained in (``adapter_prompt``): no examples to read, so it is
shorter and faster, and the model writes in the human prompt engineers' style it learned. Retrieval then still
supplies the ``retrieved`` list and the fallback pool.

Whatever the model writes goes through ``parse_modifiers`` and ``classify``; if fewer than
``MIN_MODIFIERS`` clean phrases survive, the direction falls back to a tag list drawn from the shipped
vocabularies (by DiffusionDB frequency), and says so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from artdirector.brief import BadInput, Direction, check_idea
from artdirector.corpus import HumanPrompt, prompt_modifiers, read_tsv
from artdirector.decoding.constraints import Constraints
from artdirector.decoding.neurologic import ConstrainedResult, neurologic_generate
from artdirector.lm.base import Generation, GenerationConfig, LanguageModel
from artdirector.parse import parse_modifiers
from artdirector.render import Rendered, get_target, render
from artdirector.vocab import category_vocab, classify, vocabulary

MIN_MODIFIERS = 2
N_SHOTS = 6
MAX_RETRIEVED_SHOTS = 4  # the other shots come from a pool sample shared by every idea of a batch (cached once)
# Retrieval-augmented choice of modifiers (LaDi's "weighted pool"): the phrases of the RAG_DEPTH closest human
# prompts vote with their cosine similarity, each phrase the model wrote adds MODEL_VOTE, and the best
# MAX_MODIFIERS are kept. Chosen on the validation split (100 ideas, exact modifier F1 of the first candidate:
# model alone 0.069, model + pool vote 0.119; the pool alone 0.100); never on test.
DECODINGS = ("auto", "greedy", "beam", "neurologic", "grammar", "smc")
RAG_DEPTH = 18
MODEL_VOTE = 1.0
MAX_MODIFIERS = 8
SYSTEM = (
    "You are an art director. Expand the user's idea into a Stable Diffusion prompt: the idea, then "
    "comma-separated modifiers for medium, style, artist, lighting, color, composition, mood and quality."
)
# A negative prompt that suits SD-class models whatever the idea: the failure modes users fight most.
DEFAULT_NEGATIVE = (
    "blurry", "lowres", "low quality", "jpeg artifacts", "deformed", "disfigured", "bad anatomy",
    "extra limbs", "watermark", "text", "signature", "duplicate", "cropped",
)
# How many of each category a fallback direction takes, and from how many of the most used phrases.
FALLBACK = {"medium": (1, 12), "style": (1, 25), "artist": (1, 25), "lighting": (1, 23), "booster": (2, 12)}

# Video motion: camera moves and pacing read by AnimateDiff-style models, and subject-driven motion cues
# chosen by keywords in the idea (first rule that matches). Written for this project.
CAMERA = ("slow dolly in", "slow pan left", "slow pan right", "tracking shot", "slow orbit around the subject",
          "crane shot rising", "static camera", "slow zoom out")
PACING = ("slow motion", "smooth motion", "gentle looping motion", "timelapse")
MOTION_RULES = (  # what moves first: creatures and people, then fire and weather, then the scenery
    (("dragon", "bird", "eagle", "flying", "fly"), "wings beating, soaring"),
    (("cat", "dog", "fox", "horse", "wolf", "animal"), "natural animal movement, fur moving"),
    (("woman", "man", "girl", "boy", "person", "portrait", "face"), "subtle head turn, hair moving in the wind"),
    (("fire", "flame", "candle", "lava", "volcano"), "flickering flames, rising embers"),
    (("storm", "rain", "wind", "hurricane"), "wind-driven rain, churning clouds"),
    (("sea", "ocean", "wave", "beach", "lake", "river", "water"), "rolling waves, rippling water"),
    (("city", "street", "traffic", "cyberpunk"), "moving traffic, flickering signs"),
    (("forest", "tree", "garden", "flower", "field", "grass"), "leaves swaying in the breeze"),
    (("space", "galaxy", "planet", "star", "nebula"), "slowly rotating stars"),
    (("sky", "cloud", "sunset", "sunrise", "mountain"), "drifting clouds"),
)
DEFAULT_MOTION = "subtle ambient motion"


DEFAULT_ADAPTER = "prompt-director-v1"


def default_adapter() -> Path | None:
    """The adapter shipped in the package (None if this installation has none)."""
    from importlib import resources

    path = Path(str(resources.files("artdirector.data").joinpath(f"adapters/{DEFAULT_ADAPTER}")))
    return path if (path / "adapter_model.safetensors").is_file() else None


def adapter_prompt(idea: str) -> str:
    """The zero-shot chat frame a fine-tuned adapter was trained in (``training.sft``) and is prompted with."""
    return f"<|im_start|>user\n{idea}<|im_end|>\n<|im_start|>assistant\n"


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


def _plausible_detail(phrase: str, idea_words: set[str]) -> bool:
    """Unclassified phrases are kept as subject details only when short, free of numbers (the model's
    "10-year life cycle" or "1024x768") and not a rewording of the idea itself."""
    words = phrase.split()
    if len(words) > 4 or any(ch.isdigit() for ch in phrase):
        return False
    return sum(w in idea_words for w in words) / len(words) < 0.5


@dataclass
class DirectionResult:
    idea: str
    target: str
    direction: Direction
    rendered: Rendered
    model: str
    seconds: float = 0.0
    fallback: bool = False
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    candidates: list[DirectionResult] = field(default_factory=list)
    retrieved: list = field(default_factory=list)  # library hits used as examples (``library.Hit``)
    constraints: list | None = None  # each clause, whether the prompt meets it and whether the decoder did
    decoding: str = "greedy"  # greedy | sample | beam | neurologic | grammar | smc

    @property
    def prompt(self) -> str:
        return self.rendered.prompt

    @property
    def added(self) -> list[str]:
        """Phrases the director added that made it into the rendered prompt."""
        dropped = set(self.rendered.dropped)
        return [p for p in self.direction.phrases() if p not in dropped]

    def to_json(self) -> dict:
        out = {
            "idea": self.idea,
            "target": self.target,
            "prompt": self.rendered.prompt,
            "negative_prompt": self.rendered.negative_prompt,
            "parts": {k: list(v) for k, v in self.direction.parts.items() if v},
            "added": self.added,
            "dropped": list(self.rendered.dropped),
            "tokens": self.rendered.tokens,
            "budget": self.rendered.budget,
            "fallback": self.fallback,
            "notes": [*self.notes, *self.rendered.notes],
            "model": self.model,
            "seconds": round(self.seconds, 4),
            "retrieved": [h.to_json() for h in self.retrieved],
            "decoding": self.decoding,
        }
        if self.constraints is not None:
            out["constraints"] = self.constraints
        if self.candidates:
            out["candidates"] = [c.to_json() for c in self.candidates]
        return out


class ArtDirector:
    """Turns ideas into directions with a language model. Explicit object: holds its LM, nothing global."""

    def __init__(self, lm: LanguageModel, *, n_shots: int = N_SHOTS, max_new_tokens: int = 48,
                 exemplars: Sequence[HumanPrompt] | None = None, library=None, collection: str = "builtin",
                 tuned: bool = False):
        """``library`` (a ``PromptLibrary``) turns on retrieval: the human prompts closest to each idea
        become the few-shot examples and the pool of fallback modifiers. ``tuned`` says ``lm`` carries a
        fine-tuned adapter, so it is prompted zero-shot in the frame it was trained in."""
        self.lm = lm
        self.tuned = tuned
        self.n_shots = n_shots
        self.max_new_tokens = max_new_tokens
        self._exemplars = tuple(exemplars) if exemplars is not None else None
        self.library = library
        self.collection = collection

    @classmethod
    def from_default(cls, *, backend: str = "llamacpp", rag: bool = True, collection: str = "builtin",
                     adapter: str | Path | None = "default", progress=None, **kwargs) -> ArtDirector:
        """The embedded SmolLM2-135M-Instruct with the shipped adapter (``adapter``: "default", a PEFT
        adapter folder, or None for the plain model) on the fast llama.cpp path (``backend="transformers"``
        for PyTorch), grounded in the built-in prompt library unless ``rag=False``."""
        if adapter == "default":
            adapter = default_adapter()
        elif adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise BadInput(f"{adapter} is not a PEFT adapter folder (no adapter_config.json)")
        if backend == "llamacpp":
            from artdirector.lm.llamacpp_backend import LlamaCppLM

            lm = LlamaCppLM.from_embedded(lora_path=adapter)
        elif backend == "transformers":
            from artdirector.lm.transformers_backend import TransformersLM

            lm = TransformersLM.from_embedded(progress=progress, adapter=adapter)
        else:
            raise ValueError(f"unknown backend {backend!r}; valid: llamacpp, transformers")
        if adapter is not None:
            lm.name = f"{lm.name}+{Path(adapter).name}"
        library = None
        if rag:
            from artdirector.library.library import BUILTIN, PromptLibrary

            library = PromptLibrary.default()
            if collection == BUILTIN:
                library.ensure_builtin()
            elif not library.has(collection):
                raise BadInput(f"no library named {collection!r}; libraries: {', '.join(library.collections())}")
        return cls(lm, library=library, collection=collection, tuned=adapter is not None, **kwargs)

    @property
    def exemplars(self) -> tuple[HumanPrompt, ...]:
        if self._exemplars is None:
            self._exemplars = exemplar_pool()
        return self._exemplars

    # -- prompt construction --------------------------------------------------------------------------

    def shots(self, seed: int, retrieved: Sequence = ()) -> list[HumanPrompt]:
        """Retrieved prompts that make good examples (most similar last, nearest the question), after
        random pool examples that fill the remaining places."""
        good = [h for h in retrieved if good_exemplar(h.prompt, strict=False)][:MAX_RETRIEVED_SHOTS]
        near = [HumanPrompt(h.prompt, h.source) for h in good][::-1]
        pool = self.exemplars
        # A prefix of one seeded sample, so ideas with different numbers of hits still share it.
        fill = random.Random(seed).sample(pool, min(self.n_shots, len(pool)))[: self.n_shots - len(near)]
        return fill + near

    def retrieve(self, idea: str) -> list:
        """The library's closest human prompts, best first."""
        if self.library is None:
            return []
        return self.library.search(idea, k=RAG_DEPTH, mode="vector", collection=self.collection)

    def build_prompt(self, idea: str, seed: int = 0, retrieved: Sequence = ()) -> str:
        """The chat few-shot prompt up to the assistant's answer (``direct_many`` begins it with the idea)."""
        if self.tuned:
            return adapter_prompt(idea)
        turns = [("system", SYSTEM)]
        for shot in self.shots(seed, retrieved):
            turns += [("user", shot.prompt.split(",", 1)[0].strip()), ("assistant", shot.prompt)]
        turns.append(("user", idea))
        text = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns)
        return text + "<|im_start|>assistant\n"

    # -- parsing ---------------------------------------------------------------------------------------

    def to_direction(self, idea: str, text: str, *, truncated: bool, seed: int,
                     retrieved: Sequence = ()) -> tuple[Direction, bool, list[str]]:
        parsed = parse_modifiers(text, idea)
        phrases = parsed.phrases
        if truncated and phrases and not text.rstrip().endswith(","):
            phrases = phrases[:-1]  # the last phrase was cut off mid-word by the token limit
        direction = Direction(idea=idea, negative=list(DEFAULT_NEGATIVE))
        rejected = list(parsed.rejected)
        idea_words = set(idea.lower().split())
        kept = []
        for phrase in phrases:
            category = classify(phrase)
            if category == "subject" and not _plausible_detail(phrase, idea_words):
                rejected.append(phrase)
                continue
            kept.append(phrase)
        fallback = len(kept) < MIN_MODIFIERS  # the model itself wrote too little
        if retrieved:
            weight = self._pool_weights(retrieved)
            for phrase in kept:
                weight[phrase] = weight.get(phrase, 0.0) + MODEL_VOTE
            kept = sorted(weight, key=lambda m: -weight[m])[:MAX_MODIFIERS]
        for phrase in kept:
            category = classify(phrase)
            direction.add(category, phrase[3:] if category == "artist" and phrase.startswith("by ") else phrase)
        if len(direction.phrases()) < MIN_MODIFIERS:
            self._fallback(direction, random.Random(seed), retrieved)
        return direction, fallback, rejected

    @staticmethod
    def _pool_weights(retrieved: Sequence) -> dict[str, float]:
        """Each modifier of the retrieved prompts, weighted by the similarity of the prompts that use it."""
        weight: dict[str, float] = {}
        for hit in retrieved:
            # The same cleaning as the model's own output, so a retrieved "1024x768" stays out.
            for m in parse_modifiers(", " + ", ".join(prompt_modifiers(hit.prompt))).phrases:
                if len(m.split()) <= 4:
                    weight[m] = weight.get(m, 0.0) + max(hit.score, 0.0)
        return weight

    @staticmethod
    def _fallback(direction: Direction, rng: random.Random, retrieved: Sequence = ()) -> None:
        """Too little usable output: take the modifiers the retrieved prompts share (weighted by similarity),
        then fill the categories still empty from the vocabularies."""
        weight = ArtDirector._pool_weights(retrieved)
        for phrase in sorted(weight, key=lambda m: -weight[m])[:6]:
            direction.add(classify(phrase), phrase)
        for category, (count, top) in FALLBACK.items():
            entries = category_vocab(category)[:top]
            if direction.parts.get(category) or not entries:
                continue
            for entry in rng.sample(entries, min(count, len(entries))):
                direction.add(category, entry.phrase)

    @staticmethod
    def _add_motion(direction: Direction, rng: random.Random) -> None:
        idea = direction.idea.lower()
        motion = next((m for keys, m in MOTION_RULES if any(k in idea for k in keys)), DEFAULT_MOTION)
        direction.add("motion", motion)
        direction.add("camera", rng.choice(CAMERA))
        direction.add("pacing", rng.choice(PACING))

    # -- public API ------------------------------------------------------------------------------------

    @staticmethod
    def _apply_constraints(direction: Direction, constraints: Constraints, notes: list[str]) -> None:
        """File required phrases in their part and pin them; add what decoding could not; honour exclusions."""
        for phrases in direction.parts.values():
            for phrase in [p for p in phrases if constraints.violated(p.lower())]:
                phrases.remove(phrase)
                notes.append(f"removed '{phrase}': it contains an excluded phrase")
        for clause in constraints.include:
            found = next(((c, p) for c, ps in direction.parts.items() for p in ps if clause.met_by(p.lower())), None)
            if found is None and clause.met_by(direction.idea.lower()):
                continue  # the idea itself says it
            if found is None:
                phrase = clause.alternatives[0]
                category = clause.category or classify(phrase)
                direction.add(category, phrase)
                notes.append(f"required '{phrase}' was added after decoding: the model did not write it in "
                             "the token limit")
            else:
                category, phrase = found
                if clause.category and clause.category != category:
                    direction.parts[category].remove(phrase)
                    direction.add(clause.category, phrase)
            direction.pinned.add(phrase)
        for banned in constraints.exclude:
            if banned not in (n.lower() for n in direction.negative):
                direction.negative.append(banned)

    def decode_constrained(self, prompt: str, prefix: str, constraints: Constraints,
                           config: GenerationConfig) -> ConstrainedResult:
        """NeuroLogic decoding with room for the required phrases and a ban on repeated trigrams (beam search
        loops more than greedy decoding does)."""
        return neurologic_generate(self.lm, prompt, constraints, prefix=prefix,
                                   config=replace(config, max_new_tokens=self.max_new_tokens + 16,
                                                  no_repeat_ngram_size=3))

    def direct(self, idea: str, *, target: str = "sd15", n: int = 1, seed: int = 0,
               constraints: Constraints | None = None, **decoding) -> DirectionResult:
        """Direct one idea; with ``n > 1`` also return ``n`` candidates (the first is the greedy one)."""
        return self.direct_many([idea], target=target, n=n, seed=seed, constraints=constraints, **decoding)[0]

    @staticmethod
    def decoding_for(constraints: Constraints | None, grammar, decoding: str = "auto") -> str:
        """The decoder a request gets: ``auto`` is NeuroLogic with constraints, grammar decoding with a
        grammar, SMC with both (the one decoder here that takes both), else greedy/sampling."""
        if decoding not in DECODINGS:
            raise BadInput(f"unknown decoding {decoding!r}; valid: {', '.join(DECODINGS)}")
        if decoding == "auto":
            return {(True, True): "smc", (True, False): "neurologic", (False, True): "grammar"}.get(
                (bool(constraints), grammar is not None), "greedy")
        if decoding == "neurologic" and not constraints:
            raise BadInput("--decoding neurologic needs a constraint (--style, --artist, --include, --exclude, ...)")
        if decoding in ("neurologic", "beam") and grammar is not None:
            raise BadInput(f"--decoding {decoding} does not take a grammar; use --decoding smc or grammar")
        if decoding == "grammar" and grammar is not None and constraints and constraints.include:
            raise BadInput("--decoding grammar takes required phrases only with the built-in grammar (they are "
                           "compiled into it); with your own grammar use --decoding smc, or write them into it")
        return decoding

    def _decode(self, mode: str, k: int, prompts: list[str], prefixes: list[str], config: GenerationConfig,
                constraints: Constraints | None, grammar, cache: dict) -> list[tuple[Generation, bool | None]]:
        """Candidate ``k`` of every idea under one decoder: (generation, met by the decoder or None).
        ``cache`` keeps each idea's SMC run and beam search across the candidates of one request."""
        if mode in ("greedy", "sample"):
            return [(g, None) for g in self.lm.generate(prompts, config, prefixes=prefixes)]
        if mode == "grammar":
            from artdirector.decoding.grammar import DIRECTION_GRAMMAR, Grammar, constraint_grammar, grammar_generate

            # No grammar of the user's: the built-in one, with any required phrases compiled into it.
            grammar = grammar or (constraint_grammar(constraints) if constraints else Grammar(DIRECTION_GRAMMAR))
            found = grammar_generate(self.lm, prompts, grammar, replace(config, max_new_tokens=self.max_new_tokens
                                                                        + 32, stop=()), prefixes=prefixes,
                                     exclude=constraints.exclude if constraints else ())
            out = []
            for prefix, r in zip(prefixes, found):
                met = r.accepted and constraints.met((prefix + " " + r.text).lower()) if constraints else None
                out.append((Generation(" " + r.text, r.tokens, "stop" if r.accepted else "length"), met))
            return out
        out = []
        for i, (prompt, prefix) in enumerate(zip(prompts, prefixes)):
            if mode == "smc":
                from artdirector.decoding.smc import smc_generate

                if i not in cache:  # one SMC run per idea; its distinct particles are the candidates
                    cache[i] = smc_generate(self.lm, prompt, prefix=prefix, constraints=constraints,
                                                grammar=grammar, config=replace(
                                                    config, max_new_tokens=self.max_new_tokens + 16,
                                                    temperature=0.0))
                res = cache[i]
                j = min(k, len(res.texts) - 1)
                text = " " + res.texts[j] if res.texts else ""
                out.append((Generation(text, [], "stop"), res.satisfied[j] if res.texts else False))
                continue
            # One beam search per idea; candidate k is its k-th best distinct complete answer while there are
            # any (a beam search run again would return the same answer), then a search on the k-th prompt.
            key = ("beam", i)
            if key not in cache or k >= len(cache[key][1]):
                found = self.decode_constrained(prompt, prefix, constraints or Constraints(), config)
                # Distinct as directions, not as strings: answers that parse to the same phrases are one.
                seen, answers = set(), []
                for text in [found.text, *found.alternatives]:
                    phrases = tuple(parse_modifiers(text).phrases)
                    if phrases not in seen:
                        seen.add(phrases)
                        answers.append(text)
                cache[key] = (found, answers)
            found, answers = cache[key]
            if k < len(answers):
                found = replace(found, text=answers[k])
            out.append((Generation(found.text, [], "stop" if found.satisfied else "length"), found.satisfied))
        return out

    def direct_many(self, ideas: Sequence[str], *, target: str = "sd15", n: int = 1, seed: int = 0,
                    constraints: Constraints | None = None, grammar=None, decoding: str = "auto",
                    steer: float = 0.0, ask: str = "") -> list[DirectionResult]:
        """Direct several ideas with one batched LM call (the model is loaded once).

        ``decoding`` (see ``decoding_for``): with ``constraints`` each idea is decoded by NeuroLogic beam
        search (``decoding.neurologic``); with a ``grammar`` (``decoding.grammar.Grammar``) under it; "smc" for
        sequential Monte Carlo steering; "beam" for plain beam search. ``steer`` > 0 biases decoding toward
        the expert vocabulary by that many nats per token (``decoding.steer``). ``ask`` is appended to each
        idea in the model's prompt only (instructions such as "colour: teal"): the "prompting only" baseline
        of the constraint evaluations."""
        if n < 1:
            raise BadInput(f"--n must be at least 1 (got {n})")
        get_target(target)
        mode = self.decoding_for(constraints, grammar, decoding)
        checked = [check_idea(i) for i in ideas]
        for c in checked:
            banned = constraints.violated(c.text.lower()) if constraints else None
            if banned:
                raise BadInput(f"the idea {c.text!r} itself contains the excluded phrase '{banned}'")
        if constraints:
            constraints.check_budget([c.text for c in checked], get_target(target).budget)
        bias = None
        if steer:
            from artdirector.decoding.steer import vocabulary_bias

            bias = vocabulary_bias(self.lm, steer)
        start = time.perf_counter()
        retrieved = [self.retrieve(c.text) for c in checked]
        # Candidate k of every idea uses few-shot set seed+k; candidate 0 decodes greedily, others sample.
        outputs, decoded, modes, cache = {}, {}, [], {}
        for k in range(n):
            config = GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=0.0 if k == 0 else 0.8,
                                      seed=seed + k, stop=("\n", "<|im_end|>"), logit_bias=bias)
            prompts = [self.build_prompt(c.text + ask, seed + k, hits) for c, hits in zip(checked, retrieved)]
            prefixes = [f"{c.text}," for c in checked]
            modes.append("sample" if mode == "greedy" and k else mode)  # the decoder of candidate k
            for i, (gen, met) in enumerate(self._decode(modes[k], k, prompts, prefixes, config, constraints, grammar,
                                                        cache)):
                outputs[i, k], decoded[i, k] = gen, met
        elapsed = time.perf_counter() - start
        results = []
        for i, idea in enumerate(checked):
            cands = []
            for k in range(n):
                gen = outputs[i, k]
                direction, fallback, rejected = self.to_direction(
                    idea.text, gen.text, truncated=gen.finish_reason == "length", seed=seed + k,
                    retrieved=retrieved[i])
                if target == "video":
                    self._add_motion(direction, random.Random(seed + k))
                notes = list(idea.notes) + list(constraints.notes if constraints else ())
                if fallback:
                    notes.append("the model wrote too few usable modifiers; used those of retrieved human prompts "
                                 "and vocabulary tags instead")
                if constraints:
                    self._apply_constraints(direction, constraints, notes)
                rendered = render(direction, target)
                cands.append(DirectionResult(
                    idea=idea.text, target=target, direction=direction, rendered=rendered,
                    model=self.lm.name, seconds=elapsed / len(checked), fallback=fallback,
                    rejected=rejected, notes=notes, retrieved=retrieved[i], decoding=modes[k],
                    constraints=constraints.report(rendered.prompt, decoded[i, k]) if constraints else None,
                ))
            results.append(replace(cands[0], candidates=cands) if n > 1 else cands[0])
        return results
