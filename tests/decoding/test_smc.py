"""SMC steering: resampling rule, and the sampler on the real embedded model."""

import numpy as np

from artdirector.decoding.constraints import Constraints
from artdirector.decoding.grammar import DIRECTION_GRAMMAR, Grammar
from artdirector.decoding.smc import smc_generate, systematic_resample
from artdirector.lm.base import GenerationConfig


def test_systematic_resampling_keeps_each_particle_in_proportion():
    rng = np.random.default_rng(0)
    w = np.array([0.5, 0.25, 0.125, 0.125, 0.0, 0.0, 0.0, 0.0])
    for _ in range(20):
        keep = systematic_resample(w, rng)
        counts = np.bincount(keep, minlength=8)
        assert counts[0] == 4 and counts[1] == 2 and counts[2] == 1 and counts[3] == 1  # exact: N·w integral
        assert counts[4:].sum() == 0


def test_smc_returns_distinct_answers_that_avoid_exclusions(director):
    idea = "a lighthouse in a storm"
    c = Constraints.build(exclude=["8 k", "artstation"])
    res = smc_generate(director.lm, director.build_prompt(idea), prefix=idea + ",", constraints=c, particles=6,
                       config=GenerationConfig(max_new_tokens=40, seed=3))
    assert res.texts and len(res.texts) == len(set(res.texts))
    assert abs(sum(res.weights) - 1) < 1e-6 and res.weights == sorted(res.weights, reverse=True)
    for text, ok in zip(res.texts, res.satisfied):
        if res.weights[res.texts.index(text)] > 0:
            assert ok and "artstation" not in text.lower()


def test_smc_under_the_grammar_only_keeps_grammatical_answers(director):
    idea = "a castle at dusk"
    res = smc_generate(director.lm, director.build_prompt(idea), prefix=idea + ",", grammar=Grammar(DIRECTION_GRAMMAR),
                       particles=4, config=GenerationConfig(max_new_tokens=80, seed=0))
    best = res.texts[0]
    assert res.weights[0] > 0 and all(p == p.lower() and len(p.split()) <= 5 for p in best.split(", "))
