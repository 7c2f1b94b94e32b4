"""Checkpoint converters, checked against reference forwards written in the authors' layouts.

The references below are small re-statements of OpenCLIP's ``VisionTransformer``/``TextTransformer`` and of
BLIP's timm ViT, built from PyTorch modules (``nn.MultiheadAttention`` defines the fused q/k/v order
independently of transformers). Their state dicts carry the authors' key names; after conversion,
transformers' models must compute the same embeddings from the same random weights.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from artdirector.imaging.testing import save_tiny_clip, save_tiny_imagereward
from artdirector.scoring.base import ScorerError
from artdirector.scoring.convert import convert_hps, convert_imagereward, load_checkpoint, openclip_to_clip


class QuickGELU(nn.Module):  # OpenCLIP's, for models trained with OpenAI's activation (the tiny base uses it)
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualBlock(nn.Module):  # OpenCLIP's ResidualAttentionBlock, sequence-first like nn.MultiheadAttention
    def __init__(self, width, heads, hidden):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(width, hidden), gelu=QuickGELU(),
                                             c_proj=nn.Linear(hidden, width)))

    def forward(self, x, mask=None):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Tower(nn.Module):
    def __init__(self, width, heads, hidden, layers):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualBlock(width, heads, hidden) for _ in range(layers))

    def forward(self, x, mask=None):
        for block in self.resblocks:
            x = block(x, mask)
        return x


class Visual(nn.Module):
    def __init__(self, image, patch, width, heads, hidden, layers, embed):
        super().__init__()
        grid = image // patch
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width))
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, width))
        self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
        self.transformer = Tower(width, heads, hidden, layers)
        self.proj = nn.Parameter(torch.randn(width, embed))

    def forward(self, pixels):
        x = self.conv1(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(len(x), 1, -1), x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x).transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj


class OpenCLIPReference(nn.Module):
    def __init__(self, vocab, context=77, width=32, heads=4, hidden=37, layers=2, image=32, patch=4, embed=32):
        super().__init__()
        self.visual = Visual(image, patch, width, heads, hidden, layers, embed)
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.randn(context, width) * 0.1)
        self.transformer = Tower(width, heads, hidden, layers)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed))
        self.logit_scale = nn.Parameter(torch.tensor(3.0))
        self.register_buffer("attn_mask", torch.full((context, context), float("-inf")).triu(1), persistent=False)

    def encode_text(self, tokens):
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.ln_final(self.transformer(x.transpose(0, 1), self.attn_mask).transpose(0, 1))
        return x[torch.arange(len(x)), tokens.argmax(dim=-1)] @ self.text_projection  # EOT has the top id


def test_hps_conversion_reproduces_openclip_embeddings(tmp_path):
    from transformers import CLIPModel, CLIPTokenizer

    base = save_tiny_clip(tmp_path / "base", seed=1)
    tokenizer = CLIPTokenizer.from_pretrained(base)
    torch.manual_seed(0)
    reference = OpenCLIPReference(len(tokenizer)).eval()
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}},
               tmp_path / "hps.pt")  # the authors' training-script layout
    out = convert_hps(tmp_path / "hps.pt", tmp_path / "hps", base=str(base))
    model = CLIPModel.from_pretrained(out).eval()
    tokens = tokenizer(["a red fox in snow", "a lighthouse"], padding="max_length", max_length=77,
                       return_tensors="pt")
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want_text = reference.encode_text(tokens.input_ids)
        want_image = reference.visual(pixels)
        got_text = model.get_text_features(**tokens)
        got_image = model.get_image_features(pixel_values=pixels)
    got_text = getattr(got_text, "pooler_output", got_text)
    got_image = getattr(got_image, "pooler_output", got_image)
    assert torch.allclose(got_text, want_text, atol=1e-4) and torch.allclose(got_image, want_image, atol=1e-4)
    assert float(model.logit_scale.detach()) == pytest.approx(3.0)
    from artdirector.scoring.hps import HPSv2

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8))
    assert np.isfinite(HPSv2.from_pretrained(str(out)).score(["a red fox"], [image])).all()  # processor came too


def test_hps_conversion_refuses_what_it_does_not_know(tmp_path):
    base = save_tiny_clip(tmp_path / "base")
    state = OpenCLIPReference(49408).state_dict()
    with pytest.raises(ScorerError, match="unmapped tensors.*visual.ls_1"):
        openclip_to_clip({**state, "visual.ls_1.gamma": torch.ones(32)})
    torch.save(OpenCLIPReference(49408, width=48, embed=48, heads=4).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(ScorerError, match="does not fit the base architecture"):
        convert_hps(tmp_path / "wide.pt", tmp_path / "out", base=str(base))
    del state["ln_final.weight"]
    torch.save(state, tmp_path / "short.pt")
    with pytest.raises(ScorerError, match="not in the checkpoint: text_model.final_layer_norm.weight"):
        convert_hps(tmp_path / "short.pt", tmp_path / "out", base=str(base))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ScorerError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(ScorerError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")


class TimmBlock(nn.Module):  # BLIP's ViT block (timm layout): fused qkv reshaped to (3, heads, head_dim)
    def __init__(self, width, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width, eps=1e-6), nn.LayerNorm(width, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv, self.attn.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(width, hidden), nn.Linear(hidden, width)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        weights = (qkv[0] @ qkv[1].transpose(-2, -1) * (c // self.heads) ** -0.5).softmax(dim=-1)
        x = x + self.attn.proj((weights @ qkv[2]).transpose(1, 2).reshape(b, n, c))
        return x + self.mlp.fc2(nn.functional.gelu(self.mlp.fc1(self.norm2(x))))


class BlipViTReference(nn.Module):
    def __init__(self, image=16, patch=4, width=32, heads=4, hidden=37, layers=2):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, width, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, width))
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, width))
        self.blocks = nn.ModuleList(TimmBlock(width, heads, hidden) for _ in range(layers))
        self.norm = nn.LayerNorm(width, eps=1e-6)

    def forward(self, pixels):
        x = self.patch_embed.proj(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def imagereward_checkpoint(base, seed=0) -> tuple[dict, BlipViTReference]:
    """ImageReward.pt's layout: blip.visual_encoder (timm), blip.text_encoder (BERT), projections, mlp."""
    from transformers import BlipForImageTextRetrieval

    from artdirector.scoring.base import mlp_head

    torch.manual_seed(seed)
    vit = BlipViTReference().eval()
    blip = BlipForImageTextRetrieval.from_pretrained(base)
    state = {f"blip.visual_encoder.{k}": v for k, v in vit.state_dict().items()}
    for part in ("text_encoder", "vision_proj", "text_proj"):
        state.update({f"blip.{part}.{k}": torch.randn_like(v) for k, v in getattr(blip, part).state_dict().items()})
    state["blip.text_encoder.embeddings.position_ids"] = torch.arange(64)[None]  # older BERT code saved it
    state.update({f"mlp.{k}": torch.randn_like(v) for k, v in mlp_head(32).state_dict().items()})
    return state, vit


def test_imagereward_conversion_maps_every_tensor_and_matches_blips_vit(tmp_path):
    from transformers import BlipForImageTextRetrieval

    from artdirector.scoring.imagereward import HEAD_FILE, ImageRewardScore

    base = save_tiny_imagereward(tmp_path / "base")  # 32 px; the checkpoint below is 16 px, as 224 vs 384
    state, vit = imagereward_checkpoint(base)
    torch.save(state, tmp_path / "ImageReward.pt")
    out = convert_imagereward(tmp_path / "ImageReward.pt", tmp_path / "ir", base=str(base))
    model = BlipForImageTextRetrieval.from_pretrained(out).eval()
    assert model.config.vision_config.image_size == 16 and model.config.vision_config.layer_norm_eps == 1e-6
    pixels = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model.vision_model(pixel_values=pixels).last_hidden_state, vit(pixels), atol=1e-4)
    converted = model.state_dict()
    for key, value in state.items():
        if key.startswith("blip.text_encoder.") and not key.endswith("position_ids"):
            assert torch.equal(converted[key.removeprefix("blip.")], value), key
    head = torch.load(out / HEAD_FILE, weights_only=True)
    assert torch.equal(head["layers.7.weight"], state["mlp.layers.7.weight"])
    scorer = ImageRewardScore.from_pretrained(str(out))
    assert scorer.image_processor.crop_size == {"height": 16, "width": 16}
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8))
    assert np.isfinite(scorer.score(["a red fox"], [image])).all()


def test_imagereward_conversion_refuses_foreign_checkpoints(tmp_path):
    base = save_tiny_imagereward(tmp_path / "base")
    state, _ = imagereward_checkpoint(base)
    torch.save({k: v for k, v in state.items() if not k.startswith("mlp.")}, tmp_path / "headless.pt")
    with pytest.raises(ScorerError, match="no reward head"):
        convert_imagereward(tmp_path / "headless.pt", tmp_path / "out", base=str(base))
    torch.save({**state, "blip.visual_encoder_m.cls_token": torch.zeros(1)}, tmp_path / "momentum.pt")
    with pytest.raises(ScorerError, match="visual_encoder_m"):
        convert_imagereward(tmp_path / "momentum.pt", tmp_path / "out", base=str(base))


@pytest.mark.slow  # spawns the CLI
def test_models_convert_command(tmp_path):
    import os
    import subprocess
    import sys

    def convert(*args):
        return subprocess.run([sys.executable, "-m", "artdirector.cli", "models", "convert", *args],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})

    base = save_tiny_imagereward(tmp_path / "base")
    state, _ = imagereward_checkpoint(base)
    torch.save(state, tmp_path / "ImageReward.pt")
    r = convert("imagereward", str(tmp_path / "ImageReward.pt"), "--out", str(tmp_path / "ir"), "--base", str(base))
    assert r.returncode == 0, r.stderr
    assert f"--score imagereward={tmp_path / 'ir'}" in r.stdout
    again = convert("imagereward", str(tmp_path / "ImageReward.pt"), "--out", str(tmp_path / "ir"), "--base", str(base))
    assert again.returncode == 2 and "not empty" in again.stderr  # nothing of the first conversion is overwritten
    (tmp_path / "junk.pt").write_bytes(b"junk")
    bad = convert("hps", str(tmp_path / "junk.pt"), "--out", str(tmp_path / "h"), "--base", str(base))
    assert bad.returncode == 2 and "cannot read" in bad.stderr and bad.stderr.count("\n") == 1
