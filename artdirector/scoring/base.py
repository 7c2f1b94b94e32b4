"""Image scorers: plain callables ``(prompts, images, **kw) -> list[float]``.

The shape of TRL's reward functions and of ``artdirector.rewards``, so one scorer serves evaluation,
best-of-n and RL. ``images`` holds PIL images, or lists of PIL frames for clips (a clip scores the mean of its
frames). ``ImageScorer`` has one abstract method, ``score``; the frame handling lives here once.

``ClipEncoder`` is the CLIP-family model most scorers share (CLIP score, the LAION aesthetic predictor,
PickScore, HPS v2 are all CLIP towers with different weights and formulas). It runs the model's own processor
(resize shortest side to the input size with bicubic filtering, centre crop, scale, normalise with the
checkpoint's mean/std — CLIP's published preprocessing) and keeps L2-normalised embeddings in a bounded cache
keyed by the image's pixels or the text, so ranking the same images under several prompts, or scoring the
same prompt against many images, encodes each once.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from artdirector.errors import ScorerError  # noqa: F401 - re-exported where it used to live


def how_to_supply(name: str, default: str) -> str:
    return (f"give the {name} scorer a model: a local folder saved by save_pretrained (model and processor) or a "
            f"hub id (default {default}) on a machine that can reach the Hugging Face hub")


def check_model_ref(scorer: str, model: str, default: str = "") -> Path | None:
    """Fail early on a local path that does not exist (before an image run spends minutes); hub ids pass."""
    path = Path(model).expanduser()
    if model.startswith((".", "/", "~")) and not path.exists():
        raise ScorerError(f"{scorer}: no such folder {model}; {how_to_supply(scorer, default or model)}")
    return path if path.exists() else None


def load_pretrained(what: str, model: str, default: str, model_class, *, device: str | None = None,
                    kind: str = "model"):
    """``model_class`` and its processor from a folder or hub id on the best device, with a one-line
    ``ScorerError`` saying how to supply one when either cannot load. Returns (model, processor, device, name)."""
    from transformers import AutoProcessor

    from artdirector.imaging.devices import pick_device

    local = check_model_ref(what, model, default)
    source, device = str(local) if local else model, pick_device(device)
    try:
        loaded = model_class.from_pretrained(source)
        processor = AutoProcessor.from_pretrained(source)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ScorerError(f"{what}: cannot load a {kind} and processor from {model!r} ({first}); "
                          f"{how_to_supply(what, default)}") from None
    return loaded.to(device), processor, device, local.name if local else model


class ImageScorer(ABC):
    name: str = "scorer"

    @abstractmethod
    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        """One score per (prompt, PIL image) pair, higher is better."""

    def __call__(self, prompts: Sequence[str], images: Sequence, **kw) -> list[float]:
        if len(prompts) != len(images):
            raise ValueError(f"{self.name}: {len(prompts)} prompts for {len(images)} images")
        flat_prompts, flat_images, owner = [], [], []
        for i, (p, im) in enumerate(zip(prompts, images)):
            frames = list(im) if isinstance(im, (list, tuple)) else [im]
            flat_prompts += [p] * len(frames)
            flat_images += frames
            owner += [i] * len(frames)
        flat = self.score(flat_prompts, flat_images)
        totals, counts = [0.0] * len(images), [0] * len(images)
        for i, s in zip(owner, flat):
            totals[i] += s
            counts[i] += 1
        return [t / c for t, c in zip(totals, counts)]

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the model's memory."""


def mlp_head(dim: int):
    """The reward head LAION's aesthetic predictor and ImageReward share: five linear layers with dropout
    between the first four and no activation (so, at inference, one affine map learnt in factored form)."""
    from torch import nn

    class RewardHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))

        def forward(self, embedding):
            return self.layers(embedding)

    return RewardHead().eval()


def _image_key(image) -> str:
    h = hashlib.blake2b(image.tobytes(), digest_size=16)
    h.update(f"{image.mode}{image.size}".encode())
    return h.hexdigest()


class ClipEncoder:
    """A CLIP-family model and its processor, with cached normalised embeddings."""

    def __init__(self, model, processor, *, name: str, device: str = "cpu", cache_size: int = 4096,
                 batch_size: int = 16):
        self.model = model.eval()
        self.processor = processor
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._images: OrderedDict[str, object] = OrderedDict()
        self._texts: OrderedDict[str, object] = OrderedDict()

    @classmethod
    def from_pretrained(cls, model: str, *, processor: str | None = None, device: str | None = None,
                        scorer: str = "clip", default: str = "") -> ClipEncoder:
        from transformers import AutoProcessor, CLIPModel

        from artdirector.imaging.devices import pick_device

        local = check_model_ref(scorer, model, default)
        source = str(local) if local else model
        device = pick_device(device)
        try:
            clip = CLIPModel.from_pretrained(source)
            proc = AutoProcessor.from_pretrained(processor or source)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ScorerError(f"{scorer}: cannot load a CLIP model and processor from {model!r} ({first}); "
                              f"{how_to_supply(scorer, default or model)}") from None
        return cls(clip.to(device), proc, name=local.name if local else model, device=device)

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().exp())

    def _cached(self, cache: OrderedDict, keys: list[str], items: list, encode):
        import torch

        missing = [i for i, k in enumerate(keys) if k not in cache]
        for start in range(0, len(missing), self.batch_size):
            idx = missing[start:start + self.batch_size]
            with torch.inference_mode():
                emb = encode([items[i] for i in idx]).float()
            emb = emb / emb.norm(dim=-1, keepdim=True)
            for i, e in zip(idx, emb.cpu()):
                cache[keys[i]] = e
        for k in keys:
            cache.move_to_end(k)
        out = torch.stack([cache[k] for k in keys])
        while len(cache) > self.cache_size:
            cache.popitem(last=False)
        return out

    @staticmethod
    def _features(output):
        # transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor.
        return output if hasattr(output, "norm") else output.pooler_output

    def image_embeddings(self, images: Sequence):
        """L2-normalised image embeddings, ``(n, dim)`` float32 on the CPU."""

        def encode(batch):
            pixels = self.processor(images=[im.convert("RGB") for im in batch], return_tensors="pt")
            pixels = pixels["pixel_values"].to(self.device, self.model.dtype)
            return self._features(self.model.get_image_features(pixel_values=pixels))

        return self._cached(self._images, [_image_key(im) for im in images], list(images), encode)

    def text_embeddings(self, texts: Sequence[str]):
        """L2-normalised text embeddings; texts past the encoder's window are truncated, as CLIP does."""

        def encode(batch):
            limit = self.model.config.text_config.max_position_embeddings
            tok = self.processor(text=list(batch), padding=True, truncation=True, max_length=limit,
                                 return_tensors="pt").to(self.device)
            return self._features(self.model.get_text_features(input_ids=tok["input_ids"],
                                                               attention_mask=tok["attention_mask"]))

        return self._cached(self._texts, list(texts), list(texts), encode)

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        from artdirector.imaging.devices import free_memory

        self.model = None
        self._images.clear()
        self._texts.clear()
        free_memory()


class ClipScorer(ImageScorer):
    """A scorer on one ``ClipEncoder``: subclasses turn the prompt-image cosine into their score."""

    def __init__(self, encoder: ClipEncoder):
        self.encoder = encoder

    def cosines(self, prompts: Sequence[str], images: Sequence):
        return (self.encoder.image_embeddings(images) * self.encoder.text_embeddings(prompts)).sum(-1)

    def close(self) -> None:
        self.encoder.close()
