"""The PyTorch backend, on the real embedded model converted from its GGUF."""

import time

import numpy as np
import pytest

from artdirector.lm.base import GenerationConfig
from artdirector.lm.embedded import converted_dir, embedded_gguf

pytestmark = pytest.mark.slow  # loads the embedded model


def test_embedded_gguf_ships_in_the_wheel():
    assert embedded_gguf().stat().st_size > 50_000_000


def test_conversion_is_cached_and_reloads_fast(torch_lm):
    from artdirector.lm.transformers_backend import TransformersLM

    assert (converted_dir() / "model.safetensors").is_file()
    start = time.perf_counter()
    again = TransformersLM.from_embedded()
    assert time.perf_counter() - start < 30  # not the ~45 s GGUF de-quantisation (a loose bound, not a benchmark)
    assert again.model.config.num_hidden_layers == 30


def test_prefix_cache_gives_the_same_scores_as_no_cache(torch_lm):
    shared = torch_lm.tokenize("<|im_start|>user\nan old fisherman<|im_end|>\n<|im_start|>assistant\n")
    seqs = [shared + torch_lm.tokenize(x) for x in ["portrait", "oil painting, dramatic", "8k"]]
    torch_lm._cache.clear()
    cached = torch_lm.next_token_logprobs(seqs)
    assert tuple(shared) in torch_lm._cache  # the shared prefix was cached
    again = torch_lm.next_token_logprobs(seqs)  # now served from the cache
    import torch

    for i, s in enumerate(seqs):
        with torch.no_grad():
            ref = torch.log_softmax(torch_lm.model(torch.tensor([s])).logits[0, -1].float(), -1).numpy()
        assert np.allclose(cached[i], ref, atol=1e-3)
        assert np.allclose(again[i], ref, atol=1e-3)


def test_generate_stops_and_honours_the_answer_prefix(torch_lm):
    prompt = "<|im_start|>user\na cat in a garden<|im_end|>\n<|im_start|>assistant\n"
    cfg = GenerationConfig(max_new_tokens=16, stop=("\n", "<|im_end|>"))
    out = torch_lm.generate([prompt, prompt], cfg, prefixes=["a cat in a garden,", ""])
    assert len(out) == 2
    assert all("\n" not in g.text for g in out)
    assert out[0].text != out[1].text  # the prefix is part of the answer the model continues
