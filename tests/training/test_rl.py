"""RL plumbing: the exported adapter equals SFT-then-RL exactly, and a real (one-step) GRPO run completes."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from artdirector.training.rl import RLSettings, stack_adapters, train_rl

pytestmark = pytest.mark.slow  # trains, or loads the model

MODULES = ["q_proj", "v_proj", "down_proj"]
TRAIN = Path(__file__).parents[2] / "artdirector" / "data" / "prompts" / "train.tsv"


def _base():
    from transformers import AutoModelForCausalLM

    from artdirector.lm.embedded import ensure_converted

    return AutoModelForCausalLM.from_pretrained(ensure_converted(), dtype=torch.float32).eval()


def _random_lora(model, r, modules):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=r, lora_alpha=3 * r, target_modules=modules, init_lora_weights=False))


def test_stacked_adapter_equals_the_two_applied_in_turn(tmp_path):
    from peft import PeftModel

    torch.manual_seed(0)
    ids = torch.tensor([[1, 504, 2510, 281, 253, 4335, 30]])
    first = _random_lora(_base(), 4, MODULES)
    first.save_pretrained(tmp_path / "sft")
    second = _random_lora(first.merge_and_unload(), 2, ["q_proj", "o_proj"])  # overlapping module sets
    second.save_pretrained(tmp_path / "rl")
    with torch.no_grad():
        expected = second(ids).logits
    stacked = stack_adapters(tmp_path / "sft", tmp_path / "rl", tmp_path / "both")
    config = json.loads((stacked / "adapter_config.json").read_text())
    assert config["r"] == 6 and set(config["target_modules"]) == {"q_proj", "v_proj", "down_proj", "o_proj"}
    with torch.no_grad():
        got = PeftModel.from_pretrained(_base(), str(stacked)).eval()(ids).logits
    assert torch.allclose(got, expected, atol=2e-4)
    with torch.no_grad():
        only_first = PeftModel.from_pretrained(_base(), str(tmp_path / "sft")).eval()(ids).logits
    assert not torch.allclose(only_first, expected, atol=1e-2)  # the second adapter is really in there


def test_one_grpo_step_runs_and_exports_a_servable_adapter(tmp_path):
    from artdirector.lm.llamacpp_backend import LlamaCppLM

    torch.manual_seed(0)
    sft = _random_lora(_base(), 4, MODULES)
    sft.save_pretrained(tmp_path / "sft")
    def brevity(prompts, completions, **kw):  # any callable of this shape plugs in, image scorers included
        return [1.0 / (1 + len(c)) for c in completions]

    settings = RLSettings(data=str(TRAIN), out=str(tmp_path / "rl"), sft_adapter=str(tmp_path / "sft"), limit=8,
                          max_steps=1, ideas_per_step=1, num_generations=2, max_completion_length=8,
                          weights={"fidelity": 1.0, "modifier_quality": 1.0, "brevity": 0.5})
    summary = train_rl(settings, progress=False, rewards={"brevity": brevity})
    out = Path(summary["out"])
    assert summary["steps"] == 1 and (out / "adapter_model.safetensors").is_file()
    curves = json.loads((tmp_path / "rl" / "reward_curves.json").read_text())
    logged = {"reward", "rewards/fidelity/mean", "rewards/modifier_quality/mean", "rewards/brevity/mean"}
    assert logged <= set(curves[0])
    assert (tmp_path / "rl" / "reward_curves.png").stat().st_size > 1000
    lm = LlamaCppLM.from_embedded(n_slots=1, n_ctx=256, adapter=out)
    assert np.isfinite(lm.next_token_logprobs([lm.tokenize("a castle,")])).all()
    lm.close()


def test_unknown_reward_names_are_refused(tmp_path):
    from artdirector.brief import BadInput

    with pytest.raises(BadInput, match="unknown rewards"):
        train_rl(RLSettings(data=str(TRAIN), out=str(tmp_path), weights={"aesthetic": 1.0}))
