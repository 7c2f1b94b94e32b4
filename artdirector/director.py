"""The art director: an idea in, a structured, model-ready direction out, in seven named stages.

``ArtDirector.direct_many`` reads as the pipeline it runs (like a diffusers ``__call__``); each stage is a
function of the module that owns it:

1. check the request — ``brief.check_idea``, ``decoding.dispatch.choose``, the constraints' budget;
2. retrieve the closest human prompts — ``library.retrieval.retrieve``;
3. build the LM prompt — ``prompting`` (the adapter's zero-shot frame, or few-shot with retrieved examples);
4. decode — the decoder ``decoding.dispatch`` chose (greedy, sampling, beam, NeuroLogic, grammar, SMC);
5. parse and select modifiers — ``selection.select_modifiers`` (with the retrieval vote);
6. apply constraints — ``Constraints.apply_to``; the video target's motion (``render.add_motion``); the
   negative prompt for the direction's medium (``guards.negative_prompt``);
7. render for the target — ``render.render`` within the target's real token budget.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from artdirector.brief import check_idea
from artdirector.decoding import dispatch
from artdirector.decoding.constraints import Constraints
from artdirector.errors import BadInput, check_seed
from artdirector.guards import negative_prompt
from artdirector.library.retrieval import retrieve
from artdirector.lm.base import GenerationConfig, LanguageModel
from artdirector.prompting import N_SHOTS, AdapterPrompter, FewShotPrompter, Prompter, adapter_neighbours
from artdirector.render import add_motion, get_target, render
from artdirector.result import DirectionResult
from artdirector.selection import select_modifiers

DEFAULT_ADAPTER = "prompt-director-v1"
SAMPLE_TEMPERATURE = 0.8  # candidates after the first
# How long the shipped adapter's unconstrained answer may be. The ranker takes most phrases from the retrieved
# prompts, and the model's first ones are what it adds: its answers cut to 16 tokens (from 48; 29 on average)
# score the same on 793 validation prefixes (soft F1 0.2046 against 0.2049, paired difference -0.0003 [-0.0030,
# +0.0023]) and out of domain (fidelity 0.776 against 0.774), and decoding, most of a direction's time, halves.
# Constrained decoders keep ``max_new_tokens``: they need room to place the phrases they must.
ANSWER_TOKENS = 16
STOP = ("\n", "<|im_end|>")


def default_adapter() -> Path | None:
    """The adapter shipped in the package (None if this installation has none)."""
    from importlib import resources

    path = Path(str(resources.files("artdirector.data").joinpath(f"adapters/{DEFAULT_ADAPTER}")))
    return path if (path / "adapter_model.safetensors").is_file() else None


@dataclass(frozen=True)
class Request:
    """One call's options, checked once (stage 1)."""

    target: str = "sd15"
    n: int = 1
    seed: int = 0
    constraints: Constraints | None = None
    grammar: object = None  # ``decoding.grammar.Grammar``
    decoding: str = dispatch.AUTO
    steer: float = 0.0
    details: bool = False  # keep scene details the idea does not name (the guards drop them otherwise)
    early: tuple[str, ...] = ()  # phrases rendered right after the idea (an image LoRA's trigger words)

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise BadInput(f"the number of candidates must be at least 1 (got {self.n})")
        check_seed(self.seed)
        get_target(self.target)
        if self.steer < 0:
            raise BadInput(f"steering strength must be >= 0 nats (got {self.steer})")
        object.__setattr__(self, "constraints", self.constraints or None)
        object.__setattr__(self, "decoding", dispatch.choose(self.constraints, self.grammar, self.decoding))


class ArtDirector:
    """Turns ideas into directions with a language model. Explicit object: holds its LM, nothing global."""

    def __init__(self, lm: LanguageModel, *, n_shots: int = N_SHOTS, max_new_tokens: int = 48,
                 answer_tokens: int | None = None, exemplars=None, library=None, collection: str = "builtin",
                 tuned: bool = False, prompter: Prompter | None = None, ranker=None):
        """``library`` (a ``PromptLibrary``) turns on retrieval: the human prompts closest to each idea
        become few-shot examples and vote on the modifiers. ``tuned`` says ``lm`` carries a fine-tuned
        adapter, so it is prompted zero-shot in the frame it was trained in; ``prompter`` replaces the frame;
        ``ranker`` (``library.consensus.Consensus``, ``library.ranker.Ranker`` or ``Vote``) ranks and sizes the
        modifiers instead of the retrieval vote. ``max_new_tokens`` bounds every answer, ``answer_tokens`` (if
        given) an unconstrained one (greedy or sampled)."""
        self.lm = lm
        self.tuned = tuned
        self.max_new_tokens = max_new_tokens
        self.answer_tokens = min(answer_tokens or max_new_tokens, max_new_tokens)
        self.library = library
        self.collection = collection
        self.ranker = ranker
        self.prompter = prompter or (AdapterPrompter() if tuned else FewShotPrompter(n_shots, exemplars))

    @classmethod
    def from_default(cls, *, backend: str = "llamacpp", rag: bool = True, collection: str = "builtin",
                     adapter: str | Path | None = "default", ranker: str | Path | None = "default",
                     variety: float | None = None, progress=None, server: dict | None = None, **kwargs) -> ArtDirector:
        """The embedded SmolLM2-135M-Instruct with the shipped adapter (``adapter``: "default", a PEFT
        adapter folder, or None for the plain model) on a registered backend (``lm.BACKENDS``), or the model a
        served backend's ``server`` names (``lm.load_backend``; prompted few-shot), grounded in the built-in
        prompt library unless ``rag=False``, its modifiers chosen as ``ranker`` says (``load_ranker``; ``variety``:
        how strongly generic phrases are held back, None for ``library.retrieval.VARIETY``)."""
        from artdirector.lm import SERVED, load_backend

        if adapter == "default":
            adapter = None if backend in SERVED else default_adapter()
        elif adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise BadInput(f"{adapter} is not a PEFT adapter folder (no adapter_config.json)")
        library = None
        if rag:
            from artdirector.library.library import PromptLibrary

            library = PromptLibrary.default()
            library.require(collection)
            library.embedder  # noqa: B018 - loaded now, so a direction's retrieve time is the search alone
        lm = load_backend(backend, adapter=adapter, progress=progress, server=server)
        if adapter is not None and "prompter" not in kwargs:
            kwargs["prompter"] = AdapterPrompter(adapter_neighbours(adapter))  # the frame it was trained in
        if adapter is not None and adapter == default_adapter():
            kwargs.setdefault("answer_tokens", ANSWER_TOKENS)  # measured for this adapter alone
        return cls(lm, library=library, collection=collection, tuned=adapter is not None,
                   ranker=load_ranker(ranker, library, variety), **kwargs)

    def build_prompt(self, idea: str, seed: int = 0, retrieved: Sequence = ()) -> str:
        """The LM prompt for ``idea`` up to the assistant's answer (the decoder begins it with the idea): the
        prompter's messages in the model's own chat format."""
        return self.lm.format_chat(self.prompter.messages(idea, seed, retrieved))

    def retrieve(self, idea: str) -> list:
        return retrieve(self.library, self.collection, idea)

    def answers(self, ideas: Sequence[str], retrieved: Sequence[Sequence], bias=None) -> list:
        """Stages 3-4 alone, greedy: what the model writes for each idea (``Decoded``: text, finish reason), as
        the first candidate of a direction sees it. Training the ranker and the selection bench read it.
        ``bias``: additive logits by token id (``GenerationConfig.logit_bias``)."""
        return self._decode(dispatch.build(self.lm, "greedy", max_new_tokens=self.token_limit("greedy")), ideas,
                            retrieved, bias=bias)

    def token_limit(self, decoding: str) -> int:
        """How many tokens an answer by ``decoding`` may take: unconstrained answers ``answer_tokens``."""
        return self.answer_tokens if decoding in ("greedy", "sample") else self.max_new_tokens

    def _decode(self, decoder, ideas: Sequence[str], retrieved: Sequence[Sequence], k: int = 0, seed: int = 0,
                bias=None) -> list:
        """Candidate ``k`` of each idea: few-shot set ``seed + k``, greedy for the first, sampled after."""
        prompts = [self.build_prompt(idea, seed + k, hits) for idea, hits in zip(ideas, retrieved)]
        config = GenerationConfig(max_new_tokens=decoder.max_new_tokens, seed=seed + k, stop=STOP, logit_bias=bias,
                                  temperature=0.0 if k == 0 else SAMPLE_TEMPERATURE)
        return decoder.decode(k, prompts, [f"{idea}," for idea in ideas], config)

    def direct(self, idea: str, **options) -> DirectionResult:
        """Direct one idea; with ``n > 1`` the result also holds ``n`` candidates (the first is the greedy one)."""
        return self.direct_many([idea], **options)[0]

    def direct_many(self, ideas: Sequence[str], *, target: str = "sd15", n: int = 1, seed: int = 0,
                    constraints: Constraints | None = None, grammar=None, decoding: str = dispatch.AUTO,
                    steer: float = 0.0, details: bool = False, early: Sequence[str] = ()) -> list[DirectionResult]:
        """Direct several ideas with one batched LM call per candidate (the model is loaded once).

        ``decoding`` (see ``decoding.dispatch.choose``): with ``constraints`` each idea is decoded by NeuroLogic
        beam search; with a ``grammar`` (``decoding.grammar.Grammar``) under it; "smc" for sequential Monte
        Carlo steering; "beam" for plain beam search. ``steer`` > 0 biases decoding toward the expert
        vocabulary by that many nats per token (``decoding.steer``). ``details``: let the director add scene
        details the idea does not name (by default the guards keep new subject matter out). ``early``: phrases
        the direction holds to be rendered first after the idea (a LoRA's trigger words; require them with
        ``constraints`` so that they are there)."""
        from artdirector.cpu import one_blas_thread

        with one_blas_thread():  # no BLAS threads left spinning on the cores the decoder needs next
            return self._direct_many(ideas, Request(target, n, seed, constraints, grammar, decoding, steer, details,
                                                    tuple(early)))

    def _direct_many(self, ideas: Sequence[str], request: Request) -> list[DirectionResult]:
        n, seed, target, grammar = request.n, request.seed, request.target, request.grammar
        # 1. Check the request: every idea, the options, what the model can do; nothing runs before this.
        checked = [check_idea(i) for i in ideas]
        self._check(request, [c.text for c in checked])
        clock = Stopwatch(len(checked))
        # 2. Retrieve the human prompts closest to each idea.
        retrieved = [self.retrieve(c.text) for c in checked]
        clock.lap("retrieve")
        # 3-4. Build each idea's prompt and decode; candidate k uses few-shot set seed+k and samples if k > 0.
        decoder = dispatch.build(self.lm, request.decoding, constraints=request.constraints, grammar=grammar,
                                 max_new_tokens=self.token_limit(request.decoding))
        bias = self._steering(request.steer)
        texts = [c.text for c in checked]
        decoded = [self._decode(decoder, texts, retrieved, k, seed, bias) for k in range(n)]
        clock.lap("decode")
        results = []
        for i, idea in enumerate(checked):
            candidates, used = [], Counter()
            for k in range(n):
                out = decoded[k][i]
                # 5. Parse what the model wrote and select the modifiers: retrieval vote, then the guards.
                chosen = select_modifiers(idea.text, out.text, truncated=out.finish_reason == "length",
                                          seed=seed + k, retrieved=retrieved[i], details=request.details, used=used,
                                          ranker=self.ranker)
                used.update(p.lower() for p in chosen.direction.phrases())
                used.update(f"by {p.lower()}" for p in chosen.direction.parts.get("artist", []))  # as retrieved
                notes = [*idea.notes, *(request.constraints.notes if request.constraints else ()),
                         *guard_notes(chosen.faults)]
                if chosen.fallback:
                    notes.append("the model wrote too few usable modifiers; used those of retrieved human prompts "
                                 "and vocabulary tags instead")
                # 6. The constraints, a video direction's motion, a negative prompt for the direction's medium.
                if target == "video":
                    add_motion(chosen.direction, random.Random(seed + k))
                chosen.direction.negative = negative_prompt(chosen.direction, chosen.direction.negative)
                if request.constraints:
                    request.constraints.apply_to(chosen.direction, notes)
                chosen.direction.early = [*request.early, *chosen.direction.early]
                # 7. Render for the target within its token budget.
                rendered = render(chosen.direction, target)
                candidates.append(DirectionResult(
                    idea=idea.text, target=target, direction=chosen.direction, rendered=rendered,
                    model=self.lm.name, fallback=chosen.fallback, rejected=chosen.rejected,
                    notes=notes, retrieved=retrieved[i], decoding=decoder_name(request.decoding, k),
                    constraints=request.constraints.report(rendered.prompt, out.met) if request.constraints else None,
                ))
            results.append(replace(candidates[0], candidates=candidates) if n > 1 else candidates[0])
        clock.lap("select")  # stages 5-7: selection, constraints, rendering
        for result in (r for top in results for r in (top, *top.candidates)):
            result.timings, result.seconds = dict(clock.laps), sum(clock.laps.values())
        return results

    def _check(self, request: Request, ideas: list[str]) -> None:
        """What stage 1 checks beyond the request itself: the ideas against the constraints, the LM."""
        dispatch.check_capabilities(self.lm, request.decoding, steer=bool(request.steer))
        c = request.constraints
        if c:
            for idea in ideas:
                banned = c.violated(idea.lower())
                if banned:
                    raise BadInput(f"the idea {idea!r} itself contains the excluded phrase '{banned}'")
            c.check_budget(ideas, get_target(request.target).budget)

    def _steering(self, steer: float):
        if not steer:
            return None
        from artdirector.decoding.steer import vocabulary_bias

        return vocabulary_bias(self.lm, steer)


def load_ranker(ranker: str | Path | None, library, variety: float | None = None):
    """"default" (the shipped learned ranker; the vote if this installation has none), "consensus" (the set that
    agrees best with the closest prompts, ``library.consensus``), "vote" (``library.ranker.Vote``), a ranker
    folder, or None; there is nothing to rank without a library. ``variety``: how strongly generic phrases are
    held back (None: ``library.retrieval.VARIETY``)."""
    if ranker is None or library is None:
        return None
    from artdirector.library.consensus import Consensus
    from artdirector.library.ranker import PhraseVectors, Ranker, Vote
    from artdirector.library.retrieval import VARIETY

    variety = VARIETY if variety is None else variety
    embedder, vectors = library.embedder, PhraseVectors.of(library)
    if ranker == "default":
        return (Ranker.default(embedder, variety=variety, vectors=vectors)
                or Vote(embedder, vectors, variety=variety))
    if ranker == "consensus":
        return Consensus(embedder, vectors, variety=variety)
    if ranker == "vote":
        return Vote(embedder, vectors, variety=variety)
    return Ranker.from_folder(ranker, embedder, variety=variety, vectors=vectors)


class Stopwatch:
    """Seconds per stage, per idea: a batch's time is shared by its ideas."""

    def __init__(self, ideas: int):
        self.ideas, self.laps, self.last = max(ideas, 1), {}, time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = (now - self.last) / self.ideas
        self.last = now


def guard_notes(faults, shown: int = 6) -> list[str]:
    """What the guards kept out, in one note (the first ``shown``, with why for each kind)."""
    if not faults:
        return []
    listed = ", ".join(f"'{f.phrase}' ({f.guard})" for f in faults[:shown])
    more = f" and {len(faults) - shown} more" if len(faults) > shown else ""
    return [f"the guards kept out {listed}{more}: new subject matter, another medium, a contradicted colour, "
            "time or weather, or a near-duplicate (details=True keeps scene details)"]


def decoder_name(decoding: str, k: int) -> str:
    """What wrote candidate ``k``: greedy decoding samples for every candidate after the first."""
    return "sample" if decoding == "greedy" and k else decoding
