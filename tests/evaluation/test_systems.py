from artdirector.corpus import HumanPrompt
from artdirector.evaluation.systems import (
    ArtDirectorSystem,
    DynamicPrompts,
    FewShot,
    GuardedNearestNeighbour,
    NearestNeighbour,
    VocabExpansion,
)
from artdirector.lm.dummy import DummyLM

TRAIN = [
    HumanPrompt("a castle on a hill at sunset, oil painting, by thomas cole", "t"),
    HumanPrompt("portrait of a cyborg woman, cyberpunk, neon lights, 8k", "t"),
    HumanPrompt("a bowl of ramen, food photography, 35mm", "t"),
]


def test_nearest_neighbour_takes_the_closest_ideas_modifiers_over_all_collections(tmp_path):
    from artdirector import embedding
    from artdirector.library.library import PromptLibrary

    (tmp_path / "a.txt").write_text("\n".join(p.prompt for p in TRAIN) + "\n")
    (tmp_path / "b.txt").write_text("an old fortress on a mountain at dusk, gouache, by john howe\n")
    lib = PromptLibrary(tmp_path / "lib", embedding.load())
    lib.ingest(tmp_path / "a.txt", "builtin")
    lib.ingest(tmp_path / "b.txt", "discord")
    nn = NearestNeighbour(lib, ("builtin", "discord", "absent"))
    out = nn.generate(["an old fortress on a mountain at dusk", "android girl portrait"], n=2, seed=0)
    assert out[0] == ["an old fortress on a mountain at dusk, gouache, by john howe",  # the other collection's
                      "an old fortress on a mountain at dusk, oil painting, by thomas cole"]
    assert out[1][0] == "android girl portrait, cyberpunk, neon lights, 8k"
    only = NearestNeighbour(lib, ("builtin",)).generate(["an old fortress on a mountain at dusk"], n=1, seed=0)
    assert only == [["an old fortress on a mountain at dusk, oil painting, by thomas cole"]]


def test_guarded_nearest_neighbour_keeps_only_what_the_directors_guards_let_in(tmp_path):
    from artdirector import embedding
    from artdirector.library.library import PromptLibrary

    (tmp_path / "a.txt").write_text(
        "portrait of a woman, medium length white hair, oil painting, 8k, 4k, by john singer sargent\n"
        "a lighthouse in a storm, oil painting, by ivan aivazovsky, dramatic lighting, sunny\n")
    lib = PromptLibrary(tmp_path / "lib", embedding.load())
    lib.ingest(tmp_path / "a.txt", "builtin")
    ideas = ["portrait of a woman", "a photo of a lighthouse in a storm"]
    plain = NearestNeighbour(lib, ("builtin",)).generate(ideas, n=1, seed=0)
    guarded = GuardedNearestNeighbour(lib, ("builtin",)).generate(ideas, n=1, seed=0)
    assert plain[0] == ["portrait of a woman, medium length white hair, oil painting, 8k, 4k, by john singer sargent"]
    # the scene detail is invented, one resolution token is enough
    assert guarded[0] == ["portrait of a woman, oil painting, 8k, by john singer sargent"]
    # the idea is a photo: no painting, no painter; no sunny weather in a storm
    assert guarded[1] == ["a photo of a lighthouse in a storm, dramatic lighting"]


def test_dynamicprompts_fills_the_template_from_the_vocabularies(tmp_path):
    dp = DynamicPrompts(tmp_path)
    a = dp.generate(["a cat {x|y} __not_a_wildcard__"], n=3, seed=1)
    assert a == dp.generate(["a cat {x|y} __not_a_wildcard__"], n=3, seed=1)  # seeded
    for p in a[0]:
        assert p.startswith("a cat {x|y} __not_a_wildcard__, ")  # the idea is never templated
        assert len(p.split(", ")) == 7 and "__" not in p.split(", ", 1)[1]
    assert len(set(a[0])) > 1


def test_fewshot_uses_a_plain_prompt_and_keeps_the_idea_first():
    lm = DummyLM([" oil painting, 8k\n", " sketch\n"])
    out = FewShot(lm, TRAIN, shots=2).generate(["a fox"], n=2, seed=0)
    assert out == [["a fox, oil painting, 8k", "a fox, sketch"]]
    assert lm.calls[0].count("Idea: ") == 3 and lm.calls[0].endswith("Idea: a fox\nPrompt: a fox,")


def test_vocab_expansion_biases_toward_vocabulary_tokens(llama_lm):
    ve = VocabExpansion(llama_lm, TRAIN, shots=2)
    oil = llama_lm.tokenize(" oil")[0]
    assert ve.bias[oil] == 2.0
    assert ve.config(0, 0).logit_bias is ve.bias
    assert len(ve.generate(["a lighthouse in a storm"], n=1, seed=0)[0]) == 1


def test_artdirector_system_returns_n_candidates():
    from artdirector.director import ArtDirector

    lm = DummyLM([" oil painting, 8k", " sketch, moody"])
    out = ArtDirectorSystem(ArtDirector(lm)).generate(["a fox"], n=2, seed=0)
    assert out == [["a fox, oil painting, 8k", "a fox, sketch, moody"]]


def test_constrained_director_systems_impose_the_colour_pattern_their_own_way(director):
    from artdirector.evaluation.metrics import constraint_satisfaction
    from artdirector.evaluation.systems import ConstrainedDirector, colour_pattern

    ideas = ["a lighthouse in a storm", "a quiet harbour at dawn"]
    c = colour_pattern()
    for how in ("neurologic", "grammar"):
        out = ConstrainedDirector(director, c, how, f"x-{how}").generate(ideas, n=1, seed=0)
        assert constraint_satisfaction([o[0] for o in out], c) == 1.0, (how, out)
        assert all(o[0].startswith(i + ", ") for o, i in zip(out, ideas))
    asked = ConstrainedDirector(director, c, "asked", "x-asked").generate(ideas, n=1, seed=0)
    assert all(o[0].startswith(i + ", ") and "color:" not in o[0] for o, i in zip(asked, ideas))


def test_steering_biases_every_vocabulary_token(llama_lm):
    from artdirector.decoding.steer import vocabulary_bias

    bias = vocabulary_bias(llama_lm, 1.5, size=50)
    assert set(bias.values()) == {1.5} and llama_lm.tokenize(" painting")[0] in bias
    assert len(vocabulary_bias(llama_lm, 1.5, size=500)) > len(bias)
