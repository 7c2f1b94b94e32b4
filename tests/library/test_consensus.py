"""The consensus set (``library.consensus``): the modifiers that agree best with the closest human prompts."""

from artdirector.library.consensus import Consensus
from artdirector.library.library import Hit


def pool():
    # Three close prompts agree on oil painting and dramatic lighting; one also says golden hour; a less close
    # one brings a phrase nobody else uses.
    return [Hit("a castle at dusk, oil painting, dramatic lighting, by thomas cole", 0.92, "t"),
            Hit("an old castle, oil painting, dramatic lighting, golden hour", 0.90, "t"),
            Hit("a castle on a lake, oil painting, dramatic lighting", 0.88, "t"),
            Hit("a castle, lomography, fisheye lens", 0.65, "t")]


def test_the_set_is_what_the_close_prompts_share_and_stops_when_nothing_raises_expected_f1(minilm):
    ranking = Consensus(minilm, variety=0.0).rank("a castle at sunset", [], pool())
    chosen = ranking.phrases[:ranking.budget]
    assert chosen[:2] in (["oil painting", "dramatic lighting"], ["dramatic lighting", "oil painting"])
    assert "lomography" not in chosen and "fisheye lens" not in chosen  # one far prompt's taste
    assert 2 <= ranking.budget <= 4
    assert "lomography" in ranking.phrases  # the order runs on, for the guards to refill from


def test_the_models_answer_is_one_more_sample(minilm):
    hits = pool()
    counted = Consensus(minilm, variety=0.0).rank("a castle at sunset", ["golden hour"], hits)
    weightless = Consensus(minilm, variety=0.0, model_weight=0.0).rank("a castle at sunset", ["golden hour"], hits)
    assert counted.phrases.index("golden hour") < weightless.phrases.index("golden hour")
    assert "golden hour" in counted.phrases[:counted.budget]


def test_an_earlier_candidates_phrases_are_discounted(minilm):
    consensus = Consensus(minilm, variety=0.0)
    first = consensus.rank("a castle at sunset", [], pool())
    second = consensus.rank("a castle at sunset", [], pool(), used={first.phrases[0]: 1})
    assert second.phrases[0] != first.phrases[0]


def test_far_ideas_are_left_to_the_vote(minilm):
    far = [Hit(h.prompt, 0.4, "t") for h in pool()]
    consensus = Consensus(minilm)
    assert consensus.rank("a teapot", [], far) == consensus.vote.rank("a teapot", [], far)
