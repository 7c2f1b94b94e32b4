"""The seed system's own critic: the director's LM reading the image through a projected embedding, fine-tuned
with LoRA to write one or two sentences of feedback on (caption, generated image) pairs.

Architecture (as in "LLM-generated feedback for generated images"): a frozen vision encoder's pooled image
embedding (a CLIP vision tower's projected embedding) goes through a trained linear projection into
``PREFIX`` vectors of the LM's input-embedding width, placed before the chat-formatted caption; the LM gets
LoRA (PEFT) on its attention and MLP projections. Training (``train_critic``) minimises the LM loss on the
feedback tokens only. It is a small hand-written loop rather than TRL's SFTTrainer because the model is a
composite (vision tower + projection + PEFT LM) whose inputs are embeddings, not token ids, and whose
checkpoint is only what is trained (adapter + projection, megabytes — the Trainer would save the frozen
towers too): every ``save_steps`` the adapter, projection, optimizer and step go to ``checkpoint-N``, its
``state.json`` written last, so a run killed part-way resumes from the newest complete one.

As a critic (``FeedbackCritic``, ``--critic feedback=FOLDER``) it writes the feedback for each image and
answers each question from it: an element the feedback names is answered 0.2 (missing or wrong), the others
0.8; the feedback itself is the critique's text.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from artdirector.critique.base import Critic, Critique
from artdirector.critique.questions import Question
from artdirector.errors import BadInput, ScorerError
from artdirector.training.settings import CriticSettings

PREFIX = 4  # image vectors before the caption
NAMED, UNNAMED = 0.2, 0.8  # p(yes) of an element the feedback names, and of one it does not
ASK = "Caption: {caption}\nWhat is wrong with the image, or missing from it? Answer in one or two sentences."
CONFIG = "critic.json"


def read_triples(path: str | Path, limit: int | None = None,
                 keys: tuple[str, ...] = ("caption", "image", "feedback")) -> list[dict]:
    """The training rows (``keys`` each, one of them ``image``), each image path resolved against the file's
    folder and checked."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such file {path}: give JSON Lines of {', '.join(keys)}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            triple = {k: str(row[k]).strip() for k in keys}
        except (ValueError, KeyError, TypeError):
            raise BadInput(f"{path}:{n}: each line must be a JSON object with {', '.join(keys)}") from None
        image = (path.parent / triple["image"]).resolve()
        if not image.is_file():
            raise BadInput(f"{path}:{n}: no image {image}")
        out.append({**triple, "image": str(image)})
        if limit and len(out) == limit:
            break
    if not out:
        raise BadInput(f"{path} holds no rows")
    return out


class FeedbackModel:
    """The vision tower, the projection and the LoRA-wrapped LM, with the prompt they were trained on."""

    def __init__(self, lm, tokenizer, vision, processor, projection, template: str = ASK):
        self.lm, self.tokenizer, self.vision, self.processor = lm, tokenizer, vision, processor
        self.projection, self.template = projection, template

    @classmethod
    def build(cls, vision: str, *, lora_r: int = 8, adapter: str | Path | None = None,
              projection: str | Path | None = None, trainable: bool = False, template: str = ASK) -> FeedbackModel:
        import torch
        from peft import LoraConfig, PeftModel, get_peft_model
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoProcessor,
            AutoTokenizer,
            CLIPVisionModelWithProjection,
        )

        from artdirector.lm.embedded import ensure_converted
        from artdirector.scoring.base import check_model_ref
        from artdirector.training.settings import LORA_TARGETS

        local = check_model_ref("feedback", vision)
        source = str(local) if local else vision
        try:
            # a whole CLIP folder: its vision tower and projection (the vision config alone has a default width)
            width = AutoConfig.from_pretrained(source).projection_dim
            tower = CLIPVisionModelWithProjection.from_pretrained(source, projection_dim=width).eval()
            processor = AutoProcessor.from_pretrained(source)
        except (OSError, ValueError) as e:
            raise ScorerError(f"feedback: cannot load a CLIP vision tower from {vision!r} "
                              f"({type(e).__name__})") from None
        tower.requires_grad_(False)
        folder = ensure_converted()
        base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if adapter is not None:
            lm = PeftModel.from_pretrained(base, str(adapter), is_trainable=trainable)
        else:
            lm = get_peft_model(base, LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0,
                                                 target_modules=list(LORA_TARGETS), task_type="CAUSAL_LM"))
        hidden = base.config.hidden_size
        proj = torch.nn.Linear(tower.config.projection_dim, hidden * PREFIX)
        if projection is not None:
            from safetensors.torch import load_file

            proj.load_state_dict(load_file(str(projection)))
        return cls(lm, tokenizer, tower, processor, proj, template)

    @classmethod
    def load_trained(cls, folder: str | Path, config_name: str, template: str, what: str) -> FeedbackModel:
        """A trained folder (adapter, projection, ``config_name``) for inference; ``what`` names it in errors."""
        path = Path(folder)
        if not (path / config_name).is_file():
            raise ScorerError(f"{what}: {folder} is not a trained {what} (no {config_name}); train one with "
                              f"'artdirector train {what} --data FILE.jsonl --vision CLIP'")
        config = json.loads((path / config_name).read_text())
        model = cls.build(config["vision"], adapter=path / "adapter", projection=path / "projection.safetensors",
                          template=template)
        model.lm.eval()
        return model

    def prompt_ids(self, caption: str) -> list[int]:
        from artdirector.prompting import chatml

        text = self.template.format(caption=caption)
        return self.tokenizer(chatml([("user", text)]), add_special_tokens=False)["input_ids"]

    def prefix(self, images: Sequence):
        """The projected image vectors, ``(len(images), PREFIX, hidden)``."""
        import torch

        pixels = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            pooled = self.vision(pixel_values=pixels).image_embeds
        return self.projection(pooled).view(len(images), PREFIX, -1)

    def embed(self, images: Sequence, ids, prefix=None):
        """Image vectors (``prefix``, when already projected) then the token embeddings of ``ids`` (a padded
        batch)."""
        import torch

        prefix = self.prefix(images) if prefix is None else prefix
        return torch.cat([prefix, self.lm.get_input_embeddings()(ids)], dim=1)

    def loss(self, batch: list[dict], context: str = "caption", answer: str = "feedback", prefix=None):
        """The LM loss on each row's ``answer`` text, after its image and the template filled with ``context``;
        ``prefix``: the batch's projected image vectors, when the caller has them."""
        import torch
        from PIL import Image

        eos = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        rows = [(self.prompt_ids(t.get(context, "")),
                 self.tokenizer(t[answer], add_special_tokens=False)["input_ids"] + [eos]) for t in batch]
        width = max(len(p) + len(f) for p, f in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        ids = torch.full((len(rows), width), pad)
        labels = torch.full((len(rows), PREFIX + width), -100)  # loss on the feedback only
        mask = torch.zeros((len(rows), PREFIX + width), dtype=torch.long)
        for i, (p, f) in enumerate(rows):
            ids[i, :len(p) + len(f)] = torch.tensor(p + f)
            labels[i, PREFIX + len(p):PREFIX + len(p) + len(f)] = torch.tensor(f)
            mask[i, :PREFIX + len(p) + len(f)] = 1
        images = [] if prefix is not None else [Image.open(t["image"]) for t in batch]
        embeds = self.embed(images, ids, prefix)
        return self.lm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss

    def write(self, images: Sequence, caption: str, max_new_tokens: int = 40) -> list[str]:
        """The feedback for each image of ``caption`` (greedy)."""
        import torch

        ids = torch.tensor([self.prompt_ids(caption)] * len(images))
        with torch.no_grad():
            out = self.lm.generate(inputs_embeds=self.embed(images, ids), max_new_tokens=max_new_tokens,
                                   do_sample=False, eos_token_id=self.tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                   pad_token_id=self.tokenizer.pad_token_id)
        return [self.tokenizer.decode(o, skip_special_tokens=True).strip() for o in out]

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        self.lm.save_pretrained(str(folder / "adapter"))
        save_file(self.projection.state_dict(), str(folder / "projection.safetensors"))


def train_prefix_lm(settings, rows: list[dict], step_loss, *, template: str, progress=None):
    """The training loop the feedback critic and the visual prompt tuner share: ``step_loss(model, batch, step)``
    gives each step's loss; ``settings`` has out, vision, lora_r, learning_rate, seed, steps, batch_size,
    save_steps. Resumes from the newest complete checkpoint. Returns (model, steps done, losses, resumed)."""
    import torch

    from artdirector.training import checkpoints

    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    resumed = checkpoints.newest(out)
    torch.manual_seed(settings.seed)
    model = FeedbackModel.build(settings.vision, lora_r=settings.lora_r,
                                adapter=resumed / "adapter" if resumed else None,
                                projection=resumed / "projection.safetensors" if resumed else None, trainable=True,
                                template=template)
    params = [p for p in model.lm.parameters() if p.requires_grad] + list(model.projection.parameters())
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate)
    step = checkpoints.restore(resumed, optimizer)["step"] if resumed else 0
    rng = random.Random(settings.seed + step)
    losses = []
    model.lm.train()
    while step < settings.steps:
        loss = step_loss(model, rng, step)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        losses.append(float(loss))
        if progress:
            progress(f"step {step}/{settings.steps} loss {losses[-1]:.3f}")
        if step % settings.save_steps == 0 or step == settings.steps:
            point = out / f"checkpoint-{step}"
            model.save(point)
            checkpoints.save(point, optimizer, {"step": step, "loss": losses[-1]})
    model.save(out)
    return model, step, losses, resumed


def training_record(settings, step: int, losses: list[float], resumed: Path | None, template: str) -> dict:
    """What a trained folder's config says of its run (read back by ``FeedbackModel.load_trained``)."""
    return {"vision": settings.vision, "prefix": PREFIX, "prompt": template, "settings": asdict(settings),
            "steps": step, "resumed_from": resumed.name if resumed else None,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None}


def train_critic(settings: CriticSettings, *, progress=None) -> dict:
    """Train the feedback critic; resumes from the newest complete checkpoint in ``settings.out``."""
    triples = read_triples(settings.data, settings.limit)
    start = time.perf_counter()

    def step_loss(model, rng, step):
        return model.loss(rng.sample(triples, min(settings.batch_size, len(triples))))

    _, step, losses, resumed = train_prefix_lm(settings, triples, step_loss, template=ASK, progress=progress)
    out = Path(settings.out)
    config = training_record(settings, step, losses, resumed, ASK)
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(_card(config, len(triples), time.perf_counter() - start))
    return config


def _card(config: dict, n: int, seconds: float) -> str:
    return (f"# artdirector feedback critic\n\nThe embedded SmolLM2-135M-Instruct with a LoRA adapter (r="
            f"{config['settings']['lora_r']}) and a linear projection of the image embedding of `{config['vision']}` "
            f"into {config['prefix']} input vectors, trained to write feedback on generated images.\n\n"
            f"- data: {n} (caption, image, feedback) triples from `{config['settings']['data']}`\n"
            f"- steps: {config['steps']} (batch {config['settings']['batch_size']}, learning rate "
            f"{config['settings']['learning_rate']}); loss {config['loss_first']} -> {config['loss_last']}\n"
            f"- this run: {seconds:.0f} s{', resumed from ' + config['resumed_from'] if config['resumed_from'] else ''}"
            "\n\nUse: `artdirector refine IDEA --image-model MODEL --critic feedback=THIS_FOLDER`.\n")


class FeedbackCritic(Critic):
    name = "feedback"

    def __init__(self, model: FeedbackModel):
        self.model = model

    @classmethod
    def from_pretrained(cls, folder: str, *, device: str | None = None) -> FeedbackCritic:
        return cls(FeedbackModel.load_trained(folder, CONFIG, ASK, "critic"))

    def answer(self, questions: Sequence[Question], images: Sequence, *, idea: str = "") -> list[list[float]]:
        return [[_named(q, text) for q in questions] for text in self.model.write(images, idea)]

    def critique(self, idea: str, parts: dict[str, list[str]], images: Sequence) -> Critique:
        verdict = super().critique(idea, parts, images)
        verdict.feedback = " / ".join(dict.fromkeys(self.model.write(list(images)[:1], idea))) or verdict.feedback
        return verdict


def _named(q: Question, feedback: str) -> float:
    from artdirector.text import contains

    low = feedback.lower()
    return NAMED if contains(low, q.element.lower()) or contains(low, q.element.split()[-1].lower()) else UNNAMED
