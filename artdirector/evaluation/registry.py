"""The systems the evaluation compares, by name: the registry ``eval prefix --systems`` reads.

``build_systems(names)`` is the outer edge where names become objects; the LM, the library and the embedder
are loaded once and shared. A new system is a class in ``systems`` and one entry in ``_factories``.
"""

from __future__ import annotations

from pathlib import Path

from artdirector.errors import BadInput

BASE_SYSTEMS = ("original", "frequent-modifiers", "nearest-neighbour", "nearest-neighbour-guarded", "dynamicprompts",
                "fewshot", "vocab-expansion", "artdirector")
# "-rag": the director without retrieval; "-sft": the plain model prompted few-shot, without the adapter;
# "-vote": the hand-set retrieval vote instead of the learned ranker
ABLATIONS = ("artdirector-rag", "artdirector-sft", "artdirector-vote")
# The director under LaDi's colour-pattern constraint (``systems.colour_pattern``), by each way to impose it.
COLOUR_SYSTEMS = ("artdirector:colour-asked", "artdirector:colour-neurologic", "artdirector:colour-grammar",
                  "artdirector:colour-smc")
KNOWN = BASE_SYSTEMS + ABLATIONS + COLOUR_SYSTEMS
OTHER_LM, WITH_ADAPTER = "artdirector@", "artdirector+"  # any causal LM directory or hub id; a PEFT folder
# The seed papers' experiments as presets.
SUITES = {
    "base": ",".join(BASE_SYSTEMS),
    "idea-vs-directed": "original,artdirector",
    "colour": ",".join(("artdirector", *COLOUR_SYSTEMS)),  # satisfaction and fluency of a colour constraint
    "rag": "artdirector,artdirector-rag,nearest-neighbour",
    "ranker": "artdirector,artdirector-vote,nearest-neighbour",
    "diversity": ",".join(("artdirector", *COLOUR_SYSTEMS[1:])),  # with vs without constraints; use n=4
    "sft": "artdirector,artdirector-sft,frequent-modifiers,nearest-neighbour",
    "lm-choice": "artdirector",  # add artdirector@MODEL entries: any causal LM directory or hub id
}


def check_names(names: list[str]) -> None:
    unknown = [n for n in names if n not in KNOWN and not n.startswith((OTHER_LM, WITH_ADAPTER))]
    if unknown:
        raise BadInput(f"unknown systems {', '.join(unknown)}; valid: {', '.join(KNOWN)}, "
                       f"{OTHER_LM}MODEL (a causal LM directory or hub id) or {WITH_ADAPTER}ADAPTER (a folder)")
    for n in names:
        if n.startswith(WITH_ADAPTER) and not (Path(n[len(WITH_ADAPTER):]) / "adapter_config.json").is_file():
            raise BadInput(f"{n}: {n[len(WITH_ADAPTER):]} is not a PEFT adapter folder")


class _Shared:
    """What the systems of one run share, each loaded on first use."""

    def __init__(self):
        self._made: dict = {}

    def once(self, key, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def embedder(self):
        from artdirector import embedding

        return self.once("embedder", embedding.load)

    def lm(self, adapter=None):
        from artdirector.lm.llamacpp_backend import LlamaCppLM

        return self.once(("lm", adapter), lambda: LlamaCppLM.from_embedded(adapter=adapter))

    def library(self):
        from artdirector.library.library import PromptLibrary

        def make():
            lib = PromptLibrary.default(self.embedder())
            lib.ensure_builtin()
            return lib

        return self.once("library", make)

    def train(self):
        from importlib import resources

        from artdirector.corpus import read_tsv

        return self.once("train", lambda: list(read_tsv(str(resources.files("artdirector.data").joinpath(
            "prompts/train.tsv")))))

    def director(self, rag: bool = True, tuned: bool = True, lm=None, ranker: bool = True):
        from artdirector.director import ArtDirector, default_adapter, load_ranker

        adapter = default_adapter() if tuned else None
        kind = "default" if ranker else "vote"
        # The ranker is loaded against the library; a system without retrieval has neither.
        return ArtDirector(lm or self.lm(adapter), library=self.library() if rag else None,
                           tuned=tuned and (lm is not None or adapter is not None),
                           ranker=self.once(f"ranker-{kind}", lambda: load_ranker(kind, self.library()))
                           if rag else None)


def _factories(shared: _Shared) -> dict:
    from artdirector.config import user_dir
    from artdirector.evaluation import systems as S
    from artdirector.library.library import SHIPPED
    from artdirector.prompting import exemplar_pool

    return {
        "original": lambda: S.Original(),
        "frequent-modifiers": lambda: S.FrequentModifiers(shared.train()),
        "nearest-neighbour": lambda: S.NearestNeighbour(shared.library(), tuple(SHIPPED)),
        "nearest-neighbour-guarded": lambda: S.GuardedNearestNeighbour(shared.library(), tuple(SHIPPED)),
        "dynamicprompts": lambda: S.DynamicPrompts(user_dir() / "wildcards"),
        "fewshot": lambda: S.FewShot(shared.lm(), exemplar_pool()),
        "vocab-expansion": lambda: S.VocabExpansion(shared.lm(), exemplar_pool()),
        "artdirector": lambda: S.ArtDirectorSystem(shared.director()),
        "artdirector-rag": lambda: S.ArtDirectorSystem(shared.director(rag=False), name="artdirector-rag"),
        "artdirector-sft": lambda: S.ArtDirectorSystem(shared.director(tuned=False), name="artdirector-sft"),
        "artdirector-vote": lambda: S.ArtDirectorSystem(shared.director(ranker=False), name="artdirector-vote"),
        **{name: (lambda name=name: S.ConstrainedDirector(shared.director(), S.colour_pattern(),
                                                          name.rsplit("-", 1)[1], name)) for name in COLOUR_SYSTEMS},
    }


def build_systems(names: list[str]):
    """The systems named, and a function giving the shared embedder (the metrics need it)."""
    from artdirector.evaluation import systems as S

    check_names(names)
    shared = _Shared()
    factories = _factories(shared)

    def make(name: str):
        if name in factories:
            return factories[name]()
        if name.startswith(WITH_ADAPTER):
            return S.ArtDirectorSystem(shared.director(lm=shared.lm(name[len(WITH_ADAPTER):])), name=name)
        from artdirector.lm.transformers_backend import TransformersLM

        lm = TransformersLM.from_pretrained(name[len(OTHER_LM):])
        return S.ArtDirectorSystem(shared.director(tuned=False, lm=lm), name=name)

    return [make(n) for n in names], shared.embedder
