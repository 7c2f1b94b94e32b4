"""The fast path, on the real embedded model (no mocks)."""

import numpy as np
import pytest

from artdirector.lm.base import GenerationConfig, TokenLM

pytestmark = pytest.mark.slow  # loads the embedded model

PROMPTS = [
    "<|im_start|>user\na lighthouse in a storm<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\na futuristic city<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\na cat in a garden<|im_end|>\n<|im_start|>assistant\n",
]


def test_tokenizer_matches_transformers(llama_lm, torch_lm):
    for text in [*PROMPTS, "oil painting, by greg rutkowski, 8k", "Ünïcode — ok"]:
        assert llama_lm.tokenize(text) == torch_lm.tokenize(text)
    ids = llama_lm.tokenize("oil painting, 8k")
    assert llama_lm.detokenize(ids) == "oil painting, 8k"


def test_batched_scores_equal_one_at_a_time_scores(llama_lm):
    seqs = [llama_lm.tokenize(p) for p in PROMPTS]
    llama_lm._clear()
    batched = llama_lm.next_token_logprobs(seqs)
    singles = []
    for s in seqs:
        llama_lm._clear()
        llama_lm._memo.clear()
        singles.append(llama_lm.next_token_logprobs([s])[0])
    assert np.allclose(batched, np.stack(singles), atol=2e-2)
    assert (batched.argmax(1) == np.stack(singles).argmax(1)).all()
    assert np.allclose(np.exp(batched).sum(1), 1.0, atol=1e-3)


def test_cache_reuse_gives_the_same_scores_as_a_cold_start(llama_lm):
    base = llama_lm.tokenize(PROMPTS[0])
    llama_lm._clear()
    llama_lm._memo.clear()
    grown = list(base)
    for _ in range(6):  # extend one token at a time: every step reuses the cached prefix
        grown.append(int(llama_lm.next_token_logprobs([grown])[0].argmax()))
    warm = llama_lm.next_token_logprobs([grown, base + grown[len(base):-2]])
    llama_lm._clear()
    llama_lm._memo.clear()
    cold = llama_lm.next_token_logprobs([grown])
    assert np.allclose(warm[0], cold[0], atol=2e-2)


def test_agrees_with_pytorch_on_the_same_weights(llama_lm, torch_lm):
    seqs = [llama_lm.tokenize(p) for p in PROMPTS]
    a = llama_lm.next_token_logprobs(seqs)
    b = torch_lm.next_token_logprobs(seqs)
    assert (a.argmax(1) == b.argmax(1)).all()
    for i in range(len(seqs)):
        assert np.corrcoef(a[i], b[i])[0, 1] > 0.99  # Q4_1 kernels vs the de-quantised float32 weights


def test_batched_generation_equals_single_generation(llama_lm):
    cfg = GenerationConfig(max_new_tokens=12, stop=("\n",))
    together = [g.text for g in llama_lm.generate(PROMPTS, cfg)]
    alone = [llama_lm.generate([p], cfg)[0].text for p in PROMPTS]
    assert together == alone
    assert all(t.strip() for t in together)


def test_more_sequences_than_slots(llama_lm):
    seqs = [llama_lm.tokenize(f"Number {i} is") for i in range(len(llama_lm.slots) + 3)]
    out = llama_lm.next_token_logprobs(seqs)
    assert out.shape == (len(seqs), llama_lm.n_vocab) and np.isfinite(out).all()


def test_uses_the_generic_decoder(llama_lm):
    assert type(llama_lm).generate is TokenLM.generate  # one decoding loop, shared with every backend


def test_idle_slots_keep_only_what_they_share_with_busy_ones(llama_lm):
    cfg = GenerationConfig(max_new_tokens=6, stop=())
    for p in PROMPTS:
        llama_lm.generate([p], cfg)
    seq = llama_lm.tokenize(PROMPTS[0] + "oil")
    llama_lm.next_token_logprobs([seq])
    busy = [s for s in llama_lm.slots if s == seq]
    assert len(busy) == 1
    for slot in llama_lm.slots:
        assert slot == seq[: len(slot)]  # nothing but shared prefixes stays cached beside the busy sequence


def test_a_batch_larger_than_the_cache_runs_in_waves():
    from artdirector.lm.llamacpp_backend import LlamaCppLM

    small = LlamaCppLM.from_embedded(n_slots=4, n_ctx=512)
    try:
        prompts = [f"{i}: a long and winding description of scene number {i}, with a castle, a river, a storm "
                   f"and a small boat under a moon" for i in range(6)]
        seqs = [small.tokenize(p) for p in prompts]
        assert len(small._waves(seqs, 60)) > 1  # six of these and their answers do not fit 512 cells at once
        cfg = GenerationConfig(max_new_tokens=60, stop=())
        together = small.generate(prompts, cfg)  # without waves this overflows the cache and raises
        alone = [small.generate([p], cfg)[0] for p in prompts]
        assert all(len(g.tokens) == 60 for g in together)
        # Greedy runs agree until float rounding of batched kernels tips a near-tie (see above).
        assert [g.tokens[:3] for g in together] == [g.tokens[:3] for g in alone]
    finally:
        small.close()
