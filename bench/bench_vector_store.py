"""Choosing and sizing the prompt library's vector index, by measurement.

Candidates (all real, maintained libraries on PyPI): NumPy brute force (exact), usearch HNSW, FAISS HNSW
(IndexHNSWFlat, inner product), hnswlib, sqlite-vec (brute force inside SQLite). For each: build time, query
p50/p95 (single queries, one thread of requests, as the director issues them), recall@10 against exact
search, memory added by the index and bytes on disk.

Scales: the 16k real prompts of the workspace corpus (MiniLM embeddings), then synthetic 384-d unit vectors at 200k
and 2M drawn around 2,000 random centres (prompt embeddings are clustered, which pure noise is not). 2M is
run for the chosen index and the exact baseline only (the others take minutes each to build here).

    .venv/bin/python bench/bench_vector_store.py [--scales 16k,200k,2m] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
DIM = 384


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def real_vectors() -> tuple[np.ndarray, np.ndarray]:
    from importlib import resources

    from artdirector.corpus import read_tsv
    from artdirector.embed import Embedder

    # All 16k real prompts where the workspace's data is beside the repo, else the shipped train split.
    shared = ROOT.parent / "shared" / "data" / "prompts" / "diffusiondb_prompts.tsv"
    path = shared if shared.is_file() else resources.files("artdirector.data").joinpath("prompts/train.tsv")
    rows = [r.prompt for r in read_tsv(str(path))]
    vecs = Embedder().encode(rows, progress=False)
    rng = np.random.default_rng(0)
    q = vecs[rng.choice(len(vecs), 200, replace=False)] + rng.normal(0, 0.02, (200, DIM)).astype(np.float32)
    return vecs, q / np.linalg.norm(q, axis=1, keepdims=True)


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, DIM)).astype(np.float32)
    x = np.empty((n, DIM), dtype=np.float32)
    for begin in range(0, n, 200_000):
        end = min(n, begin + 200_000)
        x[begin:end] = centres[rng.integers(0, 2000, end - begin)] + rng.normal(0, 0.6, (end - begin, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.choice(n, 200, replace=False)] + rng.normal(0, 0.05, (200, DIM)).astype(np.float32)
    return x, q / np.linalg.norm(q, axis=1, keepdims=True)


def exact_top(x: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    out = []
    for begin in range(0, len(q), 20):
        sims = q[begin:begin + 20] @ x.T
        out.append(np.argpartition(-sims, k, axis=1)[:, :k])
    return np.concatenate(out)


class Numpy:
    def build(self, x, path):
        self.x = x

    def query(self, v, k):
        sims = self.x @ v
        top = np.argpartition(-sims, k)[:k]
        return top[np.argsort(-sims[top])]


class USearch:
    def build(self, x, path):
        from usearch.index import Index

        self.index = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=16, expansion_add=128,
                           expansion_search=64)
        self.index.add(np.arange(len(x), dtype=np.uint64), x, threads=0)
        self.index.save(str(path / "u.usearch"))

    def query(self, v, k):
        return self.index.search(v, k).keys

    def set_ef(self, ef):
        self.index.expansion_search = ef


class Faiss:
    def build(self, x, path):
        import faiss

        self.index = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 128
        self.index.hnsw.efSearch = 64
        self.index.add(x)
        faiss.write_index(self.index, str(path / "f.faiss"))

    def query(self, v, k):
        return self.index.search(v[None, :], k)[1][0]

    def set_ef(self, ef):
        self.index.hnsw.efSearch = ef


class Hnswlib:
    def build(self, x, path):
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=DIM)
        self.index.init_index(max_elements=len(x), ef_construction=128, M=16)
        self.index.add_items(x, np.arange(len(x)))
        self.index.set_ef(64)
        self.index.save_index(str(path / "h.bin"))

    def query(self, v, k):
        return self.index.knn_query(v, k)[0][0]

    def set_ef(self, ef):
        self.index.set_ef(ef)


class SqliteVec:
    def build(self, x, path):
        import sqlite3

        import sqlite_vec

        self.db = sqlite3.connect(path / "v.sqlite")
        self.db.enable_load_extension(True)
        sqlite_vec.load(self.db)
        self.db.execute(f"CREATE VIRTUAL TABLE v USING vec0(e float[{DIM}] distance_metric=cosine)")
        with self.db:
            self.db.executemany("INSERT INTO v(rowid, e) VALUES (?, ?)",
                                ((i, x[i].tobytes()) for i in range(len(x))))

    def query(self, v, k):
        rows = self.db.execute("SELECT rowid FROM v WHERE e MATCH ? AND k = ? ORDER BY distance", (v.tobytes(), k))
        return np.array([r[0] for r in rows])


CANDIDATES = {"numpy-exact": Numpy, "usearch-hnsw": USearch, "faiss-hnsw": Faiss, "hnswlib": Hnswlib,
              "sqlite-vec": SqliteVec}


def _queries(index, q, truth, k) -> dict:
    for v in q[:10]:
        index.query(v, k)  # warm-up
    times, recalls = [], []
    for v, t in zip(q, truth):
        start = time.perf_counter()
        got = index.query(v, k)
        times.append(time.perf_counter() - start)
        recalls.append(len(set(np.asarray(got).tolist()) & set(t.tolist())) / k)
    times.sort()
    return {"query_p50_ms": round(1000 * statistics.median(times), 3),
            "query_p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 3),
            "recall_at_10": round(float(np.mean(recalls)), 4)}


def measure(name: str, x: np.ndarray, q: np.ndarray, truth: np.ndarray, k: int = 10,
            efs: tuple[int, ...] = ()) -> dict:
    """Build once, then query at the default search breadth and at each of ``efs`` (HNSW indexes only)."""
    with tempfile.TemporaryDirectory() as tmp:
        before = rss_mb()
        index = CANDIDATES[name]()
        start = time.perf_counter()
        index.build(x, Path(tmp))
        build = time.perf_counter() - start
        memory = rss_mb() - before
        disk = sum(f.stat().st_size for f in Path(tmp).iterdir())
        out = {"build_s": round(build, 2), **_queries(index, q, truth, k), "index_memory_mb": round(memory, 1),
               "disk_mb": round(disk / 2**20, 1)}
        if efs and hasattr(index, "set_ef"):
            out["by_ef"] = {}
            for ef in efs:
                index.set_ef(ef)
                out["by_ef"][str(ef)] = _queries(index, q, truth, k)
        return out


def bench_ingest(limit: int | None = None) -> dict:
    """Ingest throughput of the real library on the real corpus, and the share of it spent embedding."""
    from artdirector.embed import Embedder
    from artdirector.library.library import PromptLibrary

    shared = ROOT.parent / "shared" / "data" / "prompts" / "diffusiondb_prompts.tsv"
    src = shared if shared.is_file() else ROOT / "artdirector" / "data" / "prompts" / "train.tsv"
    embedder = Embedder()
    spent = {"s": 0.0}
    encode = embedder.encode

    def timed(texts, **kw):
        start = time.perf_counter()
        try:
            return encode(texts, **kw)
        finally:
            spent["s"] += time.perf_counter() - start

    embedder.encode = timed
    with tempfile.TemporaryDirectory() as tmp:
        lib = PromptLibrary(Path(tmp), embedder)
        report = lib.ingest(src, "bench")
        disk = sum(f.stat().st_size for f in Path(tmp).iterdir())
    return {"rows_in": sum(1 for _ in open(src)) - 1, "added": report.added, "seconds": round(report.seconds, 1),
            "rows_per_s": round(report.added / report.seconds, 1),
            "embedding_share": round(spent["s"] / report.seconds, 3), "disk_mb": round(disk / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="16k,200k,2m")
    parser.add_argument("--big", default="numpy-exact,usearch-hnsw", help="candidates run at 2m")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest-throughput measurement")
    parser.add_argument("--ef", default="", help="search breadths to sweep on HNSW indexes, e.g. 64,128,256")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "vector_store.json"))
    args = parser.parse_args()
    # Keep what earlier runs measured at other scales: a 2M run takes long enough to be run on its own.
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    report = {**previous, "machine": {"cpus": os.cpu_count()}, "scales": previous.get("scales", {})}

    def save() -> None:  # after every measurement: a long run stopped part-way keeps what it measured
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")

    if not args.no_ingest:
        report["ingest"] = bench_ingest()
        print("ingest", json.dumps(report["ingest"]), flush=True)
        save()
    for scale in args.scales.split(","):
        x, q = real_vectors() if scale == "16k" else synthetic({"200k": 200_000, "2m": 2_000_000}[scale])
        truth = exact_top(x, q)
        names = args.big.split(",") if scale == "2m" else list(CANDIDATES)
        report["scales"][scale] = {"rows": len(x), "results": {}}
        for name in names:
            try:
                result = measure(name, x, q, truth, efs=tuple(int(e) for e in args.ef.split(",") if e))
            except (AttributeError, ImportError, OSError) as e:  # e.g. a Python built without SQLite extensions
                result = {"skipped": f"{type(e).__name__}: {e}"}
            report["scales"][scale]["results"][name] = result
            print(scale, name, json.dumps(result), flush=True)
            save()
        del x
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
