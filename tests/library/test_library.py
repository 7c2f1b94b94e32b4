"""The prompt library on real SQLite, real FAISS and the real MiniLM embedder."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from artdirector.brief import BadInput
from artdirector.corpus import prompt_prefix
from artdirector.library.library import LibraryError, PromptLibrary
from artdirector.library.store import ExactIndex, FaissIndex
from artdirector.text import duplicate_key

PROMPTS = [
    "a castle on a hill at sunset, oil painting, by thomas cole",
    "a medieval castle at dusk, matte painting, dramatic lighting",
    "portrait of a cyborg woman, cyberpunk, neon lights, 8k",
    "a bowl of ramen, food photography, 35mm",
    "a lighthouse in a storm, seascape, by ivan aivazovsky",
]


@pytest.fixture(scope="module")
def embedder():
    from artdirector import embedding

    return embedding.load()


def write_tsv(path: Path, prompts, extra: bytes = b"") -> Path:
    path.write_bytes(("prompt\n" + "\n".join(prompts) + "\n").encode() + extra)
    return path


def test_norm_key_folds_case_punctuation_and_spaces():
    assert duplicate_key("A Castle,  at DUSK!") == duplicate_key("a castle at dusk")


def test_ingest_counts_every_kind_of_row(tmp_path, embedder):
    rows = [*PROMPTS, PROMPTS[0].upper(), "a castle on a hill at sunset , oil painting , by thomas cole!",
            "nsfw nude portrait", '""', "x" * 2100]  # '""' is an empty field; blank lines are no rows
    src = write_tsv(tmp_path / "in.tsv", rows, extra=b"bad \xff bytes\n")
    lib = PromptLibrary(tmp_path / "lib", embedder)
    report = lib.ingest(src, "mine")
    assert report.added == 5
    assert report.duplicate == 2  # upper-case copy and the re-punctuated copy
    assert report.unsafe == 1 and report.bad == 3
    assert any("not valid UTF-8" in b for b in report.bad_lines)
    assert any(b.startswith("line 10:") and "empty" in b for b in report.bad_lines)  # header is line 1
    again = lib.ingest(src, "mine")  # resumable: a re-run adds nothing twice
    assert again.added == 0 and again.duplicate == 7
    assert lib.collections() == {"mine": 5}


def test_near_duplicates_are_caught(tmp_path, embedder):
    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "a.tsv", ["a castle on a hill at sunset, oil painting, by thomas cole"]), "m")
    r = lib.ingest(write_tsv(tmp_path / "b.tsv", ["a castle on the hill at sunset, oil painting, by thomas cole"]),
                   "m")
    assert r.near_duplicate == 1 and r.added == 0


def test_search_modes_and_persistence(tmp_path, embedder):
    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "in.tsv", PROMPTS), "mine")
    vec = lib.search("an old stone castle", k=2, mode="vector", collection="mine")
    assert {h.prompt for h in vec} == set(PROMPTS[:2])
    assert vec[0].score >= vec[1].score and vec[0].source == "in.tsv"
    kw = lib.search("ramen", k=3, mode="keyword", collection="mine")
    assert [h.prompt for h in kw] == [PROMPTS[3]]
    hyb = lib.search("castle ramen", k=5, mode="hybrid", collection="mine")
    assert PROMPTS[3] in [h.prompt for h in hyb] and any("castle" in h.prompt for h in hyb)
    # A new process (a fresh object) loads the saved index and finds the same.
    reopened = PromptLibrary(tmp_path / "lib", embedder)
    assert [h.prompt for h in reopened.search("an old stone castle", k=2, mode="vector",
                                              collection="mine")] == [h.prompt for h in vec]
    with pytest.raises(BadInput, match="no library named"):
        lib.search("x", collection="nope")
    with pytest.raises(BadInput, match="unknown search mode"):
        lib.search("x", mode="fuzzy", collection="mine")


def test_lost_index_file_is_rebuilt_from_the_database(tmp_path, embedder):
    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "in.tsv", PROMPTS), "mine")
    (tmp_path / "lib" / "mine.faiss").write_bytes(b"garbage")
    fresh = PromptLibrary(tmp_path / "lib", embedder)
    assert fresh.search("ramen noodles", k=1, mode="vector", collection="mine")[0].prompt == PROMPTS[3]
    assert len(FaissIndex(384, path=tmp_path / "lib" / "mine.faiss")) == 5  # the reader kept its rebuild


def test_corrupt_database_says_how_to_rebuild(tmp_path, embedder):
    root = tmp_path / "lib"
    root.mkdir()
    (root / "library.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="rebuild"):
        PromptLibrary(root, embedder)


def test_remove_and_stats(tmp_path, embedder):
    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "in.tsv", PROMPTS), "mine")
    assert lib.stats()["collections"] == {"mine": 5}
    assert lib.remove("mine") == 5
    assert lib.collections() == {} and not (tmp_path / "lib" / "mine.faiss").exists()
    lib.ingest(write_tsv(tmp_path / "in.tsv", PROMPTS[:2]), "mine")  # the object stays usable
    assert lib.collections() == {"mine": 2} and len(lib.search("castle", k=5, collection="mine")) == 2


def test_ideas_are_searched_against_ideas(tmp_path, embedder):
    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "in.tsv", [
        "a castle on a hill, oil painting, castle towers, castle walls, castle gate, by thomas cole",
        "a bowl of ramen, food photography, a castle in the background, 35mm",
        "an old castle at night, matte painting, moonlight"]), "mine")
    assert lib.has_ideas("mine") and (tmp_path / "lib" / "mine.idea.faiss").is_file()
    by_idea = lib.search("a ruined castle", k=3, mode="vector", collection="mine", by="idea")
    assert {h.prompt.split(",")[0] for h in by_idea[:2]} == {"a castle on a hill", "an old castle at night"}
    assert by_idea[-1].prompt.startswith("a bowl of ramen")  # its castle is in the modifiers, not the idea
    # each stored idea vector is that idea's own embedding, also where ingest reused or shared one
    lib.ingest(write_tsv(tmp_path / "more.tsv", ["A Lighthouse in a Storm", "a lighthouse in a storm, 8k",
                                                 "a ruined castle, by greg rutkowski"]), "mine")
    rows = lib.db.execute("SELECT prompt, idea_vector FROM prompts WHERE collection = 'mine'").fetchall()
    stored = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
    fresh = embedder.encode([prompt_prefix(p) for p, _ in rows])
    assert len(rows) == 6 and np.sum(stored * fresh, axis=1).min() > 0.9999
    with pytest.raises(BadInput, match="unknown search field"):
        lib.search("castle", collection="mine", by="title")
    assert lib.remove("mine") == 6 and not (tmp_path / "lib" / "mine.idea.faiss").exists()


def test_the_schema_is_versioned_and_records_each_collections_embedder(tmp_path, embedder):
    import sqlite3

    from artdirector.library.library import MIGRATIONS

    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "in.tsv", PROMPTS), "mine")
    db = sqlite3.connect(tmp_path / "lib" / "library.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT * FROM collections").fetchall() == [("mine", embedder.name, embedder.dimension)]
    # a library made before the embedder was recorded (schema version 1) migrates on open
    db.execute("DROP TABLE collections")
    db.execute("DROP INDEX prompts_without_idea")
    db.execute("ALTER TABLE prompts DROP COLUMN idea_vector")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    again = PromptLibrary(tmp_path / "lib", embedder)
    assert again.search("castle", k=1, collection="mine")
    assert not again.has_ideas("mine")  # rows from before idea embeddings: searched by the whole prompt
    assert again.search("castle", k=1, mode="vector", collection="mine", by="idea")
    assert db.execute("SELECT embedder FROM collections").fetchall() == [("all-MiniLM-L6-v2",)]

    class Other:  # vectors of another model are not comparable: refused, never mixed
        name, dimension = "other-embedder", embedder.dimension

        def encode(self, texts, progress=False):
            return embedder.encode(texts)

    with pytest.raises(LibraryError, match="built with the embedder all-MiniLM-L6-v2"):
        PromptLibrary(tmp_path / "lib", Other()).search("castle", k=1, mode="vector", collection="mine")
    assert PromptLibrary(tmp_path / "lib", Other()).search("castle", k=1, mode="keyword", collection="mine")


def test_phrase_vectors_are_kept_once_and_read_instead_of_embedded(tmp_path, embedder):
    from artdirector.library.ranker import PhraseVectors
    from artdirector.library.retrieval import voteable

    class Counting:  # the real embedder, counting the texts it is asked to embed
        name, dimension, asked = embedder.name, embedder.dimension, []

        def encode(self, texts, progress=False):
            self.asked.extend(texts)
            return embedder.encode(texts)

    counting = Counting()
    lib = PromptLibrary(tmp_path / "lib", counting)
    lib.ingest(write_tsv(tmp_path / "in.tsv", PROMPTS), "mine")
    phrases = list(dict.fromkeys(m for p in PROMPTS for m in voteable(p)))
    assert "by thomas cole" in phrases and "8k" in phrases
    assert lib.remember_phrases("mine") == len(phrases)
    assert lib.remember_phrases("mine") == 0  # resumable: nothing is embedded twice
    kept = lib.known_vectors([*phrases, "never seen"])
    assert set(kept) == set(phrases)
    # the kept vectors are the embedder's, one phrase at a time as a direction would embed it
    for m in phrases:
        assert np.allclose(kept[m], embedder.encode([m])[0], atol=1e-5)
    # another embedder's vectors are not comparable: it finds none of them
    Other = type("Other", (), {"name": "other", "dimension": embedder.dimension, "encode": counting.encode})
    assert PromptLibrary(tmp_path / "lib", Other()).known_vectors(phrases) == {}
    counting.asked.clear()
    vectors = PhraseVectors.of(lib)
    got = vectors(["a castle at dusk", *phrases])
    assert counting.asked == ["a castle at dusk"]  # only the text no prompt holds is embedded
    assert np.allclose(got[1:], embedder.encode(phrases), atol=1e-5)


def unit_rows(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_faiss_index_is_exact_while_small():
    x = unit_rows(500)
    exact, index = ExactIndex(32), FaissIndex(32)
    ids = np.arange(10, 510)
    exact.add(ids, x)
    index.add(ids, x)
    assert not index.clustered and len(index) == 500
    e_ids, e_scores = exact.search(x[:20], 5)
    f_ids, f_scores = index.search(x[:20], 5)
    assert (e_ids[:, 0] == ids[:20]).all() and (f_ids == e_ids).all()
    assert np.allclose(f_scores, e_scores, atol=1e-5)
    short_ids, short_scores = index.search(x[:1], 600)  # more asked than held: the rest are -1 / -inf
    assert (short_ids[0, 500:] == -1).all() and np.isneginf(short_scores[0, 500:]).all()


def test_faiss_index_clusters_when_large_and_keeps_every_row(tmp_path):
    # 40 clumps of 100 points: an inverted file with a few cells probed finds nearly all true neighbours.
    rng = np.random.default_rng(1)
    centres = unit_rows(40, seed=2)
    x = centres[np.repeat(np.arange(40), 100)] + rng.normal(0, 0.05, (4000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(4000) * 3 + 7  # ids are the library's row ids, not positions
    index = FaissIndex(32, train_at=1000, scan=128)  # ~31 rows a cell: 5 cells probed
    index.add(ids[:900], x[:900])
    assert not index.clustered
    index.add(ids[900:], x[900:])  # crosses train_at: the exact rows move into k-means cells
    assert index.clustered and index.index.nlist == 128 and len(index) == 4000  # 2^floor(log2(4*sqrt(4000)))
    assert index.nprobe() == 5  # ceil(128 / (4000 / 128))
    reference = ExactIndex(32)
    reference.add(ids, x)
    queries = x[::97]
    want, want_scores = reference.search(queries, 10)
    got, _ = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(want, got)])
    assert recall >= 0.9
    exact_ids, exact_scores = index.search(queries, 10, exact=True)  # every cell scanned: brute force
    assert (exact_ids == want).all() and np.allclose(exact_scores, want_scores, atol=1e-5)
    # Cells double once 4*sqrt(rows) reaches twice their number (rows ~4x), and nothing is lost on the way.
    more = unit_rows(300, seed=3)
    index.add(np.arange(100_000, 100_050), more[:50])  # 4,050 rows
    assert index.index.nlist == 128
    index.add(np.arange(100_050, 100_300), more[50:])  # 4,300: 4*sqrt > 256
    assert index.index.nlist == 256 and len(index) == 4300
    index.save(tmp_path / "x.faiss")
    loaded = FaissIndex(32, path=tmp_path / "x.faiss", scan=128)
    assert loaded.clustered and len(loaded) == 4300
    back, _ = loaded.search(more[:5], 1, exact=True)
    assert back[:, 0].tolist() == list(range(100_000, 100_005))


def test_faiss_index_refuses_unreadable_or_mismatched_files(tmp_path):
    (tmp_path / "bad.faiss").write_bytes(b"garbage")
    with pytest.raises(RuntimeError):
        FaissIndex(32, path=tmp_path / "bad.faiss")
    index = FaissIndex(16)
    index.add(np.arange(3), unit_rows(3, 16))
    index.save(tmp_path / "small.faiss")
    with pytest.raises(ValueError, match="16-d"):
        FaissIndex(32, path=tmp_path / "small.faiss")



def test_kill_during_ingest_leaves_a_consistent_resumable_library(tmp_path, embedder):
    """A real ingest process is killed with SIGKILL mid-way; the library stays queryable, holds whole
    batches only, and a re-run ends with exactly what an uninterrupted ingest gives."""
    import sqlite3

    src = Path(__file__).parents[2] / "data" / "splits" / "test.tsv"  # 1,639 real, varied prompts
    home = tmp_path / "home"
    env = {**os.environ, "ARTDIRECTOR_HOME": str(home)}
    cli = [sys.executable, "-m", "artdirector.cli", "library"]
    proc = subprocess.Popen([*cli, "ingest", str(src), "--library", "big"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = home / "library" / "library.sqlite"
    deadline, count = time.time() + 300, 0
    # Polled through the library itself, from the moment the folder may not even exist: a reader opening a
    # library another process is creating waits for its schema or sees it empty, never an SQL error.
    while time.time() < deadline and proc.poll() is None and count < 256:
        count = PromptLibrary(home / "library", embedder).collections().get("big", 0)
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    # A concurrent reader, while the writer is still running: sees committed batches, never an error.
    reader = PromptLibrary(home / "library", embedder)
    assert len(reader.search("castle", k=3, mode="hybrid", collection="big")) == 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as c:
        n = c.execute("SELECT COUNT(*) FROM prompts").fetchone()[0]
    assert 0 < n < 1500

    r = subprocess.run([*cli, "search", "castle", "--library", "big", "-k", "3", "--json"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["results"]) == 3  # queryable right after the kill

    r = subprocess.run([*cli, "ingest", str(src), "--library", "big", "--json"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["duplicate"] >= n  # what was committed is not added again
    with sqlite3.connect(db) as c:
        resumed = sorted(p for (p,) in c.execute("SELECT prompt FROM prompts"))
    clean = PromptLibrary(tmp_path / "clean", embedder)
    clean.ingest(src, "big")
    assert resumed == sorted(p for (p,) in clean.db.execute("SELECT prompt FROM prompts"))


def test_the_builtin_library_brings_its_discord_collection_discounted(tmp_path, embedder, monkeypatch):
    from artdirector.library.library import BUILTIN, DISCORD
    from artdirector.library.retrieval import DISCORD_DISCOUNT, retrieve

    lib = PromptLibrary(tmp_path / "lib", embedder)
    lib.ingest(write_tsv(tmp_path / "a.tsv", PROMPTS[:3]), BUILTIN)
    lib.ingest(write_tsv(tmp_path / "b.tsv", ["a castle on a hill at sunset, gouache, by john howe",
                                              "a bowl of ramen, anime style", PROMPTS[1].upper()]), DISCORD)
    lib.ingest(write_tsv(tmp_path / "c.tsv", PROMPTS[3:]), "mine")
    hits = retrieve(lib, BUILTIN, "a castle on a hill at sunset", k=3)
    assert [h.collection for h in hits[:2]] == [BUILTIN, DISCORD]  # the same idea: the discount decides
    assert hits[0].score - hits[1].score == pytest.approx(DISCORD_DISCOUNT, abs=1e-3)
    every = [h.prompt.lower() for h in retrieve(lib, BUILTIN, "a castle on a hill at sunset", k=6)]
    assert every.count(PROMPTS[1]) == 1  # posted in both: one vote
    assert {h.collection for h in retrieve(lib, "mine", "a castle on a hill at sunset")} == {"mine"}
    # Searched with the idea embedded once, each collection scores as its own search does.
    alone = {h.prompt: h.score for h in lib.search("a castle on a hill at sunset", k=3, mode="vector",
                                                    collection=DISCORD, by="idea")}
    for h in hits:
        if h.collection == DISCORD:
            assert h.score == pytest.approx(alone[h.prompt] - DISCORD_DISCOUNT, abs=1e-5)
    calls = []
    encode = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts: calls.append(list(texts)) or encode(texts))
    retrieve(lib, BUILTIN, "a castle on a hill at sunset", k=3)
    assert calls == [["a castle on a hill at sunset"]]
    with pytest.raises(BadInput, match="ships with artdirector"):
        lib.remove(DISCORD)
