"""Constraint specs as users give them, and how the director honours them after decoding."""

import pytest

from artdirector.brief import BadInput, Direction
from artdirector.decoding.constraints import Constraints, contains
from artdirector.render import render


def test_flags_become_cnf_clauses_with_alternatives_and_parts():
    c = Constraints.build(artist=["Hokusai | Katsushika Hokusai"], style=["ukiyo-e"], include=["teal"],
                          exclude=["Blurry", "blurry"])
    assert [(cl.alternatives, cl.category) for cl in c.include] == [
        (("teal",), None), (("hokusai", "katsushika hokusai"), "artist"), (("ukiyo-e",), "style")]
    assert c.exclude == ("blurry",)
    assert c.satisfied("a wave, by katsushika hokusai, teal") == frozenset({0, 1})
    assert c.violated("soft, blurry background") == "blurry" and c.violated("blurryface") is None


def test_matching_is_on_whole_words():
    assert contains("a red fox", "red") and not contains("a bored fox", "red")
    assert contains("ukiyo-e print", "ukiyo-e")


def test_the_decoder_and_the_reward_agree_on_what_meets_a_constraint():
    """One definition of "met" (``text.contains``): the issue's case, where a substring reward said 0.5."""
    from artdirector.rewards import ConstraintSatisfaction

    c = Constraints.build(include=["red"], exclude=["blur"])
    text = "a bored cat, blurry background"
    assert not c.met(text) and c.satisfied(text) == frozenset() and c.violated(text) is None
    assert ConstraintSatisfaction([["red"]], [])([""], [text]) == [0.0]  # "bored" is no "red"
    assert ConstraintSatisfaction([], ["blur"])([""], [text]) == [1.0]  # "blurry" is not "blur"
    assert ConstraintSatisfaction([["red"]], ["blur"])([""], ["a red cat, blur"]) == [0.5]


@pytest.mark.parametrize("kwargs, message", [
    ({"style": [" | "]}, "empty constraint"),
    ({"artist": ["blurry"], "exclude": ["blurry"]}, "both required and excluded"),
    ({"texture": ["rough"]}, "unknown category"),
])
def test_contradictory_or_empty_constraints_are_refused(kwargs, message):
    with pytest.raises(BadInput, match=message):
        Constraints.build(**kwargs)


def test_required_phrases_are_filed_pinned_and_survive_the_token_budget():
    c = Constraints.build(artist=["hokusai"], color=["teal"], exclude=["realistic"])
    d = Direction("a lighthouse in a storm")
    d.add("style", "hokusai style")  # the model wrote it, the classifier filed it under style
    d.add("style", "realistic")  # e.g. from the fallback pool: excluded
    for i in range(40):
        d.add("booster", f"detail {i}")
    notes = []
    c.apply_to(d, notes)
    assert d.parts["artist"] == ["hokusai style"] and "realistic" not in d.phrases()
    assert "teal" in d.parts["color"] and any("'teal' was added after decoding" in n for n in notes)
    assert "realistic" in d.negative
    r = render(d, "sd15")
    assert r.tokens <= 77 and "hokusai style" in r.prompt and "teal" in r.prompt and r.dropped
