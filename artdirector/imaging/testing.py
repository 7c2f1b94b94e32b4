"""Tiny random-weight models for tests, benchmarks and smoke runs, built in code (no downloads).

The same recipe as diffusers' ``get_dummy_components()``: the real classes (UNet, VAE, CLIP text encoder,
motion adapter, safety checker, CLIP scorer) at a few layers and 32–64 pixels, so every code path of the real
models runs in seconds on a CPU. The tokenizer is the real CLIP BPE tokenizer (``artdirector.tokens``), so
prompt handling — 77-token windows, compel's chunking — is exercised exactly. Pictures are noise: these
models test plumbing, never quality.

Each ``save_tiny_*`` writes a folder with ``save_pretrained`` that the product loads like a real checkpoint.
"""

from __future__ import annotations

from pathlib import Path

TEXT_DIM = 32


def _text_config(**extra):
    from transformers import CLIPTextConfig

    tok = _clip_tokenizer()
    return CLIPTextConfig(vocab_size=len(tok), hidden_size=TEXT_DIM, intermediate_size=37, num_attention_heads=4,
                          num_hidden_layers=2, max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                          eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **extra)


def _vision_config(**extra):
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(image_size=32, patch_size=4, hidden_size=TEXT_DIM, intermediate_size=37,
                            num_attention_heads=4, num_hidden_layers=2, **extra)


def _clip_tokenizer():
    """CLIP's real BPE tokenizer as transformers' ``CLIPTokenizer`` (what a pipeline folder holds), with the
    77-token window a pipeline's tokenizer declares."""
    from transformers import CLIPTokenizer

    from artdirector.tokens import CLIP_MAX_TOKENS, clip_vocabulary

    vocab, merges = clip_vocabulary()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_TOKENS)


def _image_processor(size: int = 32):
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def tiny_sd_components(seed: int = 0, safety_checker: bool = False) -> dict:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel


    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=32)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    parts = {"unet": unet, "vae": vae, "scheduler": scheduler, "text_encoder": CLIPTextModel(_text_config()).eval(),
             "tokenizer": _clip_tokenizer(), "safety_checker": None, "feature_extractor": None,
             "requires_safety_checker": False}
    if safety_checker:
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPConfig

        config = CLIPConfig(text_config=_text_config().to_dict(), vision_config=_vision_config().to_dict(),
                            projection_dim=TEXT_DIM)
        parts.update(safety_checker=StableDiffusionSafetyChecker(config).eval(), feature_extractor=_image_processor(),
                     requires_safety_checker=True)
    return parts


def save_tiny_sd(path: Path, seed: int = 0, safety_checker: bool = False) -> Path:
    """A tiny StableDiffusionPipeline folder (64 px in 2 steps renders in well under a second)."""
    from diffusers import StableDiffusionPipeline

    StableDiffusionPipeline(**tiny_sd_components(seed, safety_checker)).save_pretrained(path)
    return Path(path)


def save_tiny_lora(path: Path, pipeline: Path, *, seed: int = 0, rank: int = 4, layout: str = "diffusers",
                   metadata: dict | None = None, widen: bool = False) -> Path:
    """A random LoRA for the tiny pipeline at ``pipeline``, saved as one ``.safetensors`` file in diffusers' layout
    (``unet.…lora_A/lora_B``) or kohya's (``lora_unet_…lora_down/lora_up`` + ``alpha``) — the two that
    ``load_lora_weights`` reads. Its up-projections are random (PEFT starts them at zero) so that it changes the
    image. ``widen``: every input dimension doubled, a LoRA made for a bigger model that must not load."""
    import torch
    from diffusers import UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers, convert_state_dict_to_kohya
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(Path(pipeline) / "unet")
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    for name, param in unet.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    state = get_peft_model_state_dict(unet)
    if widen:
        state = {k: torch.cat([v, v], dim=1) if "lora_A" in k else v for k, v in state.items()}
    if layout == "kohya":
        tensors = convert_state_dict_to_kohya({f"unet.{k}": v for k, v in state.items()})
    else:
        tensors = {f"unet.{k}": v for k, v in convert_state_dict_to_diffusers(state).items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata or {})
    return path


def save_tiny_motion_adapter(path: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import MotionAdapter

    torch.manual_seed(seed)
    MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_norm_num_groups=2,
                  motion_num_attention_heads=2, motion_max_seq_length=32).save_pretrained(path)
    return Path(path)


def save_tiny_img2img(path: Path, seed: int = 0) -> Path:
    """An image-to-image pipeline folder: the product must refuse it as a text-to-image model."""
    from diffusers import StableDiffusionImg2ImgPipeline

    StableDiffusionImg2ImgPipeline(**tiny_sd_components(seed)).save_pretrained(path)
    return Path(path)


def save_tiny_clip(path: Path, seed: int = 0, aesthetic_head: bool = False) -> Path:
    """A tiny CLIPModel with its processor (and optionally a LAION-layout aesthetic head beside it)."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor


    torch.manual_seed(seed)
    config = CLIPConfig(text_config=_text_config().to_dict(), vision_config=_vision_config().to_dict(),
                        projection_dim=TEXT_DIM)
    CLIPModel(config).eval().save_pretrained(path)
    CLIPProcessor(image_processor=_image_processor(), tokenizer=_clip_tokenizer()).save_pretrained(path)
    if aesthetic_head:
        from artdirector.scoring.aesthetic import HEAD_FILES
        from artdirector.scoring.base import mlp_head

        torch.save(mlp_head(TEXT_DIM).state_dict(), Path(path) / HEAD_FILES[0])
    return Path(path)


def _bert_vocab(path: Path, words: str):
    """A BERT tokenizer over ``words`` (and BERT's special tokens, and BLIP's "[DEC]"), saved in ``path``."""
    from transformers import BertTokenizer

    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *words.split()])
                                    + "\n")
    return BertTokenizer(str(path / "vocab.txt"), bos_token="[DEC]")


def _blip_config(tokenizer, bos: str):
    from transformers import BlipConfig

    return BlipConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": TEXT_DIM, "encoder_hidden_size": TEXT_DIM,
                     "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "max_position_embeddings": 64, "bos_token_id": tokenizer.convert_tokens_to_ids(bos),
                     "sep_token_id": tokenizer.sep_token_id, "pad_token_id": tokenizer.pad_token_id},
        vision_config={"hidden_size": TEXT_DIM, "image_size": 32, "patch_size": 4, "intermediate_size": 37,
                       "num_hidden_layers": 2, "num_attention_heads": 4},
        projection_dim=TEXT_DIM, image_text_hidden_size=TEXT_DIM)


def save_tiny_imagereward(path: Path, seed: int = 0) -> Path:
    """A tiny BLIP image-text model with a BERT tokenizer, 32-px CLIP-style processor and reward head."""
    import torch
    from transformers import BlipForImageTextRetrieval

    from artdirector.scoring.base import mlp_head
    from artdirector.scoring.imagereward import HEAD_FILE

    path = Path(path)
    tokenizer = _bert_vocab(path, "a an the red fox cat in snow lighthouse storm oil painting of , . highly detailed")
    torch.manual_seed(seed)
    BlipForImageTextRetrieval(_blip_config(tokenizer, "[CLS]")).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    _image_processor().save_pretrained(path)
    torch.save(mlp_head(TEXT_DIM).state_dict(), path / HEAD_FILE)
    return path


def save_tiny_blip_vqa(path: Path, seed: int = 0) -> Path:
    """A tiny BLIP visual-question-answering model with its processor, the layout of Salesforce/blip-vqa-base."""
    import torch
    from transformers import BlipForQuestionAnswering, BlipImageProcessor, BlipProcessor

    path = Path(path)
    tokenizer = _bert_vocab(path, "yes no is there a an the this red blue cube sphere on image oil painting ? in")
    torch.manual_seed(seed)
    model = BlipForQuestionAnswering(_blip_config(tokenizer, "[DEC]")).eval()
    with torch.no_grad():  # transformers' init leaves parts at zero, so the answer would not depend on the image
        for name, p in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.1)
    model.save_pretrained(path)
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    processor.save_pretrained(path)
    return path


def save_tiny_blip_captioner(path: Path, seed: int = 0) -> Path:
    """A tiny BLIP captioning model with its processor, the layout of Salesforce/blip-image-captioning-base."""
    import torch
    from transformers import BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    path = Path(path)
    tokenizer = _bert_vocab(path, "a an the red blue green cube sphere square on of in photo painting")
    torch.manual_seed(seed)
    BlipForConditionalGeneration(_blip_config(tokenizer, "[DEC]")).eval().save_pretrained(path)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                  tokenizer=tokenizer).save_pretrained(path)
    return path


COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "white")


def shape_image(colour: str, shape: str, size: int = 32):
    """A solid ``colour`` square or circle on grey: what the tests teach a tiny CLIP to name."""
    from PIL import Image, ImageDraw

    from artdirector.imaging.toy import RGB

    image = Image.new("RGB", (size, size), (128, 128, 128))
    pen = ImageDraw.Draw(image)
    box = [4, 4, size - 5, size - 5]
    (pen.rectangle if shape == "square" else pen.ellipse)(box, fill=RGB[colour])
    return image
