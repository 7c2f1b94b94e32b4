"""NeuroLogic beam search on the real embedded model (llama.cpp backend)."""

import pytest

from artdirector.decoding.constraints import Constraints
from artdirector.decoding.neurologic import neurologic_generate
from artdirector.director import ArtDirector
from artdirector.lm.base import GenerationConfig
from artdirector.parse import parse_modifiers

IDEA = "a lighthouse in a storm"
CONFIG = GenerationConfig(max_new_tokens=48, stop=("\n", "<|im_end|>"), no_repeat_ngram_size=3)


@pytest.fixture(scope="module")
def prompt(llama_lm):
    return ArtDirector(llama_lm).build_prompt(IDEA, 0)


@pytest.fixture(scope="module")
def plain(llama_lm, prompt):
    return llama_lm.generate([prompt], CONFIG, prefixes=[IDEA + ","])[0].text.lower()


def test_a_required_artist_the_model_would_not_write_is_written(llama_lm, prompt, plain):
    assert "hokusai" not in plain
    found = neurologic_generate(llama_lm, prompt, Constraints.build(artist=["hokusai"]), prefix=IDEA + ",",
                                config=CONFIG)
    assert found.satisfied and not found.unmet
    assert any("hokusai" in p for p in parse_modifiers(found.text, IDEA).phrases)  # a clean modifier, not noise


def test_an_excluded_phrase_the_model_would_write_is_avoided(llama_lm, prompt, plain):
    first = parse_modifiers(plain, IDEA).phrases[0]
    found = neurologic_generate(llama_lm, prompt, Constraints.build(exclude=[first]), prefix=IDEA + ",",
                                config=CONFIG)
    assert found.satisfied and first not in found.text.lower()
    assert parse_modifiers(found.text, IDEA).phrases  # still writes a direction, not an empty answer


def test_two_clauses_and_an_exclusion_together(llama_lm, prompt):
    c = Constraints.build(artist=["hokusai|katsushika hokusai"], style=["ukiyo-e"], exclude=["realistic"])
    found = neurologic_generate(llama_lm, prompt, c, prefix=IDEA + ",", config=CONFIG)
    low = found.text.lower()
    assert found.satisfied and "hokusai" in low and "ukiyo-e" in low and "realistic" not in low


def test_an_unreachable_constraint_fails_cleanly_at_the_length_limit(llama_lm, prompt):
    c = Constraints.build(include=["katsushika hokusai woodblock print"])
    found = neurologic_generate(llama_lm, prompt, c, prefix=IDEA + ",",
                                config=GenerationConfig(max_new_tokens=3, stop=("\n",)))
    assert not found.satisfied and found.unmet == [("katsushika hokusai woodblock print",)]


def test_candidates_under_constraints_are_distinct_beam_answers(director):
    from artdirector.decoding.constraints import Constraints

    c = Constraints.build(color=["teal|turquoise"])
    result = director.direct("a lighthouse in a storm", n=3, constraints=c)
    prompts = [r.prompt for r in result.candidates]
    assert len(set(prompts)) == 3  # not three copies of one deterministic search
    assert all("teal" in p or "turquoise" in p for p in prompts)
    assert all(r.decoding == "neurologic" for r in result.candidates)
