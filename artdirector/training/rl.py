"""Reinforcement learning on top of the SFT adapter: TRL's GRPO with pluggable rewards.

Why GRPO rather than PPO (NeuroPrompts used PPO): GRPO needs no value model — the baseline is the mean reward
of a group of completions for the same idea — which halves the memory and the compute on a CPU, and it is
TRL's maintained on-line RL trainer.

KL control to the SFT policy: the SFT adapter is merged into the base weights first and RL trains a fresh
LoRA on top, so "adapter disabled" (TRL's reference for PEFT models) *is* the SFT policy and ``beta`` weighs
the KL to it. The result is exported as one adapter: two LoRAs on the same weights add up to one LoRA of
rank r1 + r2, ``s1·B1A1 + s2·B2A2 = [s1·B1 | s2·B2] · [A1 ; A2]`` (exact, see ``stack_adapters``), which the
llama.cpp fast path serves like any other.

Rewards are plain callables (``artdirector.rewards``); TRL logs each one, and the curves are saved as JSON
and PNG. An image-side reward (``(prompts, images) -> scores`` after generating images) plugs in the same
list without changes here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from artdirector.brief import BadInput
from artdirector.director import default_adapter
from artdirector.prompting import adapter_prompt
from artdirector.training.data import load_examples
from artdirector.training.settings import DEFAULT_WEIGHTS, LORA_TARGETS, RLSettings  # noqa: F401
from artdirector.training.sft import cpu_has_bf16, resume_point


def stack_adapters(first: Path, second: Path, out: Path) -> Path:
    """One PEFT LoRA equal to applying ``first`` and then ``second`` (trained on first-merged weights)."""
    import torch
    from safetensors.torch import load_file, save_file

    configs = [json.loads((p / "adapter_config.json").read_text()) for p in (first, second)]
    weights = [load_file(str(p / "adapter_model.safetensors")) for p in (first, second)]
    scales = [c["lora_alpha"] / c["r"] for c in configs]
    modules = sorted({k.rsplit(".lora_", 1)[0] for w in weights for k in w})
    stacked = {}
    for module in modules:
        a_parts, b_parts = [], []
        for w, scale in zip(weights, scales):
            a, b = w.get(f"{module}.lora_A.weight"), w.get(f"{module}.lora_B.weight")
            if a is None:  # a module only one adapter touches: the other contributes zero
                continue
            a_parts.append(a.float())
            b_parts.append(b.float() * scale)
        stacked[f"{module}.lora_A.weight"] = torch.cat(a_parts, 0).contiguous()
        stacked[f"{module}.lora_B.weight"] = torch.cat(b_parts, 1).contiguous()
    # Modules adapted by only one side get a smaller rank; PEFT needs one rank, so pad with zeros.
    rank = max(t.shape[0] for k, t in stacked.items() if k.endswith("lora_A.weight"))
    for key in [k for k in stacked if k.endswith("lora_A.weight")]:
        a, b_key = stacked[key], key.replace("lora_A", "lora_B")
        if a.shape[0] < rank:
            stacked[key] = torch.cat([a, a.new_zeros(rank - a.shape[0], a.shape[1])])
            b = stacked[b_key]
            stacked[b_key] = torch.cat([b, b.new_zeros(b.shape[0], rank - b.shape[1])], 1)
    out.mkdir(parents=True, exist_ok=True)
    config = {**configs[0], "r": rank, "lora_alpha": rank, "lora_dropout": 0.0,
              "target_modules": sorted(set(configs[0]["target_modules"]) | set(configs[1]["target_modules"]))}
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2))
    save_file(stacked, str(out / "adapter_model.safetensors"))
    return out


def _plot(history: list[dict], keys: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        points = [(h["step"], h[key]) for h in history if key in h]
        if points:
            ax.plot(*zip(*points), label=key.replace("rewards/", "").replace("/mean", ""))
    ax.set_xlabel("step")
    ax.set_ylabel("reward / KL")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train_rl(settings: RLSettings, *, progress: bool = True, rewards: dict | None = None) -> dict:
    """``rewards`` adds reward callables by name (an image-side scorer wrapped as ``(prompts, completions,
    **kw) -> list[float]``, say); ``settings.weights`` names which rewards run and with what weight."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from artdirector import embedding
    from artdirector import rewards as R
    from artdirector.lm.embedded import ensure_converted

    unknown = set(settings.weights) - set(DEFAULT_WEIGHTS) - set(rewards or {})
    if unknown:
        raise BadInput(f"unknown rewards {sorted(unknown)}; valid: {', '.join([*DEFAULT_WEIGHTS, *(rewards or {})])}")
    sft = default_adapter() if settings.sft_adapter == "default" else settings.sft_adapter
    out = Path(settings.out)
    examples, report = load_examples(settings.data, limit=settings.limit)
    ideas = list(dict.fromkeys(e.idea for e in examples))
    notes: list[str] = []
    resume = resume_point(out, notes) if out.exists() else None

    base = str(ensure_converted())
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.padding_side = "left"  # generation pads on the left
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if sft is not None:
        model = PeftModel.from_pretrained(model, str(sft)).merge_and_unload()
    cuda = torch.cuda.is_available()
    embedder = embedding.load(device="cuda" if cuda else "cpu")
    funcs = {**R.text_rewards(embedder), **(rewards or {})}
    names = list(settings.weights)
    dataset = Dataset.from_list([{"prompt": adapter_prompt(i), "idea": i} for i in ideas])
    args = GRPOConfig(
        output_dir=str(out), max_steps=settings.max_steps, learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.ideas_per_step * settings.num_generations,
        num_generations=settings.num_generations, max_completion_length=settings.max_completion_length,
        temperature=settings.temperature, beta=settings.beta, reward_weights=[settings.weights[n] for n in names],
        seed=settings.seed, bf16=cuda or cpu_has_bf16(), use_cpu=not cuda, logging_steps=1,
        save_steps=settings.save_steps, save_total_limit=2, report_to="none", disable_tqdm=not progress,
        gradient_checkpointing=False,
    )
    peft_config = LoraConfig(r=settings.lora_r, lora_alpha=2 * settings.lora_r, lora_dropout=0.0,
                             target_modules=list(LORA_TARGETS), task_type="CAUSAL_LM")
    out.mkdir(parents=True, exist_ok=True)
    (out / "artdirector-rl.json").write_text(json.dumps(
        {"settings": asdict(settings), "base": base, "sft_adapter": str(sft) if sft else None,
         "data": report.to_json(), "ideas": len(ideas), "trl_args": json.loads(args.to_json_string())}, indent=2))
    trainer = GRPOTrainer(model=model, reward_funcs=[funcs[n] for n in names], args=args, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=peft_config)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.save_model(str(out / "rl-lora"))
    final = out / "adapter"
    if sft is not None:
        stack_adapters(Path(sft), out / "rl-lora", final)
    else:
        import shutil

        shutil.copytree(out / "rl-lora", final, dirs_exist_ok=True)
    history = [h for h in trainer.state.log_history if "reward" in h]
    (out / "reward_curves.json").write_text(json.dumps(history, indent=1))
    _plot(history, ["reward", *[f"rewards/{n}/mean" for n in names], "kl"], out / "reward_curves.png")
    first, last = history[:3], history[-3:]

    def mean(rows, key):
        vals = [r[key] for r in rows if key in r]
        return sum(vals) / len(vals) if vals else None

    return {"out": str(final), "steps": trainer.state.global_step, "ideas": len(ideas), "notes": notes,
            "reward_first3": mean(first, "reward"), "reward_last3": mean(last, "reward"),
            "kl_last3": mean(last, "kl"), "curves": str(out / "reward_curves.png")}
