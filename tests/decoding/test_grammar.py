"""Grammar-constrained decoding on the real embedded model (llama.cpp) with llguidance."""

import pytest

from artdirector.decoding.grammar import DIRECTION_GRAMMAR, Grammar, GrammarError, grammar_generate
from artdirector.lm.base import GenerationConfig
from artdirector.parse import parse_modifiers

IDEAS = ["a lighthouse in a storm", "a cat in a garden", "portrait of an old fisherman", "a castle at dusk"]


def prompts(director):
    return [director.build_prompt(i) for i in IDEAS], [f"{i}," for i in IDEAS]


def test_every_answer_belongs_to_the_direction_grammar(director):
    ps, prefixes = prompts(director)
    found = grammar_generate(director.lm, ps, Grammar(DIRECTION_GRAMMAR), GenerationConfig(max_new_tokens=80),
                             prefixes=prefixes)
    for r in found:
        assert r.accepted
        phrases = r.text.split(", ")
        assert 2 <= len(phrases) <= 12
        assert all(p and p == p.lower() and len(p.split()) <= 5 for p in phrases)
        assert not parse_modifiers(", " + r.text).rejected  # nothing the parser would throw away
        assert r.mask_seconds < r.steps  # bookkeeping sanity: seconds, not steps


def test_a_user_grammar_decides_the_form(director):
    colour = Grammar('start: (phrase ", "){1,3} color\nphrase: /[a-z][a-z \\-]{1,30}/\n'
                     'color: "red" | "teal" | "gold"\n', "colour.lark")
    ps, prefixes = prompts(director)
    for r in grammar_generate(director.lm, ps, colour, GenerationConfig(max_new_tokens=80), prefixes=prefixes):
        *phrases, last = r.text.split(", ")
        assert r.accepted and last in ("red", "teal", "gold") and 1 <= len(phrases) <= 3


def test_sampling_under_a_grammar_varies_but_stays_inside(director):
    ps, prefixes = prompts(director)
    a = grammar_generate(director.lm, ps[:1] * 3, Grammar(DIRECTION_GRAMMAR),
                         GenerationConfig(max_new_tokens=60, temperature=0.9, seed=1), prefixes=prefixes[:1] * 3)
    assert len({r.text for r in a}) > 1 and all(r.accepted for r in a)


@pytest.mark.parametrize("text, message", [
    ("start: phrase (\nphrase: /x/\n", "line 1, column 16"),
    ("phrase: /[a-z]+/\n", "no 'start' rule"),
    ('start: a\na: "x" a\n', "no answer of at most"),
])
def test_bad_grammars_are_explained(director, text, message):
    ps, prefixes = prompts(director)
    with pytest.raises(GrammarError, match=message):
        grammar_generate(director.lm, ps[:1], Grammar(text, "g.lark"), GenerationConfig(max_new_tokens=16),
                         prefixes=prefixes[:1])


def test_rule_named_start_inside_strings_is_left_alone():
    g = Grammar('start: "start" x\nx: /start/ | start_word\nstart_word: "go"\n')
    wrapped = g.wrapped()
    assert '_main: "start" x' in wrapped and "/start/" in wrapped and "start_word" in wrapped
