"""The prompt library: collections of human prompts, searchable by meaning and by words.

Storage: one SQLite database (WAL mode) holds every row — prompt, collection, source, time added, safety
flag — and its embedding; an FTS5 table mirrors the prompts for keyword search. The vector index of each
collection (``store.FaissIndex``) is derived data: it is saved with the highest row id it covers, and
whoever opens the collection adds any newer rows from the database. Hence:

- ingest is atomic per batch: a batch is embedded, then inserted in one transaction; a kill -9 leaves the
  committed batches and nothing of the rest;
- ingest is resumable: rows are unique per collection by normalised text, so re-running an ingest adds only
  what is missing;
- readers during an ingest see the last committed batch (SQLite WAL snapshot + index catch-up);
- a lost or stale index file is rebuilt from the database; a corrupt database is reported with the command
  that rebuilds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from artdirector.brief import BadInput
from artdirector.corpus import prompt_prefix
from artdirector.errors import LibraryError  # noqa: F401 - re-exported where it used to live
from artdirector.library.store import FaissIndex, VectorIndex
from artdirector.readers import read_rows
from artdirector.safety import is_unsafe
from artdirector.text import duplicate_key, fold_space

BUILTIN = "builtin"
DISCORD = "discord"
# The collections that ship with artdirector (package data file of each), indexed at install: the train split,
# and a curated sample of the Discord prompts of the same community (``bench/make_discord_library.py``).
SHIPPED = {BUILTIN: "prompts/train.tsv", DISCORD: "prompts/discord.tsv.gz"}
MAX_PROMPT_CHARS = 2000
NEAR_DUPLICATE = 0.95  # MiniLM cosine at which two prompts count as the same prompt reworded
BATCH = 256
# Up to this many rows in a collection (the index's exact stage), near-duplicates are found by brute force
# (exact, reproducible: a resumed ingest keeps exactly the rows an uninterrupted one keeps); beyond it, by
# the index's normal search. Measured at 200k rows (bench data, 2,000 planted near-duplicates at cosine
# 0.95-0.99): the normal search found all 2,000, while an exact scan of the IVF cells took 3.3 s per batch
# of 256, as long as embedding the batch.
EXACT_DEDUP_ROWS = 20_000
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al., 2009)
LEGACY_EMBEDDER, LEGACY_DIMENSION = "all-MiniLM-L6-v2", 384
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Versioned schema: migration N takes a database from user_version N-1 to N, inside the writer lock, so two
# processes opening a new library never race on its creation, and a reader never sees a half-made schema.
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS prompts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        prompt TEXT NOT NULL,
        norm TEXT NOT NULL,
        source TEXT NOT NULL,
        added_at REAL NOT NULL,
        unsafe INTEGER NOT NULL DEFAULT 0,
        vector BLOB NOT NULL,
        UNIQUE (collection, norm)
    );
    CREATE VIRTUAL TABLE IF NOT EXISTS prompts_fts USING fts5(prompt, content='prompts', content_rowid='id');
    CREATE TRIGGER IF NOT EXISTS prompts_ai AFTER INSERT ON prompts BEGIN
        INSERT INTO prompts_fts(rowid, prompt) VALUES (new.id, new.prompt);
    END;
    CREATE TRIGGER IF NOT EXISTS prompts_ad AFTER DELETE ON prompts BEGIN
        INSERT INTO prompts_fts(prompts_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt);
    END;
    """,
    # Which embedder built each collection: vectors of another model are not comparable. Collections made
    # before this was recorded were all built by the one embedder the project had.
    f"""
    CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, embedder TEXT NOT NULL,
                                            dimension INTEGER NOT NULL);
    INSERT OR IGNORE INTO collections SELECT DISTINCT collection, '{LEGACY_EMBEDDER}', {LEGACY_DIMENSION}
        FROM prompts;
    """,
    # The embedding of each prompt's idea (text before the first comma): ideas are searched against ideas
    # (``search(..., by="idea")``). Rows ingested before this have none; their collections are searched by
    # the whole prompt.
    "ALTER TABLE prompts ADD COLUMN idea_vector BLOB;",
    # ``has_ideas`` runs on every search by idea: without this it scanned the collection (19 ms at 12k rows).
    "CREATE INDEX IF NOT EXISTS prompts_without_idea ON prompts(collection) WHERE idea_vector IS NULL;",
    # The vectors of the shipped collections' modifier phrases, embedded once at install
    # (``remember_phrases``): a direction ranks a few hundred of them, and embedding them on every call was
    # most of the selection stage. Keyed by embedder name: another embedder's vectors are not comparable.
    """
    CREATE TABLE IF NOT EXISTS phrase_vectors (embedder TEXT NOT NULL, phrase TEXT NOT NULL, vector BLOB NOT NULL,
                                               PRIMARY KEY (embedder, phrase)) WITHOUT ROWID;
    """,
)
PHRASE_BATCH = 2048  # phrases embedded and committed at a time by ``remember_phrases``
FIELDS = {"prompt": ("vector", "", "indexed"), "idea": ("idea_vector", ".idea", "indexed-idea")}


@dataclass
class Hit:
    prompt: str
    score: float
    source: str
    id: int = 0
    collection: str = ""

    def to_json(self) -> dict:
        return {"prompt": self.prompt, "score": round(float(self.score), 4), "source": self.source}


@dataclass
class IngestReport:
    collection: str
    added: int = 0
    duplicate: int = 0
    near_duplicate: int = 0
    unsafe: int = 0
    bad: int = 0
    bad_lines: list[str] = field(default_factory=list)  # "line N: why", the first 50
    seconds: float = 0.0

    def to_json(self) -> dict:
        return self.__dict__ | {"seconds": round(self.seconds, 2)}


class PromptLibrary:
    """A folder holding ``library.sqlite`` and one ``<collection>.faiss`` index per collection."""

    def __init__(self, root: Path, embedder=None, *, index_factory=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "library.sqlite"
        self._embedder = embedder
        self._index_factory = index_factory or (lambda ndim, path: FaissIndex(ndim, path=path))
        self._indexes: dict[tuple[str, str], VectorIndex] = {}  # (collection, "prompt" | "idea")
        self._covered: dict[tuple[str, str], int] = {}  # highest row id each loaded index holds
        self._builtin: PromptLibrary | None = None
        self._owner: PromptLibrary | None = None  # the user's library this built-in one sits beside
        try:
            self.db = sqlite3.connect(self.db_path, timeout=30, check_same_thread=False)
            if self._version() < len(MIGRATIONS):
                self._migrate()
        except sqlite3.DatabaseError as e:
            raise LibraryError(f"the library at {self.root} is damaged ({e}); move it aside and rebuild it with "
                               "PromptLibrary.ingest (the built-in library rebuilds itself on next use)") from None

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        """Bring the schema up to date under the writer lock (a process creating the library meanwhile is
        waited for, never read half-made)."""
        with self._writer():
            self.db.execute("PRAGMA journal_mode=WAL")
            for version in range(self._version(), len(MIGRATIONS)):
                self.db.executescript(f"BEGIN; {MIGRATIONS[version]} PRAGMA user_version = {version + 1}; COMMIT;")

    @classmethod
    def default(cls, embedder=None) -> PromptLibrary:
        """The user's collections (in the user directory) with the built-in one beside them (derived from
        the package's data, so kept with the installation's assets: ``config.assets_dir``)."""
        from artdirector.config import assets_dir, user_dir

        lib = cls(user_dir() / "library", embedder)
        builtin = assets_dir() / "library"
        if builtin != lib.root:
            lib._builtin = cls(builtin, embedder)
            lib._builtin._owner = lib  # one embedder for both: it is most of a cold search's load
        return lib

    def _for(self, collection: str) -> PromptLibrary:
        """The library that holds ``collection``: the built-in one lives apart from the user's."""
        return self._builtin if collection in SHIPPED and self._builtin is not None else self

    def location(self, collection: str) -> Path:
        """The folder that holds ``collection``."""
        return self._for(collection).root

    def require(self, collection: str) -> None:
        """Refuse an unknown collection; build the built-in one if this installation has not yet."""
        if collection in SHIPPED:
            self.ensure_builtin()
        elif not self.has(collection):
            raise BadInput(f"no library named {collection!r}; libraries: {', '.join(self.collections())}")

    @property
    def embedder(self):
        if self._embedder is None:
            from artdirector import embedding

            self._embedder = self._owner.embedder if self._owner is not None else embedding.load()
        return self._embedder

    # -- collections -------------------------------------------------------------------------------------

    def collections(self) -> dict[str, int]:
        rows = self.db.execute("SELECT collection, COUNT(*) FROM prompts GROUP BY collection ORDER BY 1")
        found = dict(rows.fetchall())
        if self._builtin is not None:
            found = dict(sorted({**found, **self._builtin.collections()}.items()))
        return found

    def has(self, collection: str) -> bool:
        if self._for(collection) is not self:
            return self._builtin.has(collection)
        row = self.db.execute("SELECT 1 FROM prompts WHERE collection = ? LIMIT 1", (collection,)).fetchone()
        return row is not None

    def stats(self) -> dict:
        sources = self.db.execute("SELECT collection, source, COUNT(*) FROM prompts GROUP BY 1, 2").fetchall()
        unsafe = self.db.execute("SELECT COUNT(*) FROM prompts WHERE unsafe = 1").fetchone()[0]
        size = sum(p.stat().st_size for p in self.root.iterdir() if p.is_file())
        out = {"path": str(self.root), "collections": self.collections(), "unsafe_rows": unsafe,
               "sources": [{"collection": c, "source": s, "rows": n} for c, s, n in sources],
               "disk_bytes": size}
        if self._builtin is not None:
            inner = self._builtin.stats()
            out |= {"builtin_path": inner["path"], "unsafe_rows": unsafe + inner["unsafe_rows"],
                    "sources": out["sources"] + inner["sources"], "disk_bytes": size + inner["disk_bytes"]}
        return out

    def remove(self, collection: str) -> int:
        if collection in SHIPPED:
            raise BadInput(f"the {collection!r} library ships with artdirector and cannot be removed")
        with self._writer():
            n = self.db.execute("DELETE FROM prompts WHERE collection = ?", (collection,)).rowcount
            self.db.execute("DELETE FROM collections WHERE name = ?", (collection,))
            for by, (_, _, meta) in FIELDS.items():
                self.db.execute("DELETE FROM meta WHERE key = ?", (f"{meta}:{collection}",))
                self._index_path(collection, by).unlink(missing_ok=True)
                self._indexes.pop((collection, by), None)
                self._covered.pop((collection, by), None)
            self.db.commit()
        return n

    def _index_path(self, collection: str, by: str = "prompt") -> Path:
        return self.root / f"{collection}{FIELDS[by][1]}.faiss"

    def has_ideas(self, collection: str) -> bool:
        """Whether every row of ``collection`` carries an idea embedding (rows ingested by an older version
        do not: such a collection is searched by the whole prompt, never by a part of its rows)."""
        if self._for(collection) is not self:
            return self._builtin.has_ideas(collection)
        missing = self.db.execute("SELECT 1 FROM prompts WHERE collection = ? AND idea_vector IS NULL LIMIT 1",
                                  (collection,)).fetchone()
        return missing is None and self.has(collection)

    @contextlib.contextmanager
    def _writer(self, *, wait: bool = True):
        """One writer at a time across processes; readers never wait for it. Yields whether this process
        writes: always with ``wait``; without it, not when another writer is busy or the folder is read-only."""
        try:
            lock = open(self.root / "write.lock", "w")
        except OSError:
            if wait:
                raise
            yield False
            return
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def index(self, collection: str, by: str = "prompt") -> VectorIndex:
        """The collection's vector index of whole prompts (``by="prompt"``) or of their ideas (``"idea"``),
        caught up with every committed row."""
        if self._for(collection) is not self:
            return self._builtin.index(collection, by)
        column, _, meta = FIELDS[by]
        key = (collection, by)
        index = self._indexes.get(key)
        if index is None:
            path = self._index_path(collection, by)
            covered = self._meta(f"{meta}:{collection}")
            if not path.exists():  # lost, or never saved: every row goes in afresh
                covered = None
            try:
                index = self._index_factory(self.embedder.dimension, path if covered else None)
            except Exception:  # an unreadable index file is derived data: rebuild it from the database
                index, covered = self._index_factory(self.embedder.dimension, None), None
            self._indexes[key] = index
            self._covered[key] = int(covered or 0)
        rows = self.db.execute(f"SELECT id, {column} FROM prompts WHERE collection = ? AND id > ? AND {column} "
                               "IS NOT NULL ORDER BY id", (collection, self._covered[key])).fetchall()
        if rows:
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            index.add(ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))
            self._covered[key] = int(ids[-1])
            self._save_if_idle(collection, by)
        return index

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _save_if_idle(self, collection: str, by: str) -> None:
        """Keep a reader's catch-up for the next process, unless a writer is busy (it saves when done)."""
        with self._writer(wait=False) as writing:
            if writing:
                self._save_index(collection, by)

    def _save_index(self, collection: str, by: str = "prompt") -> None:
        index = self.index(collection, by)
        index.save(self._index_path(collection, by))
        # Libraries written before the FAISS index kept a usearch file; it is derived data, now unused.
        self._index_path(collection).with_suffix(".usearch").unlink(missing_ok=True)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        (f"{FIELDS[by][2]}:{collection}", str(self._covered[(collection, by)])))
        self.db.commit()

    # -- ingest ------------------------------------------------------------------------------------------

    def ingest(self, path: str | Path, collection: str, *, allow_unsafe: bool = False, progress=None,
               batch_size: int = BATCH) -> IngestReport:
        if self._for(collection) is not self:
            return self._builtin.ingest(path, collection, allow_unsafe=allow_unsafe, progress=progress,
                                        batch_size=batch_size)
        if not _NAME.match(collection):
            raise BadInput(f"library name {collection!r}: use 1-64 letters, digits, '.', '_' or '-'")
        path = Path(path)
        if not path.is_file():
            raise BadInput(f"{path} does not exist")
        report = IngestReport(collection)
        start = time.perf_counter()
        rows = list(read_rows(path))
        with self._writer():
            self._check_embedder(collection, create=True)
            pending: list[tuple[str, bool]] = []
            seen: set[str] = set()
            for line, prompt, error in rows:
                if error is None:
                    prompt = fold_space(prompt or "")
                    if any("\udc80" <= c <= "\udcff" for c in prompt):
                        error = "not valid UTF-8"
                    elif not prompt:
                        error = "empty prompt"
                    elif len(prompt) > MAX_PROMPT_CHARS:
                        error = f"{len(prompt)} characters (limit {MAX_PROMPT_CHARS})"
                if error:
                    report.bad += 1
                    if len(report.bad_lines) < 50:
                        report.bad_lines.append(f"line {line}: {error}")
                    continue
                unsafe = is_unsafe(prompt)
                if unsafe and not allow_unsafe:
                    report.unsafe += 1
                    continue
                key = duplicate_key(prompt)
                if key in seen:
                    report.duplicate += 1
                    continue
                seen.add(key)
                pending.append((prompt, unsafe))
            for begin in range(0, len(pending), batch_size):
                self._ingest_batch(pending[begin: begin + batch_size], collection, path.name, report)
                if progress:
                    progress(min(begin + batch_size, len(pending)), len(pending))
            self._save_index(collection)
            if self.has_ideas(collection):
                self._save_index(collection, "idea")
        report.seconds = time.perf_counter() - start
        return report

    def _ingest_batch(self, batch: Sequence[tuple[str, bool]], collection: str, source: str,
                      report: IngestReport) -> None:
        keys = [duplicate_key(p) for p, _ in batch]
        marks = ",".join("?" * len(keys))
        existing = {k for (k,) in self.db.execute(
            f"SELECT norm FROM prompts WHERE collection = ? AND norm IN ({marks})", (collection, *keys))}
        fresh = [(p, u, k) for (p, u), k in zip(batch, keys) if k not in existing]
        report.duplicate += len(batch) - len(fresh)
        if not fresh:
            return
        vectors = self.embedder.encode([p for p, _, _ in fresh])
        index = self.index(collection)
        _, prior = index.search(vectors, 1, exact=len(index) <= EXACT_DEDUP_ROWS)
        keep, kept_vecs = [], []
        for row, vec, prior_score in zip(fresh, vectors, prior[:, 0]):
            if prior_score >= NEAR_DUPLICATE or any(float(vec @ v) >= NEAR_DUPLICATE for v in kept_vecs):
                report.near_duplicate += 1
                continue
            keep.append(row)
            kept_vecs.append(vec)
        now = time.time()
        ideas = self._idea_vectors([p for p, _, _ in keep], kept_vecs)
        with self.db:  # one transaction per batch: all of it or none of it
            self.db.executemany(
                "INSERT INTO prompts (collection, prompt, norm, source, added_at, unsafe, vector, idea_vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(collection, p, k, source, now, int(u), v.astype(np.float32).tobytes(),
                  iv.astype(np.float32).tobytes()) for (p, u, k), v, iv in zip(keep, kept_vecs, ideas)])
        report.added += len(keep)

    def _idea_vectors(self, prompts: Sequence[str], vectors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The idea's vector of each prompt. A prompt without a comma is all idea (its prefix differs only in
        case, which the uncased embedder ignores), so its own vector serves; each distinct idea of the batch
        is embedded once (a session repeats one idea with other modifiers). Half the embedding work of an
        ingest of DiffusionDB prompts."""
        ideas = [prompt_prefix(p) or p for p in prompts]
        todo = list(dict.fromkeys(i for p, i in zip(prompts, ideas) if "," in p))
        found = dict(zip(todo, self.embedder.encode(todo)))
        return [found[i] if "," in p else v for p, i, v in zip(prompts, ideas, vectors)]

    # -- search ------------------------------------------------------------------------------------------

    def _rows(self, ids: Sequence[int]) -> dict[int, tuple]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, prompt, source, collection, unsafe FROM prompts WHERE id IN ({marks})",
                               [int(i) for i in ids])
        return {r[0]: r[1:] for r in rows}

    def search(self, query: str, *, k: int = 10, mode: str = "hybrid", collection: str = BUILTIN,
               include_unsafe: bool = False, source: str | None = None, by: str = "prompt",
               vector: np.ndarray | None = None) -> list[Hit]:
        """Prompts by meaning (``vector``), words (``keyword``) or both (``hybrid``). ``by="idea"`` compares
        the query with each prompt's idea (the text before its first comma) instead of the whole prompt: what
        the director retrieves with, since its query is an idea (collections ingested before idea embeddings
        existed are searched by the whole prompt). ``vector``: the query's embedding (1 x dimension), when the
        caller already has it (one idea searched in several collections)."""
        if by not in FIELDS:
            raise BadInput(f"unknown search field {by!r}; valid: {', '.join(FIELDS)}")
        if mode not in ("vector", "keyword", "hybrid"):
            raise BadInput(f"unknown search mode {mode!r}; valid: vector, keyword, hybrid")
        if not query.strip():
            raise BadInput("the search query is empty")
        if self._for(collection) is not self:
            return self._builtin.search(query, k=k, mode=mode, collection=collection,
                                        include_unsafe=include_unsafe, source=source, by=by, vector=vector)
        if not self.has(collection):
            raise BadInput(f"no library named {collection!r}; libraries: {', '.join(self.collections()) or 'none'}")
        if mode != "keyword":
            self._check_embedder(collection)
        depth = max(k * 5, 50)  # over-fetch: filters and fusion need candidates beyond the top k
        ranked: dict[str, list[tuple[int, float]]] = {}
        if mode in ("vector", "hybrid"):
            field = by if by == "prompt" or self.has_ideas(collection) else "prompt"
            ids, scores = self.index(collection, field).search(
                self.embedder.encode([query]) if vector is None else vector, depth)
            ranked["vector"] = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        if mode in ("keyword", "hybrid"):
            ranked["keyword"] = self._keyword(query, collection, depth)
        rows = self._rows(sorted({i for lst in ranked.values() for i, _ in lst}))

        def allowed(i: int) -> bool:
            r = rows.get(i)
            return r is not None and (include_unsafe or not r[3]) and (source is None or r[1] == source)

        if mode == "hybrid":
            fused: dict[int, float] = {}
            for lst in ranked.values():
                for rank, (i, _) in enumerate([x for x in lst if allowed(x[0])]):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
            order = sorted(fused.items(), key=lambda x: -x[1])
        else:
            order = [x for x in ranked[mode] if allowed(x[0])]
        return [Hit(rows[i][0], s, rows[i][1], i, rows[i][2]) for i, s in order[:k]]

    def _keyword(self, query: str, collection: str, depth: int) -> list[tuple[int, float]]:
        words = re.findall(r"\w+", query.lower())
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)  # quoted: user text is never FTS5 syntax
        rows = self.db.execute(
            "SELECT p.id, -bm25(prompts_fts) FROM prompts_fts JOIN prompts p ON p.id = prompts_fts.rowid "
            "WHERE prompts_fts MATCH ? AND p.collection = ? ORDER BY bm25(prompts_fts) LIMIT ?",
            (match, collection, depth))
        return [(int(i), float(s)) for i, s in rows]

    # -- the built-in library ----------------------------------------------------------------------------

    def _check_embedder(self, collection: str, *, create: bool = False) -> None:
        """Vectors from another embedder are not comparable: refuse to mix them into, or search, a
        collection another embedder built. ``create``: record this one for a new collection."""
        name, dim = self.embedder.name, self.embedder.dimension
        row = self.db.execute("SELECT embedder, dimension FROM collections WHERE name = ?", (collection,)).fetchone()
        if row is None and create:
            with self.db:
                self.db.execute("INSERT INTO collections VALUES (?, ?, ?)", (collection, name, dim))
        elif row is not None and tuple(row) != (name, dim):
            raise LibraryError(f"the collection {collection!r} was built with the embedder {row[0]} ({row[1]}-d); "
                               f"this one is {name} ({dim}-d): use that embedder, or ingest into a new collection")

    def ensure_builtin(self, progress=None) -> None:
        """Index the shipped collections (``SHIPPED``) on first use (the install step does it ahead of time)."""
        if self._for(BUILTIN) is not self:
            return self._builtin.ensure_builtin(progress)
        from importlib import resources

        for collection, data in SHIPPED.items():
            if self._meta(f"shipped:{collection}") == "1" and self.has(collection):
                continue
            self.ingest(Path(str(resources.files("artdirector.data").joinpath(data))), collection, progress=progress)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (f"shipped:{collection}",))
            self.db.commit()
        for collection in SHIPPED:
            if self._meta(f"phrases:{collection}") is None:
                self.remember_phrases(collection, progress=progress)

    # -- phrase vectors ----------------------------------------------------------------------------------

    def remember_phrases(self, collection: str, progress=None) -> int:
        """Embed and keep every phrase the prompts of ``collection`` can vote for
        (``retrieval.voteable``), so that ranking them reads vectors instead of computing them
        (``known_vectors``). Resumable: phrases already kept are skipped, each batch commits. The count added."""
        from artdirector.library.retrieval import voteable

        if self._for(collection) is not self:
            return self._builtin.remember_phrases(collection, progress)
        name, added = self.embedder.name, 0
        phrases = dict.fromkeys(m for (p,) in self.db.execute(
            "SELECT prompt FROM prompts WHERE collection = ? ORDER BY id", (collection,)) for m in voteable(p))
        kept = {m for (m,) in self.db.execute("SELECT phrase FROM phrase_vectors WHERE embedder = ?", (name,))}
        todo = [m for m in phrases if m not in kept]
        with self._writer():
            for start in range(0, len(todo), PHRASE_BATCH):
                batch = todo[start:start + PHRASE_BATCH]
                vectors = self.embedder.encode(batch)
                with self.db:
                    self.db.executemany("INSERT OR IGNORE INTO phrase_vectors VALUES (?, ?, ?)",
                                        [(name, m, v.astype(np.float32).tobytes()) for m, v in zip(batch, vectors)])
                added += len(batch)
                if progress:
                    progress(f"{collection} phrases: {added}/{len(todo)}")
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"phrases:{collection}", name))
        return added

    def known_vectors(self, phrases: Sequence[str]) -> dict[str, np.ndarray]:
        """The kept vector (``remember_phrases``) of each of ``phrases`` that has one, by this library's
        embedder; the built-in library's too."""
        found = self._builtin.known_vectors(phrases) if self._builtin is not None else {}
        todo = [m for m in dict.fromkeys(phrases) if m not in found]
        name = self.embedder.name
        for start in range(0, len(todo), 900):  # SQLite's bound-parameter limit, with room for the name
            chunk = todo[start:start + 900]
            rows = self.db.execute(f"SELECT phrase, vector FROM phrase_vectors WHERE embedder = ? AND phrase IN "
                                   f"({','.join('?' * len(chunk))})", (name, *chunk))
            found.update((m, np.frombuffer(v, dtype=np.float32)) for m, v in rows)
        return found
