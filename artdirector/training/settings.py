"""Training settings: each default declared once, here (the CLI's ``train`` options show and use these),
and every value checked when the settings are made, before any model loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from artdirector.errors import BadInput, check_seed

# Every linear projection of a Llama-style block: the set llama.cpp's LoRA export (``lm.export``) maps.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_WEIGHTS = {"fidelity": 1.0, "modifier_quality": 1.0, "token_budget": 0.5, "keeps_idea": 0.5,
                   "no_repetition": 0.5}  # the text rewards of ``rewards.text_rewards``, by name


def _at_least(settings, minimum, *names: str) -> None:
    for name in names:
        value = getattr(settings, name)
        if value is not None and value < minimum:
            raise BadInput(f"{name} must be at least {minimum} (got {value})")


def _positive(settings, *names: str) -> None:
    for name in names:
        if not getattr(settings, name) > 0:
            raise BadInput(f"{name} must be greater than 0 (got {getattr(settings, name)})")


@dataclass
class SFTSettings:
    data: str
    out: str
    base: str | None = None  # a local model directory or hub id; None = the embedded SmolLM2-135M-Instruct
    limit: int | None = None  # use at most this many examples
    epochs: float = 1.0
    max_steps: int = -1  # -1: train for ``epochs``
    batch_size: int = 16  # halved automatically on out-of-memory; the size used is reported
    learning_rate: float = 3e-4
    lora_r: int = 16
    lora_alpha: int | None = None  # None: 2 * lora_r
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    max_length: int = 128  # tokens of frame + prompt: 99% of the training examples fit (mean 66)
    warmup_ratio: float = 0.03
    seed: int = 0
    save_steps: int = 50
    logging_steps: int = 10
    # Retrieval-augmented fine-tuning: this many held-out retrieved prompts (``training.data.held_out``) in the
    # frame before each target, which the adapter then reads at inference too; 0: the zero-shot frame.
    neighbours: int = 0
    collection: str = "builtin"  # the library collection the neighbours come from
    from_adapter: str | None = None  # a PEFT adapter folder (or "default", the shipped one) to continue training

    def __post_init__(self) -> None:
        if self.lora_alpha is None:
            self.lora_alpha = 2 * self.lora_r
        check_seed(self.seed)
        _at_least(self, 0, "neighbours")
        start = self.from_adapter
        if start not in (None, "default") and not (Path(start) / "adapter_config.json").is_file():
            raise BadInput(f"{self.from_adapter} is not a PEFT adapter folder (no adapter_config.json)")
        _at_least(self, 1, "limit", "batch_size", "lora_r", "lora_alpha", "max_length", "save_steps",
                  "logging_steps")
        _positive(self, "epochs", "learning_rate")
        if self.max_steps != -1 and self.max_steps < 1:
            raise BadInput(f"max_steps must be -1 (train for the epochs) or at least 1 (got {self.max_steps})")
        if not 0 <= self.lora_dropout < 1 or not 0 <= self.warmup_ratio < 1:
            raise BadInput("lora_dropout and warmup_ratio must be in [0, 1)")


@dataclass
class RLSettings:
    data: str
    out: str
    sft_adapter: str | None = "default"  # the SFT adapter to start from and stay close to; None: the plain model
    limit: int | None = 512  # ideas drawn from the data file
    max_steps: int = 30
    ideas_per_step: int = 2
    num_generations: int = 4  # the GRPO group: completions per idea
    max_completion_length: int = 48
    temperature: float = 1.0
    learning_rate: float = 2e-5
    beta: float = 0.05  # KL weight to the SFT policy
    lora_r: int = 8
    seed: int = 0
    save_steps: int = 10
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        check_seed(self.seed)
        _at_least(self, 1, "limit", "max_steps", "ideas_per_step", "max_completion_length", "lora_r", "save_steps")
        _at_least(self, 2, "num_generations")  # GRPO's baseline is the group mean: one completion has none
        _positive(self, "temperature", "learning_rate")
        if self.beta < 0:
            raise BadInput(f"beta must be at least 0 (got {self.beta})")
        if any(w < 0 for w in self.weights.values()) or not sum(self.weights.values()) > 0:
            raise BadInput("reward weights must be >= 0 and sum to more than 0")


# The feedback critic of the critique loop (``critique.feedback``).
@dataclass(frozen=True)
class CriticSettings:
    data: str  # JSON Lines of {"caption", "image" (a path, relative to the file), "feedback"}
    vision: str  # a CLIP folder or hub id: its vision tower encodes the images (frozen)
    out: str = "artdirector-critic"
    steps: int = 200
    batch_size: int = 4
    learning_rate: float = 2e-4
    lora_r: int = 8
    save_steps: int = 50
    seed: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        _at_least(self, 1, "steps", "batch_size", "lora_r", "save_steps")
        _positive(self, "learning_rate")


# The visual prompt tuner of ``invert --tuner`` (``inversion.tuner``).
@dataclass(frozen=True)
class TunerSettings:
    data: str  # JSON Lines of {"image" (a path, relative to the file), "prompt"}
    vision: str  # a CLIP folder or hub id: its vision tower encodes the images (frozen)
    out: str = "artdirector-tuner"
    steps: int = 300
    align_steps: int = 100  # stage 1: the projection alone, contrastive alignment (InfoNCE)
    batch_size: int = 8
    learning_rate: float = 1e-3
    lora_r: int = 8
    align_weight: float = 0.1  # stage 2: LM loss + this times the alignment loss
    temperature: float = 0.07
    save_steps: int = 50
    seed: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        _at_least(self, 1, "steps", "batch_size", "lora_r", "save_steps")
        _at_least(self, 0, "align_steps")
        _positive(self, "learning_rate", "temperature")
        if self.align_steps > self.steps:
            raise BadInput(f"align_steps ({self.align_steps}) cannot exceed steps ({self.steps})")


# A LoRA for the image model (``training.image_lora``; ``generate --lora`` reads what it writes).
@dataclass(frozen=True)
class ImageLoraSettings:
    data: str  # a folder of images, captions in metadata.jsonl ({"file_name", "text"}) or NAME.txt beside each
    base: str  # the diffusers Stable Diffusion pipeline (1.x/2.x) the LoRA is for: a folder or hub id
    out: str = "artdirector-image-lora"
    max_steps: int = 500
    resolution: int = 512  # images are resized (shorter side) and centre-cropped to this square
    batch_size: int = 1
    learning_rate: float = 1e-4
    lora_r: int = 8
    text_encoder: bool = False  # also a LoRA on the text encoder
    save_steps: int = 100
    seed: int = 0
    trigger: str | None = None  # phrase(s) the LoRA answers to, written where generate --lora reads them
    caption_clip: str | None = None  # write missing captions with invert (this CLIP ranks the vocabularies)
    captioner: str | None = None  # and this captioner writes the caption it starts from
    device: str | None = None

    def __post_init__(self) -> None:
        check_seed(self.seed)
        _at_least(self, 1, "max_steps", "batch_size", "lora_r", "save_steps")
        _at_least(self, 8, "resolution")
        _positive(self, "learning_rate")
        if self.resolution % 8:
            raise BadInput(f"resolution must be a multiple of 8 (got {self.resolution}): the VAE works on 8-pixel "
                           "blocks")
        if self.captioner and not self.caption_clip:
            raise BadInput("--captioner writes missing captions together with --caption-clip CLIP")


@dataclass(frozen=True)
class RankerSettings:
    data: str  # real prompts (the shipped ranker: the train split, which the built-in library holds)
    out: str
    limit: int = 3000  # ideas drawn from the data file (one per prompt prefix), seeded (6000: no better)
    trees: int = 300
    learning_rate: float = 0.05
    leaves: int = 15
    min_leaf: int = 50  # examples per leaf: no leaf for a handful of ideas' quirks
    chunk: int = 32  # ideas decoded per batch, each batch journalled (a killed run resumes from it)
    seed: int = 7

    def __post_init__(self) -> None:
        check_seed(self.seed)
        _at_least(self, 1, "limit", "trees", "chunk")
        _at_least(self, 2, "leaves")
        _at_least(self, 1, "min_leaf")
        _positive(self, "learning_rate")
