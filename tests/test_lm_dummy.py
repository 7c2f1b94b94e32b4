import numpy as np
import pytest

from artdirector.lm.base import GenerationConfig, LanguageModel
from artdirector.lm.dummy import DummyLM


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


def test_scores_drive_the_generic_decoder_to_the_queued_text():
    lm = DummyLM(["hello"])
    assert isinstance(lm, LanguageModel)
    lp = lm.next_token_logprobs([lm.tokenize("ab"), lm.tokenize("abc")])
    assert lp.shape[0] == 2
    assert [lm.detokenize([int(np.argmax(r))]) for r in lp] == ["l", "l"]
    # The portable decoding loop of the base class runs on these scores.
    text = LanguageModel.generate(lm, [""], GenerationConfig(max_new_tokens=5, stop=(), presence_penalty=0,
                                                             no_repeat_ngram_size=0))[0].text
    assert text == "hello"
