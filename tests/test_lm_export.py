"""A PEFT LoRA adapter served by llama.cpp gives the scores PEFT gives (real embedded model, random LoRA)."""

import numpy as np
import pytest

from artdirector.lm import export
from artdirector.lm.llamacpp_backend import LlamaCppLM

pytestmark = pytest.mark.slow  # loads the embedded model

TEXT = "<|im_start|>user\na lighthouse in a storm<|im_end|>\n<|im_start|>assistant\na lighthouse in a storm,"
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def random_adapter(tmp_path_factory, torch_lm):
    """A LoRA with random A and B (PEFT's default starts B at zero, which would prove nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from artdirector.lm.embedded import ensure_converted
    from artdirector.lm.transformers_backend import TransformersLM

    torch.manual_seed(0)
    fresh = TransformersLM.from_pretrained(ensure_converted())
    model = get_peft_model(fresh.model, LoraConfig(r=4, lora_alpha=8, target_modules=MODULES,
                                                   init_lora_weights=False))
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    peft_lm = TransformersLM(model, fresh.tokenizer)
    ids = peft_lm.tokenize(TEXT)
    seqs = [ids[:12], ids]
    return folder, seqs, peft_lm.next_token_logprobs(seqs), torch_lm.next_token_logprobs(seqs)


def _corr(a, b):
    return [float(np.corrcoef(x, y)[0, 1]) for x, y in zip(a, b)]


def test_llamacpp_with_converted_adapter_matches_peft(random_adapter, tmp_path):
    folder, seqs, peft_scores, base_scores = random_adapter
    lm = LlamaCppLM.from_embedded(n_slots=2, n_ctx=512, adapter=folder)  # a PEFT folder converts itself
    scores = lm.next_token_logprobs(seqs)
    lm.close()
    assert (scores.argmax(1) == peft_scores.argmax(1)).all()
    assert min(_corr(scores, peft_scores)) > 0.99
    assert max(_corr(base_scores, peft_scores)) < 0.97  # the adapter really changes the model


def test_without_the_rope_permutation_the_scores_disagree(random_adapter, tmp_path, monkeypatch):
    """The q/k row permutation is what makes the conversion right: skipping it must show."""
    folder, seqs, peft_scores, _ = random_adapter
    monkeypatch.setattr(export, "_rope_permute", lambda rows, n_head: rows)
    wrong = export.lora_to_gguf(folder, tmp_path / "wrong.gguf", n_head=9, n_head_kv=3)
    lm = LlamaCppLM.from_embedded(n_slots=2, n_ctx=512, adapter=wrong)
    scores = lm.next_token_logprobs(seqs)
    lm.close()
    assert min(_corr(scores, peft_scores)) < 0.99


def test_adapters_that_llamacpp_cannot_serve_are_refused(random_adapter, tmp_path):
    import json
    import shutil

    folder, *_ = random_adapter
    dora = tmp_path / "dora"
    shutil.copytree(folder, dora)
    config = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ValueError, match="DoRA"):
        export.lora_to_gguf(dora, tmp_path / "x.gguf", n_head=9, n_head_kv=3)
