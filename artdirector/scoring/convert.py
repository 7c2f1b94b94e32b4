"""Convert the authors' reward-model checkpoints into the transformers folders the scorers read.

HPS v2 ships an OpenCLIP state dict (``xswu/HPSv2``: ``HPS_v2_compressed.pt``, ``HPS_v2.1_compressed.pt``) and
ImageReward one file in BLIP's own layout (``THUDM/ImageReward``: ``ImageReward.pt``). Importing ``open_clip``
or the ``image-reward`` package pulls in torchvision (which breaks transformers here) and timm; the weights
need neither, only renaming onto transformers' classes of the same architecture:

- OpenCLIP → ``CLIPModel``: residual blocks keep one fused ``in_proj`` for q, k and v (PyTorch's
  ``nn.MultiheadAttention`` order) which transformers splits into three linears; the projections are
  stored as ``x @ P`` matrices where transformers keeps ``Linear`` weights, so they are transposed.
- BLIP → ``BlipForImageTextRetrieval``: the ViT is timm's layout (fused ``qkv`` like transformers', renamed
  norms, ``cls_token``/``pos_embed``); the BERT text encoder already has transformers' names. The reward
  head (``mlp.layers.*``) is saved beside the model as ``imagereward-head.pth``.

The architecture (layer counts, heads, activation) comes from ``base``: the transformers checkpoint the
authors fine-tuned from (a hub id, or a local copy of it). Every tensor of the checkpoint must find a place
of the same shape, and every weight of the model must be filled, or conversion stops and names the
offenders: a silently half-loaded reward model would score plausibly and wrongly.
"""

from __future__ import annotations

import re
from pathlib import Path

from artdirector.scoring.base import ScorerError

HPS_BASE = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
IMAGEREWARD_BASE = "Salesforce/blip-itm-large-coco"
BLIP_VIT_LAYER_NORM_EPS = 1e-6  # BLIP's ViT (timm) uses 1e-6; transformers' BLIP configs say 1e-5

_OPENCLIP_BLOCK = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "attn.out_proj": "self_attn.out_proj",
                   "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
_OPENCLIP_TOP = {
    "logit_scale": "logit_scale",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",  # sic: transformers' attribute name
    "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
}
_OPENCLIP_TRANSPOSED = {"text_projection": "text_projection.weight", "visual.proj": "visual_projection.weight"}

_BLIP_RENAMES = [  # (pattern, replacement) on keys with the leading "blip." removed, applied in order
    (r"^visual_encoder\.cls_token$", "vision_model.embeddings.class_embedding"),
    (r"^visual_encoder\.pos_embed$", "vision_model.embeddings.position_embedding"),
    (r"^visual_encoder\.patch_embed\.proj\.", "vision_model.embeddings.patch_embedding."),
    (r"^visual_encoder\.norm\.", "vision_model.post_layernorm."),
    (r"^visual_encoder\.blocks\.(\d+)\.norm1\.", r"vision_model.encoder.layers.\1.layer_norm1."),
    (r"^visual_encoder\.blocks\.(\d+)\.norm2\.", r"vision_model.encoder.layers.\1.layer_norm2."),
    (r"^visual_encoder\.blocks\.(\d+)\.attn\.qkv\.", r"vision_model.encoder.layers.\1.self_attn.qkv."),
    (r"^visual_encoder\.blocks\.(\d+)\.attn\.proj\.", r"vision_model.encoder.layers.\1.self_attn.projection."),
    (r"^visual_encoder\.blocks\.(\d+)\.mlp\.", r"vision_model.encoder.layers.\1.mlp."),
    (r"^(text_encoder|vision_proj|text_proj)\.", r"\1."),
]


def load_checkpoint(path: str | Path) -> dict:
    """A state dict from a ``torch.save`` file, unwrapped from ``{"state_dict": ...}`` and DDP's ``module.``."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise ScorerError(f"no checkpoint file at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated files, non-tensor payloads
        raise ScorerError(f"cannot read {path} as a PyTorch checkpoint ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ScorerError(f"{path} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def openclip_to_clip(state: dict) -> dict:
    """OpenCLIP (ViT image tower, built-in text tower) names and layouts → ``CLIPModel``'s."""
    out, unknown = {}, []
    for key, value in state.items():
        block = re.match(r"^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$", key)
        if key in _OPENCLIP_TOP:
            out[_OPENCLIP_TOP[key]] = value
        elif key in _OPENCLIP_TRANSPOSED:
            out[_OPENCLIP_TRANSPOSED[key]] = value.T.contiguous()
        elif block:
            tower = "vision_model" if block[1] else "text_model"
            prefix, rest = f"{tower}.encoder.layers.{block[2]}", block[3]
            fused = re.match(r"^attn\.in_proj_(weight|bias)$", rest)
            if fused:
                for name, part in zip("qkv", value.chunk(3, dim=0)):
                    out[f"{prefix}.self_attn.{name}_proj.{fused[1]}"] = part.contiguous()
                continue
            stem, _, leaf = rest.rpartition(".")
            if stem not in _OPENCLIP_BLOCK:
                unknown.append(key)
                continue
            out[f"{prefix}.{_OPENCLIP_BLOCK[stem]}.{leaf}"] = value
        elif key != "attn_mask":  # a buffer rebuilt from the config
            unknown.append(key)
    if unknown:
        raise ScorerError(f"not an OpenCLIP ViT checkpoint this converter knows: {len(unknown)} unmapped tensors, "
                          f"e.g. {', '.join(unknown[:5])}")
    return out


def blip_to_retrieval(state: dict) -> tuple[dict, dict]:
    """ImageReward's keys → (``BlipForImageTextRetrieval`` state dict, reward-head state dict)."""
    model, head, unknown = {}, {}, []
    for key, value in state.items():
        if key.startswith("mlp."):
            head[key.removeprefix("mlp.")] = value
            continue
        if key.endswith("position_ids"):  # a buffer older BERT code saved; transformers rebuilds it
            continue
        rest = key.removeprefix("blip.")
        for pattern, replacement in _BLIP_RENAMES:
            if re.search(pattern, rest):
                model[re.sub(pattern, replacement, rest)] = value
                break
        else:
            unknown.append(key)
    if unknown or not head:
        what = f"unmapped tensors, e.g. {', '.join(unknown[:5])}" if unknown else "no reward head (mlp.*)"
        raise ScorerError(f"not an ImageReward checkpoint this converter knows: {what}")
    return model, head


def _fill(model, weights: dict, *, may_stay: tuple[str, ...] = ()) -> list[str]:
    """Load ``weights`` into ``model``; refuse shape mismatches, extra tensors and unfilled weights."""
    own = model.state_dict()
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in weights.items()
             if k in own and own[k].shape != v.shape]
    extra = sorted(set(weights) - set(own))
    missing = sorted(k for k in set(own) - set(weights) if not k.startswith(may_stay))
    problems = [*(f"shape {w}" for w in wrong), *(f"no place for {k}" for k in extra),
                *(f"not in the checkpoint: {k}" for k in missing)]
    if problems:
        raise ScorerError(f"the checkpoint does not fit the base architecture ({len(problems)} problems, e.g. "
                          f"{'; '.join(problems[:4])}); is the base model the one it was fine-tuned from?")
    model.load_state_dict(weights, strict=False)
    return sorted(set(own) - set(weights))


def _load_base(base: str, default: str, *loaders) -> list:
    try:
        return [load(base) for load in loaders]
    except (OSError, ValueError) as e:
        raise ScorerError(f"cannot load the base model {base!r} ({type(e).__name__}); give a local copy of "
                          f"{default} as the base model, or run where the Hugging Face hub is reachable") from None


def convert_hps(checkpoint: str | Path, out: str | Path, *, base: str = HPS_BASE) -> Path:
    """An HPS v2 OpenCLIP checkpoint → a ``CLIPModel`` folder (with the base's processor) for ``--score hps=``."""
    from transformers import CLIPModel, CLIPProcessor

    weights = openclip_to_clip(load_checkpoint(checkpoint))
    model, processor = _load_base(base, HPS_BASE, CLIPModel.from_pretrained, CLIPProcessor.from_pretrained)
    _fill(model, weights, may_stay=("text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"))
    out = Path(out)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def convert_imagereward(checkpoint: str | Path, out: str | Path, *, base: str = IMAGEREWARD_BASE) -> Path:
    """``ImageReward.pt`` → the folder ``--score imagereward=`` reads: BLIP, BERT tokenizer, 224-px CLIP-style
    processor (ImageReward's resize-crop-normalise) and the reward head.

    The base supplies the architecture and the tokenizer; the image size follows from the checkpoint's
    position embeddings (ImageReward runs BLIP at 224 px, the base checkpoint at 384).
    """
    import torch
    from transformers import AutoTokenizer, BlipConfig, BlipForImageTextRetrieval, CLIPImageProcessor

    from artdirector.scoring.base import mlp_head
    from artdirector.scoring.imagereward import HEAD_FILE

    weights, head_weights = blip_to_retrieval(load_checkpoint(checkpoint))
    config, tokenizer = _load_base(base, IMAGEREWARD_BASE, BlipConfig.from_pretrained, AutoTokenizer.from_pretrained)
    positions = weights["vision_model.embeddings.position_embedding"].shape[1] - 1
    patch = weights["vision_model.embeddings.patch_embedding.weight"].shape[-1]
    grid = round(positions ** 0.5)
    if grid * grid != positions:
        raise ScorerError(f"{positions} image positions are not a square grid")
    config.vision_config.image_size = grid * patch
    config.vision_config.layer_norm_eps = BLIP_VIT_LAYER_NORM_EPS
    model = BlipForImageTextRetrieval(config).eval()
    # ImageReward kept BLIP's encoders and projections but not its image-text matching head, which the
    # reward never uses; it stays as initialised.
    _fill(model, weights, may_stay=("itm_head.", "text_encoder.embeddings.position_ids"))
    head = mlp_head(config.text_config.hidden_size)
    try:
        head.load_state_dict(head_weights)
    except RuntimeError as e:  # missing layers or another width
        raise ScorerError(f"the reward head does not fit a {config.text_config.hidden_size}-wide MLP head: "
                          f"{str(e).splitlines()[0]}") from None
    out = Path(out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    size = config.vision_config.image_size
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                       resample=3).save_pretrained(out)  # 3 = bicubic, as the authors' transform
    torch.save(head.state_dict(), out / HEAD_FILE)
    return out
