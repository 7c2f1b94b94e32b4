"""Text rewards: plain callables in TRL's shape, each checked on cases whose order is clear."""

import pytest

from artdirector import rewards as R

IDEA = "a lighthouse in a storm"
GOOD = f"{IDEA}, oil painting, dramatic lighting, by ivan aivazovsky, highly detailed, trending on artstation"
PROSE = "the future is your own world in 3D! imagine yourself in a lighthouse and then you see it"


def test_fidelity_prefers_the_prompt_that_keeps_the_subject(minilm):
    scores = R.Fidelity(minilm)([""] * 2, [GOOD, "a bowl of ramen, studio photo, 8k"], idea=[IDEA, IDEA])
    assert scores[0] > scores[1] + 0.3 and all(0 <= s <= 1 for s in scores)


def test_modifier_quality_rewards_expert_modifiers_not_prose_or_repeats():
    good, prose, repeated = R.modifier_quality([""] * 3, [GOOD, PROSE, f"{IDEA}, oil painting, oil painting, "
                                                          "oil painting"], idea=[IDEA] * 3)
    assert good >= 0.5 > repeated > 0 and prose == 0.0


def test_token_budget_is_one_inside_the_window_and_falls_beyond():
    short, long = R.token_budget([""] * 2, [GOOD, ", ".join([GOOD] * 5)])
    assert short == 1.0 and 0.0 <= long < 0.5


def test_keeps_idea_and_no_repetition():
    assert R.keeps_idea([""] * 2, [GOOD, "oil painting, " + IDEA], idea=[IDEA] * 2) == [1.0, 0.0]
    assert R.no_repetition([""] * 2, ["a, b, c", "a, a, a, b"]) == [1.0, 0.5]


def test_constraints_and_weighted_combination():
    cs = R.ConstraintSatisfaction(include=[["hokusai", "katsushika hokusai"], ["ukiyo-e"]], exclude=["blurry"])
    assert cs([""] * 2, ["a wave, ukiyo-e, by hokusai", "a wave, ukiyo-e, blurry"]) == [1.0, pytest.approx(1 / 3)]
    both = R.combine([(R.keeps_idea, 3.0), (R.no_repetition, 1.0)])
    assert both([""], ["x, y, y"], idea=["x"]) == [pytest.approx(0.75 + 0.25 * 2 / 3)]
    with pytest.raises(ValueError):
        R.text_reward(None, {"aesthetics": 1.0})


def test_the_default_text_reward_ranks_a_human_style_prompt_above_prose(minilm):
    reward = R.text_reward(minilm)
    good, prose = reward(["", ""], [GOOD, PROSE], idea=[IDEA, IDEA])
    assert good > prose + 0.3
