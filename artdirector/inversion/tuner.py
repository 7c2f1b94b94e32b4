"""VDPO's visual prompt tuner: the director's LM writes a prompt from an image through projected image vectors.

A frozen vision tower's embedding goes through a trained projection into ``PREFIX`` input vectors of the LM
(the feedback critic's architecture, ``critique.feedback.FeedbackModel``: one definition), trained in two
stages on (image, prompt) pairs:

1. **Alignment** (``align_steps``): InfoNCE over the batch between the mean projected vector of each image
   and the mean input embedding of its prompt's tokens — the projection learns to land where the prompt's
   words are, before the LM is touched.
2. **Generation**: the LM loss on the prompt after the image and the instruction, with LoRA, plus
   ``align_weight`` × the alignment loss; a **curriculum** samples from the shortest prompts first (30% of the
   pairs by length at the start, all of them by the last step).

The loop, checkpoints (resumable) and model card are the feedback critic's. ``invert --tuner DIR`` writes the
prompt with the tuned LM; it is parsed like any written prompt and rendered for the target.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from artdirector.critique.feedback import FeedbackModel, read_triples, train_prefix_lm, training_record
from artdirector.training.settings import TunerSettings

WRITE = "Write a text-to-image prompt for this image."
CONFIG = "tuner.json"
START_SHARE = 0.3  # the curriculum's first pool: the shortest 30% of the prompts


def alignment_loss(model: FeedbackModel, prefix, prompts: Sequence[str], temperature: float):
    """Symmetric InfoNCE between each image's mean projected vector (``prefix``: ``model.prefix(images)``) and
    its prompt's mean token embedding."""
    import torch
    import torch.nn.functional as F

    vectors = F.normalize(prefix.mean(dim=1), dim=-1)
    table = model.lm.get_input_embeddings()
    with torch.no_grad():
        texts = torch.stack([table(torch.tensor(model.tokenizer(p, add_special_tokens=False)["input_ids"])).mean(0)
                             for p in prompts])
    logits = vectors @ F.normalize(texts, dim=-1).T / temperature
    labels = torch.arange(len(prompts))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def train_tuner(settings: TunerSettings, *, progress=None) -> dict:
    from PIL import Image

    pairs = read_triples(settings.data, settings.limit, keys=("image", "prompt"))
    by_length = sorted(pairs, key=lambda r: len(r["prompt"]))
    start = time.perf_counter()

    def step_loss(model, rng, step):
        share = min(1.0, START_SHARE + (1 - START_SHARE) * step / max(settings.steps - 1, 1))
        pool = by_length[:max(settings.batch_size, int(len(by_length) * share))]
        batch = rng.sample(pool, min(settings.batch_size, len(pool)))
        # Each image is read and projected once a step: both losses take the same vectors.
        prefix = model.prefix([Image.open(r["image"]) for r in batch])
        align = alignment_loss(model, prefix, [r["prompt"] for r in batch], settings.temperature)
        if step < settings.align_steps:
            return align
        return model.loss(batch, context="", answer="prompt", prefix=prefix) + settings.align_weight * align

    _, step, losses, resumed = train_prefix_lm(settings, pairs, step_loss, template=WRITE, progress=progress)
    out = Path(settings.out)
    config = training_record(settings, step, losses, resumed, WRITE)
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(
        f"# artdirector visual prompt tuner\n\nThe embedded SmolLM2-135M-Instruct with LoRA (r={settings.lora_r}) "
        f"reading the image embedding of `{settings.vision}` through a trained projection, trained on "
        f"{len(pairs)} (image, prompt) pairs from `{settings.data}`: {settings.align_steps} alignment steps, then "
        f"{step - settings.align_steps} generation steps with a short-to-long curriculum; loss {config['loss_first']}"
        f" -> {config['loss_last']}; {time.perf_counter() - start:.0f} s.\n\nUse: `artdirector invert IMAGE "
        "--clip CLIP --tuner THIS_FOLDER`.\n")
    return config


class Tuner:
    def __init__(self, model: FeedbackModel):
        self.model = model

    @classmethod
    def from_folder(cls, folder: str | Path) -> Tuner:
        return cls(FeedbackModel.load_trained(folder, CONFIG, WRITE, "tuner"))

    def __call__(self, images: Sequence, max_new_tokens: int = 60) -> list[str]:
        return self.model.write(list(images), "", max_new_tokens=max_new_tokens)

    def close(self) -> None:
        self.model = None
