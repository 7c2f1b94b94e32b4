"""Every decoder on ``DummyLM`` (milliseconds, no weights), the capability checks, and the registries:
a new decoder, backend or target is one class and one registry entry."""

import sys
import types

import pytest

from artdirector.decoding import dispatch
from artdirector.decoding.constraints import Constraints
from artdirector.decoding.grammar import Grammar
from artdirector.director import ArtDirector
from artdirector.errors import BadInput, Unsupported
from artdirector.lm.base import Generation, LanguageModel
from artdirector.lm.dummy import DummyLM

# Tokens are characters, so beam search's ban on repeated trigrams is a ban on repeated character trigrams:
# these answers have none, so every decoder can write them.
ANSWERS = {"a lighthouse in a storm": " oil painting, by hokusai, 8k", "a red fox": " watercolor, soft light, 8k"}


def director(**kw):
    return ArtDirector(DummyLM(ANSWERS), max_new_tokens=80, tuned=True, **kw)


@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_plain_decoders_write_the_models_answer(decoding):
    results = director().direct_many(list(ANSWERS), decoding=decoding)
    assert [r.prompt for r in results] == [f"{idea},{answer}" for idea, answer in ANSWERS.items()]
    assert {r.decoding for r in results} == {decoding}


def test_neurologic_writes_a_required_phrase_the_model_would_not():
    c = Constraints.build(style=["ukiyo-e"], exclude=["8k"])
    r = director().direct("a lighthouse in a storm", constraints=c)
    assert r.decoding == "neurologic"
    assert "ukiyo-e" in r.prompt and "8k" not in r.prompt.split(", ")
    assert all(clause["satisfied"] for clause in r.constraints)


def test_grammar_decoding_keeps_the_answer_inside_the_grammar():
    grammar = Grammar('start: phrase (", " phrase){0,3} ", " mood\nphrase: /[a-z0-9][a-z0-9 ]{1,30}/\n'
                      'mood: "serene" | "eerie" | "epic"\n')
    r = director().direct("a red fox", grammar=grammar)
    assert r.decoding == "grammar"
    # the model's answer, then the mood the grammar demands where the model would have stopped
    assert r.direction.parts == {"medium": ["watercolor"], "lighting": ["soft light"], "mood": ["epic"],
                                 "booster": ["8k"]}


def test_smc_takes_constraints_and_a_grammar_together():
    c = Constraints.build(include=["golden hour"])
    grammar = Grammar('start: phrase (", " phrase){1,5}\nphrase: /[a-z][a-z ]{1,30}/\n')
    r = director().direct("a lighthouse in a storm", constraints=c, grammar=grammar)
    assert r.decoding == "smc" and "golden hour" in r.prompt


def test_candidates_of_a_beam_are_distinct_directions():
    r = director().direct("a red fox", decoding="beam", n=3)
    prompts = [c.prompt for c in r.candidates]
    assert prompts[0] == f"a red fox,{ANSWERS['a red fox']}" and len(set(prompts)) == len(prompts)


class Server(LanguageModel):
    """A generation-only model, as an HTTP server LM would be."""

    name = "server"

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, config=None, *, prefixes=None):
        self.calls += 1
        return [Generation(" sketch, 8k") for _ in prompts]


@pytest.mark.parametrize("kw", [{"constraints": Constraints.build(style=["ukiyo-e"])}, {"decoding": "beam"},
                                {"grammar": Grammar('start: "x"\n')}, {"steer": 2.0}])
def test_a_request_the_model_cannot_serve_is_refused_before_any_work(kw):
    lm = Server()
    with pytest.raises(Unsupported, match="needs (top_)?logprobs"):
        ArtDirector(lm, tuned=True).direct("a cat", **kw)
    assert lm.calls == 0
    assert ArtDirector(lm, tuned=True).direct("a cat").prompt == "a cat, sketch, 8k"  # plain decoding works


def test_top_logprobs_serve_neurologic_but_not_the_decoders_that_weigh_every_token():
    """What a server with top-k log-probabilities offers (``OpenAITokenLM``): NeuroLogic and beam run, SMC,
    grammars and steering are refused; full log-probabilities imply top ones."""
    from artdirector.decoding.dispatch import check_capabilities

    class TopK(DummyLM):
        capabilities = frozenset({"generate", "top_logprobs"})

    lm = TopK(ANSWERS)
    result = ArtDirector(lm, max_new_tokens=80, tuned=True).direct("a red fox",
                                                                   constraints=Constraints.build(style=["ukiyo-e"]))
    assert result.decoding == "neurologic" and "ukiyo-e" in result.prompt
    for decoding, steer in (("smc", False), ("grammar", False), ("greedy", True)):
        with pytest.raises(Unsupported, match="needs logprobs"):
            check_capabilities(lm, decoding, steer=steer)
    check_capabilities(DummyLM(ANSWERS), "beam")  # a local model offers everything


@pytest.mark.parametrize("kw, message", [
    ({"decoding": "neurologic"}, "needs a constraint"),
    ({"decoding": "beam", "grammar": Grammar('start: "x"\n')}, "does not take a grammar"),
    ({"decoding": "greedy", "grammar": Grammar('start: "x"\n')}, "does not take a grammar"),
    ({"decoding": "nucleus"}, "unknown decoding"),
    ({"seed": -5}, "non-negative"),
    ({"n": 0}, "at least 1"),
    ({"steer": -1.0}, ">= 0"),
])
def test_bad_requests_are_refused_with_a_message(kw, message):
    lm = DummyLM(ANSWERS)
    with pytest.raises(BadInput, match=message):
        ArtDirector(lm, tuned=True).direct("a red fox", **kw)
    assert lm.calls == []


def test_a_new_decoder_is_one_module_and_one_registry_line(monkeypatch):
    module = types.ModuleType("my_decoder")

    class Shout(dispatch.Decoder):
        def decode(self, k, prompts, prefixes, config):
            return [dispatch.Decoded(" SKETCH, MOODY") for _ in prompts]

    module.Shout = Shout
    monkeypatch.setitem(sys.modules, "my_decoder", module)
    monkeypatch.setitem(dispatch.DECODERS, "shout", "my_decoder:Shout")
    monkeypatch.setattr(dispatch, "CHOICES", (*dispatch.CHOICES, "shout"))
    r = director().direct("a red fox", decoding="shout")
    assert r.decoding == "shout" and r.prompt == "a red fox, sketch, moody"


def test_a_new_backend_is_one_module_and_one_registry_line(monkeypatch):
    from artdirector import lm as backends

    module = types.ModuleType("my_backend")

    class Mine(DummyLM):
        @classmethod
        def from_embedded(cls, *, adapter=None, progress=None):
            return cls(ANSWERS)

    module.Mine = Mine
    monkeypatch.setitem(sys.modules, "my_backend", module)
    monkeypatch.setitem(backends.BACKENDS, "mine", "my_backend:Mine")
    d = ArtDirector.from_default(backend="mine", rag=False, adapter=None)
    assert isinstance(d.lm, Mine) and d.direct("a red fox").prompt == f"a red fox,{ANSWERS['a red fox']}"


def test_a_new_target_is_one_registry_entry(monkeypatch):
    from artdirector import render

    monkeypatch.setitem(render.TARGETS, "tiny", render.Target("tiny", 12, prose=False, negative=False))
    r = director().direct("a red fox", target="tiny")
    assert r.rendered.budget == 12 and r.rendered.tokens <= 12 and r.rendered.dropped


def test_a_new_scorer_is_one_module_and_one_registry_line(monkeypatch):
    from click.testing import CliRunner

    from artdirector import scoring
    from artdirector.cli import main
    from artdirector.imaging.pipeline import ImageJob
    from artdirector.scoring.base import ImageScorer

    module = types.ModuleType("my_scorer")

    class Brightness(ImageScorer):
        name = "brightness"

        @classmethod
        def from_pretrained(cls, model=None, *, device=None):
            return cls()

        def score(self, prompts, images):
            return [float(im) for im in images]

    module.Brightness = Brightness
    monkeypatch.setitem(sys.modules, "my_scorer", module)
    monkeypatch.setitem(scoring.SCORERS, "brightness", ("my_scorer", "Brightness"))
    scorer = scoring.load_scorer("brightness")
    assert scorer(["a", "b"], [[1, 3], 4]) == [2.0, 4.0]  # a clip scores the mean of its frames
    assert ImageJob(image_model="x", scorers={"brightness": None}).scorers == {"brightness": None}
    r = CliRunner().invoke(main, ["generate", "a cat", "--image-model", "x", "--score", "brightness", "--rank-by",
                                  "clip"])
    assert r.exit_code == 2 and "not among" in r.output  # the CLI knows the new name without being told
