"""Every critic path on tiny random-weight models saved as real folders and loaded by the product's loader."""

import pytest

from artdirector.critique import load_critic, parse_critic
from artdirector.critique.toy import ToyCritic
from artdirector.errors import BadInput, ScorerError
from artdirector.imaging.toy import ToyImages

IDEA = "a red cube on a blue sphere"


@pytest.fixture(scope="module")
def tiny_vqa(tmp_path_factory):
    from artdirector.imaging.testing import save_tiny_blip_vqa

    return str(save_tiny_blip_vqa(tmp_path_factory.mktemp("vqa") / "vqa"))


@pytest.mark.parametrize("kind", ["vqa", "clip"])
def test_model_critics_answer_every_question_as_a_probability(kind, tiny_vqa, tiny):
    critic = load_critic(f"{kind}={tiny_vqa if kind == 'vqa' else tiny.clip}")
    images = [ToyImages().draw(IDEA), ToyImages().draw("a green pyramid")]
    verdict = critic.critique(IDEA, {"medium": ["oil painting"]}, images)
    assert len(verdict.p_yes) == len(verdict.questions) == 6
    assert all(0.0 < p < 1.0 for p in verdict.p_yes) and 0.0 <= verdict.score <= 1.0
    rows = critic.answer(verdict.questions, images)
    assert len(rows) == 2 and rows[0] != rows[1]  # each image answered on its own
    critic.close()


def test_a_critic_is_a_reward_callable():
    toy = ToyImages(window=40)
    prompts = [f"{IDEA}, teal", f"{IDEA}, teal"]
    right, wrong = toy.draw(prompts[0]), toy.draw("a green pyramid")
    scores = ToyCritic()(prompts, [right, [wrong, wrong]])  # a clip: a list of frames
    assert scores[0] > scores[1]


def test_bad_critic_specs_are_refused(tmp_path):
    with pytest.raises(BadInput, match="unknown critic 'judge'"):
        parse_critic("judge=x")
    with pytest.raises(ScorerError, match="no such folder"):
        load_critic(f"vqa={tmp_path / 'missing'}")
    with pytest.raises(ScorerError, match="cannot load a BLIP VQA model"):
        load_critic(f"vqa={tmp_path}")  # a folder without a model
