"""The embedder interface: texts in, L2-normalised float32 vectors out (a dot product is a cosine)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class Embedder(ABC):
    name: str  # recorded by the library beside the vectors it made; equal names mean comparable vectors
    dimension: int

    @abstractmethod
    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """One row per text, shape ``(len(texts), dimension)``, each of unit length."""
