"""Supervised fine-tuning of the director's language model: LoRA (PEFT) trained with TRL's ``SFTTrainer``.

Recipe (NeuroPrompts §3.1, adapted): prefix-extracted human prompts (``training.data``), prompt-completion
format with the loss on the completion only, LoRA on every linear layer of the base model. Retrieval-augmented
(``neighbours``): each idea's frame also holds the prompts the library retrieves for it, less the target's own
near-copies (``training.data.held_out``), so the model learns to adapt what retrieval brings rather than to
copy the answer; ``from_adapter`` continues an adapter's LoRA (the shipped one already writes the style). On a CPU, bf16
autocast is used where the CPU has native bf16 matrix units (AMX/AVX512-BF16: measured 1.7x faster than
float32 here); elsewhere float32.

Robustness: checkpoints every ``save_steps`` (Trainer's own format, resumable after kill -9; ``save_total_limit``
keeps the last two); a save interrupted by the kill is passed over, and a damaged newest checkpoint stops the
run with a message naming it and the previous one, which is kept; ``auto_find_batch_size`` halves the batch
on out-of-memory and the size used is reported. Every hyper-parameter goes to ``artdirector-sft.json`` in the
output folder, beside the TRL arguments.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from artdirector.errors import BadInput, CheckpointError  # noqa: F401 - re-exported where it used to live
from artdirector.prompting import adapter_prompt
from artdirector.training.data import load_examples, neighboured
from artdirector.training.settings import LORA_TARGETS, SFTSettings  # noqa: F401 - SFTSettings re-exported


def _checkpoints(out: Path) -> list[Path]:
    found = [p for p in out.glob("checkpoint-*") if re.fullmatch(r"checkpoint-\d+", p.name) and p.is_dir()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def check_checkpoint(path: Path) -> None:
    """Raise ``CheckpointError`` unless ``path`` holds a readable adapter, optimizer and trainer state."""
    import torch
    from safetensors import safe_open

    try:
        json.loads((path / "trainer_state.json").read_text())
        json.loads((path / "adapter_config.json").read_text())
        with safe_open(str(path / "adapter_model.safetensors"), "pt") as f:
            for key in f.keys():
                f.get_tensor(key)
        torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to read means the checkpoint cannot be resumed
        raise CheckpointError(f"checkpoint {path} is damaged ({type(e).__name__}: {e})") from e


def resume_point(out: Path, notes: list[str] | None = None) -> Path | None:
    """The newest complete checkpoint in ``out``, checked whole.

    The Trainer writes ``trainer_state.json`` last, so a folder without it is a save that a kill interrupted:
    it is passed over (and said in ``notes``). A complete-looking checkpoint that cannot be read is an error
    naming the previous one, which is kept."""
    points = _checkpoints(out)
    while points and not (points[-1] / "trainer_state.json").is_file():
        if notes is not None:
            notes.append(f"{points[-1].name} was never completed (its save was interrupted); resumed before it")
        points.pop()
    if not points:
        return None
    try:
        check_checkpoint(points[-1])
    except CheckpointError as e:
        previous = f"; the previous one, {points[-2]}, is kept: remove the damaged folder to resume from it" \
            if len(points) > 1 else "; remove it to start again"
        raise CheckpointError(f"{e}{previous}") from e
    return points[-1]


def cpu_has_bf16() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text(errors="ignore") if cpuinfo.exists() else ""
    return "amx_bf16" in flags or "avx512_bf16" in flags


def train_sft(settings: SFTSettings, *, progress: bool = True) -> dict:
    """Train (or resume) and save the adapter in ``settings.out``; returns a summary with the data report."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    out = Path(settings.out)
    examples, report = load_examples(settings.data, limit=settings.limit)
    if settings.neighbours:
        from artdirector.library.library import PromptLibrary

        library = PromptLibrary.default()
        library.require(settings.collection)
        examples = neighboured(examples, library, settings.collection, settings.neighbours, out,
                               print if progress else None)
    notes: list[str] = []
    resume = resume_point(out, notes) if out.exists() else None

    if settings.base is None:
        from artdirector.lm.embedded import ensure_converted

        base = str(ensure_converted())
    else:
        base = settings.base
    cuda = torch.cuda.is_available()
    bf16 = cuda or cpu_has_bf16()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    start = settings.from_adapter
    if start is not None:
        from peft import PeftModel

        from artdirector.director import default_adapter

        if start == "default":
            shipped = default_adapter()
            if shipped is None:
                raise BadInput("this installation ships no adapter to continue: name an adapter folder")
            start = str(shipped)
        model = PeftModel.from_pretrained(model, start, is_trainable=True)  # its LoRA, trained on
    dataset = Dataset.from_list([{"prompt": adapter_prompt(e.idea, e.neighbours), "completion": e.target}
                                 for e in examples])
    args = SFTConfig(
        output_dir=str(out), num_train_epochs=settings.epochs, max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size, auto_find_batch_size=True,
        learning_rate=settings.learning_rate, lr_scheduler_type="cosine", warmup_steps=settings.warmup_ratio,
        max_length=settings.max_length, completion_only_loss=True, seed=settings.seed, data_seed=settings.seed,
        bf16=bf16, use_cpu=not cuda, logging_steps=settings.logging_steps, save_steps=settings.save_steps,
        save_total_limit=2, report_to="none", disable_tqdm=not progress, dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",  # batches of similar length: less padding to compute
        gradient_checkpointing=False,  # TRL turns it on to save memory; a 135M model fits, and it costs 30%+
    )
    peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                             target_modules=list(settings.target_modules), task_type="CAUSAL_LM")
    out.mkdir(parents=True, exist_ok=True)
    (out / "artdirector-sft.json").write_text(json.dumps(
        {"settings": asdict(settings), "base": base, "bf16": bf16, "data": report.to_json(), "from_adapter": start,
         "trl_args": json.loads(args.to_json_string())}, indent=2))
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=None if start else peft_config)
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.save_model(str(out))  # the final adapter: adapter_config.json + adapter_model.safetensors
    history = [h for h in trainer.state.log_history if "loss" in h]
    (out / "loss.json").write_text(json.dumps(history, indent=1))
    return {"out": str(out), "resumed_from": str(resume) if resume else None, "notes": notes, "data": report.to_json(),
            "batch_size": trainer._train_batch_size, "steps": trainer.state.global_step,
            "train_loss": result.training_loss, "seconds": result.metrics.get("train_runtime")}
