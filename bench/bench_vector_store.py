"""Choosing and sizing the prompt library's vector index, by measurement.

Candidates (all real, maintained libraries on PyPI): NumPy brute force (exact), usearch HNSW, FAISS HNSW
(IndexHNSWFlat, inner product), hnswlib, sqlite-vec (brute force inside SQLite), and the library's own
index, ``artdirector.library.store.FaissIndex`` (exact up to 20k rows, FAISS IVF-Flat beyond). For each:
build time, query p50/p95 (single queries, one thread of requests, as the director issues them),
recall@10 against exact search, memory added by the index and bytes on disk.

Data. ``16k``: the real prompts of the workspace corpus (MiniLM embeddings). Two synthetic 384-d families
at 200k and 2M, because no 2M real prompt set can be embedded on this machine in a session:
- ``clusters`` (``200k``, ``2m``): unit vectors around 2,000 random centres with heavy isotropic noise.
  Its local intrinsic dimension grows with n (the noise is 384-dimensional), which makes it an adversarial
  case for graph indexes;
- ``calibrated`` (``200k-cal``, ``2m-cal``): convex mixtures of 4 real MiniLM prompt embeddings drawn from
  one 21-neighbourhood, plus isotropic noise of norm 0.4. The noise was chosen so that a sample the size of
  the real corpus matches it on the two statistics that govern ANN difficulty: local intrinsic dimension
  (MLE, 20 neighbours) and relative contrast (mean / nearest distance). Both are measured and saved here.
2M runs the exact baseline and the library's index (an HNSW build at 2M takes over an hour here; the
usearch 2M figures in the results file come from an earlier run and are kept).

    .venv/bin/python bench/bench_vector_store.py [--scales 16k,200k,2m,200k-cal,2m-cal] [--ef 8,16,32,64]
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

    from artdirector import embedding
    from artdirector.corpus import read_tsv

    # All 16k real prompts where the workspace's data is beside the repo, else the shipped train split.
    shared = ROOT.parent / "shared" / "data" / "prompts" / "diffusiondb_prompts.tsv"
    path = shared if shared.is_file() else resources.files("artdirector.data").joinpath("prompts/train.tsv")
    path = Path(str(path))
    cache = ROOT / "bench" / ".cache" / f"minilm-{path.name}-{path.stat().st_size}.npy"
    if cache.is_file():
        vecs = np.load(cache)
    else:  # a few minutes of embedding on two cores; kept for the next run
        vecs = embedding.load().encode([r.prompt for r in read_tsv(str(path))], progress=False)
        cache.parent.mkdir(exist_ok=True)
        np.save(cache, vecs)
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


def calibrated(real: np.ndarray, n: int, noise: float = 0.4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    neighbourhoods = exact_top(real, real, 21)  # each row's 21 nearest real prompts, itself included
    x = np.empty((n, DIM), dtype=np.float32)
    for begin in range(0, n, 100_000):
        end = min(n, begin + 100_000)
        rows = neighbourhoods[rng.integers(0, len(real), end - begin)]
        picks = np.take_along_axis(rows, rng.integers(0, 21, (end - begin, 4)), 1)
        weights = rng.dirichlet(np.ones(4), end - begin).astype(np.float32)
        x[begin:end] = np.einsum("nm,nmd->nd", weights, real[picks])
        x[begin:end] += rng.normal(0, noise / np.sqrt(DIM), (end - begin, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.choice(n, 200, replace=False)] + rng.normal(0, 0.1 / np.sqrt(DIM), (200, DIM)).astype(np.float32)
    return x, q / np.linalg.norm(q, axis=1, keepdims=True)


def difficulty(x: np.ndarray, k: int = 20, probes: int = 500, seed: int = 1) -> dict:
    """Local intrinsic dimension (Levina-Bickel MLE over k neighbours) and relative contrast, medians."""
    rng = np.random.default_rng(seed)
    lids, contrasts = [], []
    for chunk in np.array_split(rng.choice(len(x), probes, replace=False), 10):
        sims = x[chunk] @ x.T
        sims[np.arange(len(chunk)), chunk] = -np.inf  # not its own neighbour
        dist = np.sqrt(np.maximum(2 - 2 * sims, 0))
        near = np.sort(np.partition(dist, k, axis=1)[:, :k], axis=1)
        lids.extend(-1 / np.mean(np.log(np.maximum(near[:, :-1], 1e-9) / near[:, -1:]), axis=1))
        dist[np.isinf(dist)] = np.nan
        contrasts.extend(np.nanmean(dist, axis=1) / near[:, 0])
    return {"lid": round(float(np.median(lids)), 2), "relative_contrast": round(float(np.median(contrasts)), 3)}


def exact_top(x: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    out = []
    for begin in range(0, len(q), 50):
        sims = q[begin:begin + 50] @ x.T
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


class ArtDirector:
    """The library's own index, with its defaults."""

    def build(self, x, path):
        from artdirector.library.store import FaissIndex

        self.index = FaissIndex(DIM)
        self.index.add(np.arange(len(x)), x)
        self.index.save(path / "a.faiss")

    def query(self, v, k):
        return self.index.search(v, k)[0][0]

    def set_scan(self, scan):  # the IVF search breadth in vectors; no effect while the index is exact
        self.index.scan = scan


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


CANDIDATES = {"numpy-exact": Numpy, "artdirector-faiss": ArtDirector, "usearch-hnsw": USearch,
              "faiss-hnsw": Faiss, "hnswlib": Hnswlib, "sqlite-vec": SqliteVec}
SYNTHETIC_ROWS = {"200k": 200_000, "2m": 2_000_000, "200k-cal": 200_000, "2m-cal": 2_000_000}


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
            efs: tuple[int, ...] = (), scans: tuple[int, ...] = ()) -> dict:
    """Build once, then query at the default search breadth and at each of ``efs`` (HNSW indexes) or
    ``scans`` (the library's IVF index)."""
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
        for label, setter, values in (("by_ef", "set_ef", efs), ("by_scan", "set_scan", scans)):
            if values and hasattr(index, setter):
                out[label] = {}
                for value in values:
                    getattr(index, setter)(value)
                    out[label][str(value)] = _queries(index, q, truth, k)
        return out


def bench_ingest(limit: int | None = None) -> dict:
    """Ingest throughput of the real library on the real corpus, and the share of it spent embedding."""
    from artdirector import embedding
    from artdirector.library.library import PromptLibrary

    shared = ROOT.parent / "shared" / "data" / "prompts" / "diffusiondb_prompts.tsv"
    src = shared if shared.is_file() else ROOT / "artdirector" / "data" / "prompts" / "train.tsv"
    embedder = embedding.load()
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
    parser.add_argument("--scales", default="16k,200k,2m,200k-cal,2m-cal")
    parser.add_argument("--big", default="numpy-exact,artdirector-faiss", help="candidates run at 2M")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest-throughput measurement")
    parser.add_argument("--only", default="", help="run only these candidates, e.g. artdirector-faiss")
    parser.add_argument("--ef", default="", help="search breadths to sweep on HNSW indexes, e.g. 64,128,256")
    parser.add_argument("--scan", default="", help="vectors scanned per query to sweep on the library's index")
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
    real = None  # (vectors, queries) of the real corpus, embedded once
    for scale in args.scales.split(","):
        if real is None and (scale == "16k" or scale.endswith("-cal")):
            real = real_vectors()
        if scale == "16k":
            x, q = real
        elif scale.endswith("-cal"):
            x, q = calibrated(real[0], SYNTHETIC_ROWS[scale])
        else:
            x, q = synthetic(SYNTHETIC_ROWS[scale])
        truth = exact_top(x, q)
        names = args.big.split(",") if len(x) > 1_000_000 else list(CANDIDATES)
        if args.only:
            names = [n for n in names if n in args.only.split(",")]
        # Merge into what is on record: candidates not run now keep their earlier figures.
        entry = report["scales"].setdefault(scale, {})
        entry.update(rows=len(x), data=difficulty(x))
        if scale.endswith("-cal"):  # the calibration check: a sample the size of the real corpus
            entry["data_at_real_size"] = difficulty(x[: len(real[0])])
        print(scale, json.dumps({k: v for k, v in entry.items() if k != "results"}), flush=True)
        entry.setdefault("results", {})
        for name in names:
            try:
                result = measure(name, x, q, truth, efs=tuple(int(e) for e in args.ef.split(",") if e),
                                 scans=tuple(int(e) for e in args.scan.split(",") if e))
            except (AttributeError, ImportError, OSError) as e:  # e.g. a Python built without SQLite extensions
                result = {"skipped": f"{type(e).__name__}: {e}"}
            entry["results"][name] = result
            print(scale, name, json.dumps(result), flush=True)
            save()
        del x
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
