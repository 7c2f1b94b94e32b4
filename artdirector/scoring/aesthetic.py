"""The LAION aesthetic predictor v2 ("improved aesthetic predictor", Schuhmann et al., 2022).

An MLP on the L2-normalised CLIP ViT-L/14 image embedding (768-d), trained on SAC + LAION-Logos + AVA ratings
to predict a 1–10 aesthetic score. Its layers, as in the original ``simple_inference.py`` and TRL's DDPO
example: Linear(768→1024), Dropout(0.2), Linear(1024→128), Dropout(0.2), Linear(128→64), Dropout(0.1),
Linear(64→16), Linear(16→1) — no activations, dropout inactive at inference (``base.mlp_head``). The prompt
is not used.

Weights: CLIP ``openai/clip-vit-large-patch14`` and the head ``aesthetic-model.pth`` from
``trl-lib/ddpo-aesthetic-predictor`` (TRL's DDPO example's copy of LAION's head; LAION's own
``sac+logos+ava1-l14-linearMSE.pth`` loads the same way).
A local folder holds the CLIP model and processor (``save_pretrained``) and one of ``HEAD_FILES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from artdirector.scoring.base import ClipEncoder, ClipScorer, ScorerError, how_to_supply, mlp_head

DEFAULT_MODEL = "openai/clip-vit-large-patch14"
DEFAULT_HEAD = ("trl-lib/ddpo-aesthetic-predictor", "aesthetic-model.pth")
HEAD_FILES = ("aesthetic-model.pth", "sac+logos+ava1-l14-linearMSE.pth")


class AestheticScore(ClipScorer):
    name = "aesthetic"

    def __init__(self, encoder: ClipEncoder, head):
        super().__init__(encoder)
        self.head = head

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, *, device: str | None = None) -> AestheticScore:
        import torch

        encoder = ClipEncoder.from_pretrained(model, device=device, scorer=cls.name, default=DEFAULT_MODEL)
        folder = Path(model).expanduser()
        found = [folder / f for f in HEAD_FILES if (folder / f).is_file()] if folder.is_dir() else []
        if folder.is_dir() and not found:
            raise ScorerError(f"aesthetic: {model} has a CLIP model but no predictor head ({' or '.join(HEAD_FILES)})"
                              f"; {how_to_supply(cls.name, DEFAULT_MODEL)}")
        if found:
            head_path = found[0]
        else:
            from huggingface_hub import hf_hub_download

            try:
                head_path = hf_hub_download(*DEFAULT_HEAD)
            except Exception as e:
                raise ScorerError(f"aesthetic: cannot fetch the predictor head {'/'.join(DEFAULT_HEAD)} "
                                  f"({type(e).__name__}); {how_to_supply(cls.name, DEFAULT_MODEL)}") from None
        head = mlp_head(encoder.model.config.projection_dim)
        state = torch.load(head_path, map_location="cpu", weights_only=True)
        head.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        return cls(encoder, head.to(encoder.device))

    def score(self, prompts: Sequence[str], images: Sequence) -> list[float]:
        import torch

        emb = self.encoder.image_embeddings(images).to(self.encoder.device)
        with torch.inference_mode():
            return self.head(emb).squeeze(-1).float().cpu().tolist()

    def close(self) -> None:
        super().close()
        self.head = None
