"""ImageReward (Xu et al., 2023, "ImageReward: Learning and Evaluating Human Preferences for Text-to-Image
Generation"): BLIP's image-grounded text encoder with a reward head, trained on 137k expert comparisons.

The authors' ``ImageReward.score`` computes, for each (prompt, image):

1. the image through BLIP's ViT-L/16 at 224 px — resize the shorter side to 224 (bicubic), centre crop,
   normalise with CLIP's mean and std — giving ``image_embeds``;
2. the prompt through BERT's tokenizer (padded to 35 tokens, truncated there) and BLIP's text encoder with
   cross-attention over ``image_embeds``; the first ([CLS]) hidden state is the joint feature;
3. the reward head (``base.mlp_head``, 768 inputs) on that feature, then ``(r - 0.16717362830052426) /
   1.0333394966054072``, the mean and spread of the head's outputs on their data, so 0 is an average image.

Here BLIP is transformers' ``BlipForImageTextRetrieval`` (its ``vision_model`` and ``text_encoder``); the
processor is a ``CLIPImageProcessor`` at 224 px (the same resize-crop-normalise as the authors'
torchvision pipeline) and the BERT tokenizer. A folder holds the model (``save_pretrained``), the tokenizer,
the image processor and ``imagereward-head.pth``. The authors ship one PyTorch file in their own BLIP layout
(``THUDM/ImageReward``); ``artdirector models convert imagereward ImageReward.pt --out DIR``
(``scoring.convert``) writes the folder this class reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from artdirector.scoring.base import ImageScorer, ScorerError, check_model_ref, how_to_supply, mlp_head

MEAN, STD = 0.16717362830052426, 1.0333394966054072
MAX_TEXT_TOKENS = 35
HEAD_FILE = "imagereward-head.pth"
DEFAULT_MODEL = "a folder made by: artdirector models convert imagereward ImageReward.pt --out DIR"


class ImageRewardScore(ImageScorer):
    name = "imagereward"

    def __init__(self, model, tokenizer, image_processor, head, device: str = "cpu"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.head = head.eval()
        self.device = device

    @classmethod
    def from_pretrained(cls, model: str | None = None, *, device: str | None = None) -> ImageRewardScore:
        import torch
        from transformers import AutoImageProcessor, AutoTokenizer, BlipForImageTextRetrieval

        from artdirector.imaging.devices import pick_device

        if model is None:
            raise ScorerError(f"imagereward needs MODEL; {how_to_supply(cls.name, DEFAULT_MODEL)}")
        path = check_model_ref(cls.name, model, DEFAULT_MODEL) or Path(model)
        head_file = path / HEAD_FILE
        if not head_file.is_file():
            raise ScorerError(f"imagereward: {model} has no {HEAD_FILE}; {how_to_supply(cls.name, DEFAULT_MODEL)}")
        device = pick_device(device)
        try:
            blip = BlipForImageTextRetrieval.from_pretrained(str(path))
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            images = AutoImageProcessor.from_pretrained(str(path))
        except (OSError, ValueError) as e:
            raise ScorerError(f"imagereward: cannot load BLIP from {model!r} ({type(e).__name__}); "
                              f"{how_to_supply(cls.name, DEFAULT_MODEL)}") from None
        head = mlp_head(blip.config.text_config.hidden_size)
        head.load_state_dict(torch.load(head_file, map_location="cpu", weights_only=True))
        return cls(blip.to(device), tokenizer, images, head.to(device), device)

    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        import torch

        out = []
        for start in range(0, len(prompts), 16):
            ps, ims = list(prompts[start:start + 16]), list(images[start:start + 16])
            pixels = self.image_processor(images=[im.convert("RGB") for im in ims], return_tensors="pt")
            text = self.tokenizer(ps, padding="max_length", truncation=True, max_length=MAX_TEXT_TOKENS,
                                  return_tensors="pt").to(self.device)
            with torch.inference_mode():
                image_embeds = self.model.vision_model(
                    pixel_values=pixels["pixel_values"].to(self.device, self.model.dtype)).last_hidden_state
                image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
                joint = self.model.text_encoder(input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                                                encoder_hidden_states=image_embeds,
                                                encoder_attention_mask=image_atts).last_hidden_state[:, 0, :]
                reward = (self.head(joint.float()).squeeze(-1) - MEAN) / STD
            out += reward.cpu().tolist()
        return out

    def close(self) -> None:
        from artdirector.imaging.devices import free_memory

        self.model = self.head = None
        free_memory()
