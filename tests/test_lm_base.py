import numpy as np
import pytest

from artdirector.lm.base import NUCLEUS_HEAD, GenerationConfig, adjust_scores, first_stop, nucleus, pick_token


def test_presence_penalty_is_additive_on_logprobs():
    scores = np.log(np.array([0.7, 0.2, 0.1]))
    out = adjust_scores(scores.copy(), [0, 0], GenerationConfig(presence_penalty=1.5, no_repeat_ngram_size=0))
    assert out[0] == pytest.approx(np.log(0.7) - 1.5)  # once per distinct token, not per occurrence
    assert out[1:] == pytest.approx(scores[1:])


def test_no_repeat_ngram_bans_the_completing_token():
    cfg = GenerationConfig(presence_penalty=0.0, no_repeat_ngram_size=3)
    answer = [5, 6, 7, 9, 5, 6]  # "5 6 7" was said; after "5 6", 7 would repeat it
    out = adjust_scores(np.zeros(10), answer, cfg)
    assert out[7] == -np.inf
    assert np.isfinite(np.delete(out, 7)).all()


def test_greedy_and_seeded_sampling():
    logprobs = np.log(np.array([0.1, 0.6, 0.3]))
    cfg = GenerationConfig(presence_penalty=0.0)
    assert pick_token(logprobs, [], cfg, np.random.default_rng(0)) == 1
    sample = GenerationConfig(temperature=1.0, top_p=1.0, presence_penalty=0.0)
    a = [pick_token(logprobs, [], sample, np.random.default_rng(7)) for _ in range(3)]
    b = [pick_token(logprobs, [], sample, np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    draws = [pick_token(logprobs, [], sample, rng) for rng in [np.random.default_rng(0)] for _ in range(2000)]
    assert abs(np.mean(np.array(draws) == 1) - 0.6) < 0.05


def test_top_p_keeps_only_the_nucleus():
    logprobs = np.log(np.array([0.05, 0.9, 0.05]))
    cfg = GenerationConfig(temperature=1.0, top_p=0.5, presence_penalty=0.0)
    rng = np.random.default_rng(0)
    assert {pick_token(logprobs, [], cfg, rng) for _ in range(200)} == {1}


@pytest.mark.parametrize("spread", [0.5, 3.0, 8.0, 30.0])  # flat to peaked: nuclei of 43k, 5k, 8 and 3 tokens
def test_nucleus_is_the_full_sorts(spread):
    rng = np.random.default_rng(3)
    probs = np.exp(rng.normal(size=49_152) * spread)
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    want = order[: int(np.searchsorted(np.cumsum(probs[order]), 0.95)) + 1]
    keep, p = nucleus(probs, 0.95)
    assert keep.tolist() == want.tolist() and abs(p.sum() - 1) < 1e-9
    assert (len(keep) > NUCLEUS_HEAD) == (spread < 8)  # the flat cases take the whole-vocabulary path


def test_first_stop():
    assert first_stop("abc\ndef<|im_end|>", ("<|im_end|>", "\n")) == 3
    assert first_stop("abc", ("\n",)) is None
