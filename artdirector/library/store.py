"""Vector indexes behind the prompt library.

``VectorIndex`` is the one interface (add, search, count); the library keeps the rows, metadata and the
vectors themselves in SQLite, so an index is always derived data that can be rebuilt from the database.
That is also how a user who outgrows one machine moves to a server: implement ``VectorIndex`` over a
Qdrant collection (``QdrantClient.upsert`` / ``query_points``) or LanceDB on object storage, keep ids equal
to the SQLite row ids, and pass it to ``PromptLibrary``.

``USearchIndex`` (HNSW, one file, memory-mapped on load) is the embedded default, chosen by measurement in
``bench/bench_vector_store.py``; ``ExactIndex`` (NumPy brute force) is exact by definition and serves as the
recall reference and as the index for small collections.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class VectorIndex(ABC):
    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add L2-normalised ``vectors`` under integer ``ids``."""

    @abstractmethod
    def search(self, vectors: np.ndarray, k: int, *, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine scores), each of shape ``(len(vectors), k)``; missing results have id -1.

        ``exact=True`` asks for brute-force results (deterministic, recall 1): ingest uses it to decide
        near-duplicates, so the same rows are kept whether an ingest ran once or was killed and resumed.
        """

    @abstractmethod
    def __len__(self) -> int: ...

    def save(self, path: Path) -> None:  # embedded indexes persist; a server index need not
        return None


class ExactIndex(VectorIndex):
    def __init__(self, ndim: int):
        self.ids = np.zeros(0, dtype=np.int64)
        self.vectors = np.zeros((0, ndim), dtype=np.float32)

    def add(self, ids, vectors):
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.vectors = np.concatenate([self.vectors, np.asarray(vectors, dtype=np.float32)])

    def search(self, vectors, k, *, exact=False):
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        out_ids = np.full((len(vectors), k), -1, dtype=np.int64)
        out_scores = np.full((len(vectors), k), -np.inf, dtype=np.float32)
        if len(self.ids):
            sims = vectors @ self.vectors.T
            top = min(k, sims.shape[1])
            idx = np.argpartition(-sims, top - 1, axis=1)[:, :top]
            order = np.take_along_axis(sims, idx, 1).argsort(axis=1)[:, ::-1]
            idx = np.take_along_axis(idx, order, 1)
            out_ids[:, :top] = self.ids[idx]
            out_scores[:, :top] = np.take_along_axis(sims, idx, 1)
        return out_ids, out_scores

    def __len__(self):
        return len(self.ids)


class USearchIndex(VectorIndex):
    def __init__(self, ndim: int, *, path: Path | None = None, connectivity: int = 16,
                 expansion_add: int = 128, expansion_search: int = 64):
        from usearch.index import Index

        self.index = Index(ndim=ndim, metric="cos", dtype="f32", connectivity=connectivity,
                           expansion_add=expansion_add, expansion_search=expansion_search)
        if path is not None and Path(path).exists():
            self.index.load(str(path))

    def add(self, ids, vectors):
        if len(ids):
            self.index.add(np.asarray(ids, dtype=np.uint64), np.asarray(vectors, dtype=np.float32), threads=0)

    def search(self, vectors, k, *, exact=False):
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        out_ids = np.full((len(vectors), k), -1, dtype=np.int64)
        out_scores = np.full((len(vectors), k), -np.inf, dtype=np.float32)
        if len(self.index):
            # HNSW graphs built with several threads differ run to run, so approximate results do too.
            found = self.index.search(vectors, k, threads=0, exact=exact)
            # One query gives ``Matches``, several give ``BatchMatches`` (with per-query counts).
            counts = found.counts if hasattr(found, "counts") else [len(found)]
            keys = np.atleast_2d(found.keys).astype(np.int64)
            dist = np.atleast_2d(found.distances)
            for row, c in enumerate(counts):
                out_ids[row, :c] = keys[row, :c]
                out_scores[row, :c] = 1.0 - dist[row, :c]  # usearch's "cos" metric is a distance
        return out_ids, out_scores

    def __len__(self):
        return len(self.index)

    def save(self, path: Path) -> None:
        tmp = Path(str(path) + ".tmp")
        self.index.save(str(tmp))
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
