"""Sentence embedders: the retrieval library, the guards and the evaluation metrics read meaning through one.

``EMBEDDERS`` is the registry; ``load()`` gives the default: the embedded all-MiniLM-L6-v2 through ONNX
Runtime when its export is in the assets directory (``models prepare`` writes it at install), else the same
weights through sentence-transformers. Both give the same vectors (cosine >= 0.9999, tested), under the same
name, so a library indexed by one is searched by the other; ONNX Runtime starts in about 0.2 s where
sentence-transformers and torch take 8-11 s to import here, which is most of a cold ``direct``.
"""

from __future__ import annotations

import importlib

from artdirector.embedding.base import Embedder

EMBEDDERS = {
    "onnx": "artdirector.embedding.onnx_backend:OnnxEmbedder",  # the light runtime (default once exported)
    "sentence-transformers": "artdirector.embedding.st_backend:SentenceTransformerEmbedder",  # torch
}

__all__ = ["EMBEDDERS", "Embedder", "embedder_class", "load"]


def embedder_class(name: str):
    from artdirector.errors import BadInput

    if name not in EMBEDDERS:
        raise BadInput(f"unknown embedder {name!r}; valid: {', '.join(EMBEDDERS)}")
    module, _, cls = EMBEDDERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def load(kind: str | None = None, *, device: str = "cpu") -> Embedder:
    """The embedded MiniLM on ``kind`` (None: ONNX Runtime if exported, else sentence-transformers);
    ``device`` matters to sentence-transformers only ("cuda" for training jobs)."""
    if kind is None:
        from artdirector.embedding.onnx_backend import exported_dir

        kind = "onnx" if exported_dir() is not None and device == "cpu" else "sentence-transformers"
    return embedder_class(kind).from_embedded(device=device)
