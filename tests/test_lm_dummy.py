"""``DummyLM``: the test double drives ``generate`` and every decoder without weights."""

import numpy as np
import pytest

from artdirector.lm.base import GenerationConfig, LanguageModel, TokenLM
from artdirector.lm.dummy import ANSWER_START, EOS, DummyLM

PLAIN = GenerationConfig(max_new_tokens=40, stop=(), presence_penalty=0, no_repeat_ngram_size=0)


def test_replays_queued_outputs_in_order_and_records_prompts():
    lm = DummyLM([" oil painting, 8k", " sketch\nIdea: more"])
    out = lm.generate(["p1", "p2"], GenerationConfig(stop=("\n",)), prefixes=["a cat,", "a dog,"])
    assert [g.text for g in out] == [" oil painting, 8k", " sketch"]
    assert [g.finish_reason for g in out] == ["stop", "stop"]
    cut = DummyLM(["abcdef"]).generate(["p"], GenerationConfig(max_new_tokens=4))[0]
    assert (cut.text, cut.finish_reason) == ("abcd", "length")
    assert lm.calls == ["p1a cat,", "p2a dog,"]


def test_running_out_is_an_error_unless_cycling():
    lm = DummyLM(["x"])
    lm.generate(["p"])
    with pytest.raises(IndexError):
        lm.generate(["p"])
    cyc = DummyLM(["x"], cycle=True)
    assert [g.text for g in cyc.generate(["p", "q", "r"])] == ["x", "x", "x"]


def test_answers_keyed_by_prompt_text_serve_a_batch_in_any_order():
    lm = DummyLM({"a cat": " sketch", "a dog": " ink"})
    out = lm.generate([f"{ANSWER_START}", f"user a dog {ANSWER_START}", f"user a cat {ANSWER_START}"][1:])
    assert [g.text for g in out] == [" ink", " sketch"]
    with pytest.raises(KeyError, match="no answer"):
        lm.generate(["a horse"])
    assert DummyLM({"cat": "x"}, default="y").generate(["a horse"])[0].text == "y"


def test_scores_peak_on_the_answer_from_where_the_answer_starts():
    lm = DummyLM({"a cat": " sketch, 8k"})
    assert isinstance(lm, TokenLM) and {"logprobs", "token_table"} <= lm.capabilities
    prompt = f"<|im_start|>user\na cat<|im_end|>\n{ANSWER_START}"
    # the decoder began the answer with the idea: the double aligns what is written with its answer
    for written, expected in [("a cat,", " "), ("a cat, sk", "e"), ("a cat, sketch, 8k", None)]:
        row = lm.next_token_logprobs([lm.tokenize(prompt + written)])[0]
        top = int(np.argmax(row))
        assert (top == EOS) if expected is None else (lm.detokenize([top]) == expected)


def test_the_portable_decoding_loop_writes_the_answer():
    lm = DummyLM({"a cat": " sketch, 8k"})
    prompt = f"user a cat {ANSWER_START}"
    text = TokenLM.generate(lm, [prompt], PLAIN, prefixes=["a cat,"])[0]
    assert (text.text, text.finish_reason) == (" sketch, 8k", "stop")


def test_generation_only_models_declare_it():
    class Echo(LanguageModel):
        def generate(self, prompts, config=None, *, prefixes=None):
            return []

    assert Echo().capabilities == frozenset({"generate"})
