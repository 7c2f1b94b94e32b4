"""``artdirector train image-lora``: a LoRA for a Stable Diffusion pipeline's UNet (and optionally its text
encoder) on (image, caption) pairs — diffusers' text-to-image LoRA recipe, with PEFT.

Stages:

1. **Data**: every image of the folder with its caption, from ``metadata.jsonl`` (``{"file_name", "text"}``, the
   Hugging Face imagefolder layout diffusers' scripts read) or ``NAME.txt`` beside ``NAME.png``. Missing
   captions are refused, or written by ``invert`` (``--caption-clip``, ``--captioner``) as ``NAME.txt`` files the
   user can read and edit. Images are resized on the shorter side and centre-cropped to ``resolution``.
2. **Model**: the pipeline's tokenizer, text encoder, VAE, UNet and training noise scheduler, frozen; LoRA
   adapters (PEFT, ``lora_alpha = r``) on the UNet's attention projections (``to_q/k/v/out.0``) and, with
   ``text_encoder``, the text encoder's (``q/k/v/out_proj``).
3. **Steps**: the noise-prediction objective — encode the image to latents (× the VAE's scaling factor), add
   noise at a random timestep, predict it (or the velocity, for v-prediction models) from the caption's
   embedding, mean-squared error. Each step draws its batch, noise and timesteps from generators seeded by
   (seed, step) alone, so a resumed run takes exactly the steps an uninterrupted one would.
4. **Checkpoints** every ``save_steps`` (the adapters' state, the optimizer, ``state.json`` last, so a folder
   without it is incomplete and ignored); a run in the same ``out`` resumes from the newest complete one.
5. **Output**: ``pytorch_lora_weights.safetensors`` in diffusers' layout (``generate --lora OUT``), its trigger
   words in ``pytorch_lora_weights.json`` where ``imaging.lora.trigger_words`` reads them, ``settings.json``,
   the loss per step in ``losses.json``, and a model card.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path

from artdirector.errors import BadInput
from artdirector.imaging.lora import WEIGHTS_NAME
from artdirector.training import checkpoints
from artdirector.training.settings import ImageLoraSettings

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
ADAPTER_STATE = "adapter_state.safetensors"


def read_pairs(settings: ImageLoraSettings, progress=None) -> list[dict]:
    """The folder's (image, caption) pairs; missing captions written by invert or refused."""
    from artdirector.inversion.invert import SUFFIXES

    root = Path(settings.data)
    if not root.is_dir():
        raise BadInput(f"no such folder {root}: give a folder of images with captions")
    images = sorted(p for p in root.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not images:
        raise BadInput(f"no images ({', '.join(SUFFIXES)}) in {root}")
    captions = {}
    meta = root / "metadata.jsonl"
    if meta.is_file():
        for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                    captions[row["file_name"]] = str(row["text"]).strip()
                except (ValueError, KeyError, TypeError):
                    raise BadInput(f"{meta}:{n}: each line must be a JSON object with file_name and text") from None
    for image in images:
        side = image.with_suffix(".txt")
        if image.name not in captions and side.is_file():
            captions[image.name] = side.read_text(encoding="utf-8").strip()
    missing = [p for p in images if not captions.get(p.name)]
    if missing and settings.caption_clip:
        from artdirector.inversion.invert import invert

        for result in invert(missing, clip=settings.caption_clip, captioner=settings.captioner,
                             device=settings.device):
            if "error" in result:
                raise BadInput(result["error"])
            Path(result["image"]).with_suffix(".txt").write_text(result["prompt"] + "\n", encoding="utf-8")
            captions[Path(result["image"]).name] = result["prompt"]
        if progress:
            progress(f"captions written by invert for {len(missing)} images (NAME.txt beside each; edit them)")
    elif missing:
        raise BadInput(f"{len(missing)} of {len(images)} images have no caption (e.g. {missing[0].name}): add "
                       "NAME.txt files or metadata.jsonl, or let invert write them with --caption-clip CLIP")
    return [{"image": str(p), "caption": captions[p.name]} for p in images]


def _pixels(paths, resolution: int):
    import numpy as np
    import torch
    from PIL import Image

    out = []
    for path in paths:
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = resolution / min(im.size)
            im = im.resize((max(resolution, round(im.width * scale)), max(resolution, round(im.height * scale))),
                           Image.BICUBIC)
            left, top = (im.width - resolution) // 2, (im.height - resolution) // 2
            im = im.crop((left, top, left + resolution, top + resolution))
        out.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1))
    return torch.stack(out)


class _Model:
    """The frozen pipeline parts and the trainable adapters."""

    def __init__(self, settings: ImageLoraSettings):
        import torch
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from peft import LoraConfig
        from transformers import CLIPTextModel, CLIPTokenizer

        from artdirector.imaging.devices import pick_device

        base = settings.base
        try:
            self.tokenizer = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer")
            self.text_encoder = CLIPTextModel.from_pretrained(base, subfolder="text_encoder")
            self.vae = AutoencoderKL.from_pretrained(base, subfolder="vae")
            self.unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet")
            self.scheduler = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise BadInput(f"{base} is not a Stable Diffusion pipeline this can train (tokenizer, text_encoder, vae, "
                           f"unet, scheduler): {first}") from None
        self.device = pick_device(settings.device)
        for part in (self.text_encoder, self.vae, self.unet):
            part.requires_grad_(False)
            part.to(self.device)
        torch.manual_seed(settings.seed)  # the adapters' initial weights
        self.unet.add_adapter(LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_r, init_lora_weights="gaussian",
                                         target_modules=UNET_TARGETS))
        if settings.text_encoder:
            self.text_encoder.add_adapter(LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_r,
                                                     init_lora_weights="gaussian", target_modules=TEXT_TARGETS))
        self.parts = {"unet": self.unet, **({"text_encoder": self.text_encoder} if settings.text_encoder else {})}
        self.params = [p for part in self.parts.values() for p in part.parameters() if p.requires_grad]
        self.torch = torch

    def loss(self, pixels, captions: list[str], generator):
        torch = self.torch
        ids = self.tokenizer(captions, padding="max_length", truncation=True, return_tensors="pt",
                             max_length=self.tokenizer.model_max_length).input_ids.to(self.device)
        with torch.no_grad():
            latents = self.vae.encode(pixels.to(self.device)).latent_dist.sample(generator=generator)
        latents = latents * self.vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        steps = torch.randint(0, self.scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
        steps = steps.to(self.device)
        noisy = self.scheduler.add_noise(latents, noise, steps)
        states = self.text_encoder(ids)[0]
        if self.scheduler.config.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(latents, noise, steps)
        else:
            target = noise
        predicted = self.unet(noisy, steps, states).sample
        return torch.nn.functional.mse_loss(predicted.float(), target.float())

    def adapter_state(self) -> dict:
        from peft.utils import get_peft_model_state_dict

        return {f"{name}.{k}": v.detach().cpu().contiguous() for name, part in self.parts.items()
                for k, v in get_peft_model_state_dict(part).items()}

    def load_adapter_state(self, state: dict) -> None:
        from peft.utils import set_peft_model_state_dict

        for name, part in self.parts.items():
            set_peft_model_state_dict(part, {k[len(name) + 1:]: v for k, v in state.items()
                                             if k.startswith(name + ".")})

    def save_lora(self, folder: Path) -> None:
        """``pytorch_lora_weights.safetensors`` in diffusers' layout, what ``load_lora_weights`` reads."""
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        layers = {f"{name}_lora_layers": convert_state_dict_to_diffusers(get_peft_model_state_dict(part))
                  for name, part in self.parts.items()}
        StableDiffusionPipeline.save_lora_weights(str(folder), safe_serialization=True, **layers)


def train_image_lora(settings: ImageLoraSettings, *, progress=None) -> dict:
    """Train (or resume) the LoRA in ``settings.out``; returns the run's record (also ``settings.json``)."""
    from safetensors.torch import load_file, save_file

    # 1. Data (refused before any model loads).
    pairs = read_pairs(settings, progress)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    # 2. Model, and the newest complete checkpoint.
    model = _Model(settings)
    torch = model.torch
    optimizer = torch.optim.AdamW(model.params, lr=settings.learning_rate)
    step, losses, resumed = 0, [], checkpoints.newest(out)
    if resumed:
        state = checkpoints.restore(resumed, optimizer,
                                    lambda point: model.load_adapter_state(load_file(str(point / ADAPTER_STATE))))
        if state["settings"] != _comparable(settings):
            raise BadInput(f"{out} holds a run with other settings: give another --out, or delete it")
        step, losses = state["step"], state["losses"]
    # 3. Steps: each one's batch and noise depend on (seed, step) only.
    start = time.perf_counter()
    model.unet.train()
    while step < settings.max_steps:
        key = settings.seed * 1_000_003 + step
        batch = random.Random(key).sample(pairs, min(settings.batch_size, len(pairs)))
        pixels = _pixels([b["image"] for b in batch], settings.resolution)
        loss = model.loss(pixels, [b["caption"] for b in batch], torch.Generator().manual_seed(key))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        losses.append(round(float(loss), 6))
        if progress:
            progress(step, settings.max_steps, losses[-1])
        # 4. Checkpoint: state.json last, so a half-written checkpoint is never resumed.
        if step % settings.save_steps == 0 or step == settings.max_steps:
            point = out / f"checkpoint-{step}"
            point.mkdir(exist_ok=True)
            save_file(model.adapter_state(), str(point / ADAPTER_STATE))
            checkpoints.save(point, optimizer, {"step": step, "losses": losses, "settings": _comparable(settings)})
    # 5. The LoRA as generate --lora reads it, its trigger words, the record and the card.
    model.save_lora(out)
    if settings.trigger:
        words = [t.strip() for t in settings.trigger.split(",") if t.strip()]
        (out / WEIGHTS_NAME).with_suffix(".json").write_text(json.dumps({"trigger_words": words}) + "\n")
    record = {"settings": asdict(settings), "images": len(pairs), "steps": step,
              "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
              "resumed_from": resumed.name if resumed else None,
              "seconds": round(time.perf_counter() - start, 2), "lora": str(out / WEIGHTS_NAME)}
    (out / "losses.json").write_text(json.dumps(losses) + "\n")
    (out / "settings.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "README.md").write_text(_card(record))
    return record


def _comparable(settings: ImageLoraSettings) -> dict:
    """The settings that decide the steps (not how many there are, nor the device)."""
    return {k: v for k, v in asdict(settings).items() if k not in ("max_steps", "save_steps", "device", "out")}


def _card(record: dict) -> str:
    s = record["settings"]
    parts = "UNet" + (" and text encoder" if s["text_encoder"] else "")
    trigger = f"\n- trigger words: {s['trigger']}" if s["trigger"] else ""
    return (f"# artdirector image LoRA\n\nA LoRA (r={s['lora_r']}) on the {parts} of `{s['base']}`, trained with "
            f"the noise-prediction objective of diffusers' text-to-image LoRA recipe.\n\n"
            f"- data: {record['images']} images with captions from `{s['data']}`, {s['resolution']} px\n"
            f"- steps: {record['steps']} (batch {s['batch_size']}, learning rate {s['learning_rate']}, seed "
            f"{s['seed']}); loss at the last step {record['loss_last']}{trigger}\n"
            f"- this run: {record['seconds']} s"
            f"{', resumed from ' + record['resumed_from'] if record['resumed_from'] else ''}\n\n"
            f"Use: `artdirector generate IDEA --image-model {s['base']} --lora {s['out']}=0.8`.\n")
