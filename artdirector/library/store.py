"""Vector indexes behind the prompt library.

``VectorIndex`` is the one interface (add, search, count); the library keeps the rows, metadata and the
vectors themselves in SQLite, so an index is always derived data that can be rebuilt from the database.
That is also how a user who outgrows one machine moves to a server: implement ``VectorIndex`` over a
Qdrant collection (``QdrantClient.upsert`` / ``query_points``) or LanceDB on object storage, keep ids equal
to the SQLite row ids, and pass it to ``PromptLibrary``.

``FaissIndex`` is the embedded default, chosen by measurement in ``bench/bench_vector_store.py``: exact
search while a collection is small, then an inverted-file index (FAISS ``IndexIVFFlat``: k-means cells, a
query scans the cells nearest to it exhaustively). HNSW graphs (usearch, hnswlib, FAISS HNSW) were the first
choice and win at 16k-200k by tenths of a millisecond, but on 2M clustered vectors a 16-link usearch graph
reached recall@10 0.53-0.80 at ef 64-256 after more than an hour of building on two cores, where IVF-Flat
reached 0.99-1.0 at under 2 ms after a 74-second build.
``ExactIndex`` (NumPy brute force) is exact by definition and serves as the recall reference.
"""

from __future__ import annotations

import math
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
        return brute_force(vectors, self.vectors, self.ids, k)

    def __len__(self):
        return len(self.ids)


def brute_force(vectors, matrix: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` rows of ``matrix`` by inner product with each of ``vectors``, as (ids, scores)."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    out_ids = np.full((len(vectors), k), -1, dtype=np.int64)
    out_scores = np.full((len(vectors), k), -np.inf, dtype=np.float32)
    if len(ids):
        sims = vectors @ matrix.T
        top = min(k, sims.shape[1])
        idx = np.argpartition(-sims, top - 1, axis=1)[:, :top]
        order = np.take_along_axis(sims, idx, 1).argsort(axis=1)[:, ::-1]
        idx = np.take_along_axis(idx, order, 1)
        out_ids[:, :top] = ids[idx]
        out_scores[:, :top] = np.take_along_axis(sims, idx, 1)
    return out_ids, out_scores


def _cells(rows: int) -> int:
    """IVF cell count: the power of two at or below 4·sqrt(rows) (FAISS's guideline is 4-16·sqrt(n))."""
    return 1 << max(0, int(math.log2(4 * math.sqrt(rows))))


class FaissIndex(VectorIndex):
    """Exact search up to ``train_at`` rows, IVF-Flat beyond; re-clustered each time the collection grows 4×.

    A query scans the nearest cells until about ``scan`` vectors are covered (``nprobe`` = scan / mean cell
    size): a fixed amount of work per query whatever the size, so recall rises as cells fill instead of
    falling as they multiply. 8,192 gave recall@10 ≥ 0.97 from 200k to 2M vectors in the benchmark.
    Re-clustering keeps the cell count near 4·sqrt(n), so the centroid scan stays small too.
    """

    def __init__(self, ndim: int, *, path: Path | None = None, train_at: int = 20_000, scan: int = 8192):
        import faiss

        self._faiss = faiss
        self.ndim, self.train_at, self.scan = ndim, train_at, scan
        if path is None:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(ndim))
        else:
            self.index = faiss.read_index(str(path))  # a missing or unreadable file raises: the caller rebuilds
            if self.index.d != ndim:
                raise ValueError(f"index at {path} holds {self.index.d}-d vectors, not {ndim}-d")

    @property
    def clustered(self) -> bool:
        return isinstance(self.index, self._faiss.IndexIVF)

    def add(self, ids, vectors):
        if not len(ids):
            return
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        n = self.index.ntotal
        if (not self.clustered and n >= self.train_at) or (self.clustered and _cells(n) >= 2 * self.index.nlist):
            self._cluster(*self._contents())

    def _flat(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the exact stage, as views of FAISS's own storage (no copy)."""
        faiss, n = self._faiss, self.index.ntotal
        if not n:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.ndim), dtype=np.float32)
        flat = faiss.downcast_index(self.index.index)
        return (faiss.rev_swig_ptr(self.index.id_map.data(), n),
                faiss.rev_swig_ptr(flat.get_xb(), n * self.ndim).reshape(n, self.ndim))

    def _contents(self) -> tuple[np.ndarray, np.ndarray]:
        faiss = self._faiss
        if not self.clustered:
            return self._flat()  # the new index copies them before this one goes
        lists = self.index.invlists
        ids, vecs = [], []
        for cell in range(self.index.nlist):
            size = lists.list_size(cell)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(cell), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(cell), size * lists.code_size)
                vecs.append(np.frombuffer(codes, dtype=np.float32).reshape(size, self.ndim).copy())
        return np.concatenate(ids), np.concatenate(vecs)

    def _cluster(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        faiss = self._faiss
        cells = _cells(len(ids))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.ndim), self.ndim, cells, faiss.METRIC_INNER_PRODUCT)
        # k-means on at most 64 points per cell (FAISS samples 256 and warns below 39); a fixed sample and
        # FAISS's fixed k-means seed make the cells the same on every rebuild of the same rows.
        sample = np.random.default_rng(0).choice(len(ids), min(len(ids), 64 * cells), replace=False)
        index.train(vectors[np.sort(sample)])
        index.add_with_ids(vectors, ids)
        self.index = index

    def nprobe(self) -> int:
        mean_cell = max(1.0, self.index.ntotal / self.index.nlist)
        return int(min(self.index.nlist, max(1, math.ceil(self.scan / mean_cell))))

    def search(self, vectors, k, *, exact=False):
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if not self.clustered:
            # NumPy's BLAS over FAISS's own storage: 2.4x faster than IndexFlatIP for one query at 16k rows
            # here (0.53 vs 1.26 ms, bench/bench_vector_store.py).
            ids, matrix = self._flat()
            return brute_force(vectors, matrix, ids, k)
        # Scanning every cell is brute force over the same vectors: exact, for ingest's dedup decisions.
        # Per-call parameters, not index.nprobe, so concurrent searches do not change each other's.
        params = self._faiss.SearchParametersIVF(nprobe=self.index.nlist if exact else self.nprobe())
        scores, ids = self.index.search(vectors, k, params=params)
        ids = ids.astype(np.int64)
        return ids, np.where(ids >= 0, scores, -np.inf).astype(np.float32)

    def __len__(self):
        return self.index.ntotal

    def save(self, path: Path) -> None:
        tmp = Path(str(path) + ".tmp")
        self._faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
