"""People's votes on candidates (which prompt or image they preferred), kept in SQLite in the user directory
and exported as JSON Lines of (prompt, chosen, rejected) for preference training (DPO-style pairs)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from artdirector.errors import BadInput

SCHEMA = """CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, idea TEXT NOT NULL, kind TEXT NOT NULL,
    candidates TEXT NOT NULL, chosen INTEGER NOT NULL, seed INTEGER, meta TEXT NOT NULL)"""
KINDS = ("prompt", "image")
MAX_CANDIDATES = 16


def default_path() -> Path:
    from artdirector.config import user_dir

    return user_dir() / "votes.sqlite"


class VoteStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()  # one connection shared by the server's worker threads

    def add(self, idea: str, candidates: Sequence[str], chosen: int, *, kind: str = "prompt",
            seed: int | None = None, meta: dict | None = None) -> int:
        """Record that ``candidates[chosen]`` was preferred to the others; returns the vote's id."""
        if kind not in KINDS:
            raise BadInput(f"vote kind {kind!r}; valid: {', '.join(KINDS)}")
        if not 2 <= len(candidates) <= MAX_CANDIDATES:
            raise BadInput(f"a vote compares 2 to {MAX_CANDIDATES} candidates (got {len(candidates)})")
        if not 0 <= chosen < len(candidates):
            raise BadInput(f"chosen must index the candidates: 0 to {len(candidates) - 1} (got {chosen})")
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO votes (at, idea, kind, candidates, chosen, seed, meta) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), idea, kind, json.dumps(list(candidates), ensure_ascii=False), chosen, seed,
                 json.dumps(meta or {}, ensure_ascii=False)))
            return cur.lastrowid

    def pairs(self) -> Iterator[dict]:
        """One preference pair per rejected candidate of each vote, oldest vote first."""
        with self._lock:
            rows = self._db.execute("SELECT id, idea, kind, candidates, chosen, seed FROM votes ORDER BY id").fetchall()
        for vote_id, idea, kind, candidates, chosen, seed in rows:
            options = json.loads(candidates)
            for i, other in enumerate(options):
                if i != chosen:
                    yield {"vote": vote_id, "prompt": idea, "chosen": options[chosen], "rejected": other,
                           "kind": kind, "seed": seed}

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
