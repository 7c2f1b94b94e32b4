"""``artdirector batch IN OUT``: direct every idea of a file, in process or on Ray, resumable.

Stages:

1. **Read** IN (text, CSV, TSV, JSON Lines or Parquet; ``readers.read_records``): each row's idea checked, its
   other columns carried through; a bad row becomes an error row and the job goes on.
2. **Resume**: rows already in OUT (same line, same idea) and rows in the journal ``OUT.journal.jsonl`` that an
   interrupted run left are done; a journal or OUT made with other options is refused, not mixed.
3. **Plan** the rest as chunks of ``chunk`` ideas in input order. The chunks are the same whichever runner
   takes them, so that greedy directions are the same locally and on Ray (a batched LM call's numbers can
   depend on what else is in the batch).
4. **Direct** each chunk — in this process with the director loaded once, or on Ray Data
   (``batch.ray_runner``: one director per actor) — and append each finished chunk to the journal at once,
   so a kill loses at most the chunks in flight.
   With an image model (``job.images``), every directed row is then rendered and scored the same way
   (``batch.images``; on Ray by image actors holding a GPU each), its row replaced in the journal.
5. **Write** OUT from everything done, in input order, atomically; then the journal goes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artdirector.batch.table import write_rows
from artdirector.errors import BadInput

CHUNK = 32  # ideas per batched LM call (and per Ray task)
OUTPUTS = ("line", "expansion", "template", "idea", "prompt", "negative_prompt", "target", "parts", "notes", "error")


def key(row: dict) -> tuple[int, int]:
    """A row's place: its input line, and which expansion of that line's template (0 without templates)."""
    return int(row["line"]), int(row.get("expansion") or 0)


@dataclass(frozen=True)
class BatchJob:
    source: str
    out: str
    target: str = "sd15"
    column: str = "idea"  # the ideas' column in a table; plain text is one idea per line
    chunk: int = CHUNK
    options: dict = field(default_factory=dict)  # ArtDirector.direct_many's options (constraints, n, seed, ...)
    director: dict = field(default_factory=dict)  # how the director is loaded (backend, library, adapter)
    images: object = None  # batch.images.ImageBatch: render and score every directed row too
    templates: dict | None = None  # each row is a template: templates.expand's options (count, combinatorial, ...)

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise BadInput("the chunk size must be at least 1")
        if Path(self.out).resolve() == Path(self.source).resolve():
            raise BadInput("OUT must not be the input file")

    def fingerprint(self) -> str:
        """What makes two runs' rows comparable: the options, never the runner."""
        described = {"target": self.target, "director": self.director,
                     "options": {k: repr(v) for k, v in sorted(self.options.items())},  # dataclasses: by value
                     "images": self.images.describe() if self.images else None, "templates": self.templates}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def journal_path(out: str | Path) -> Path:
    return Path(str(out) + ".journal.jsonl")


def read_input(job: BatchJob, load: Callable | None = None) -> list[dict]:
    """Every row of the input: carried columns, ``line``, ``idea``; ``error`` for a row that cannot be directed.
    With ``job.templates`` each row's text is a template and becomes one row per expansion (``template``,
    ``expansion``); a missing wildcard is written by the director's LM (``load`` gives it, loaded once)."""
    from artdirector.brief import check_idea

    column, records = _records(job)
    rows, lm = [], []
    for line, record, text, error in records:
        carried = {(f"input_{k}" if k in OUTPUTS else k): v for k, v in record.items() if k != column}
        expansions = [(None, text)]
        if error is None and job.templates is not None:
            try:
                expansions = list(enumerate(_expand(text, job.templates, load, lm)))
            except BadInput as e:
                error = str(e)
        for k, idea in expansions:
            problem = error
            if problem is None:
                try:
                    idea = check_idea(idea).text
                except BadInput as e:
                    problem = str(e)
            place = {"line": line} if k is None else {"line": line, "expansion": k, "template": text}
            rows.append({**carried, **place, "idea": idea if problem is None else None,
                         **({"error": f"line {line}: {problem}"} if problem else {})})
    for director in lm:
        director.lm.close()  # the runner loads its own
    if not rows:
        raise BadInput(f"{job.source} holds no rows")
    return rows


def _expand(template: str, options: dict, load: Callable | None, loaded: list) -> list[str]:
    """The template's expansions; the director is loaded (once, into ``loaded``) only if a wildcard is missing."""
    from artdirector.templates import expand

    def lm():
        if not loaded:
            loaded.append(load())
        return loaded[0].lm

    return expand(template, lm=lm if load is not None else None, **options)


def _records(job: BatchJob) -> tuple[str, list]:
    """The input's rows (``readers.read_records``) and the ideas' column: ``job.column``, or ``prompt``
    (DiffusionDB's layout) for a table without an ``idea`` column. Read once."""
    from artdirector.readers import TABLES, read_records

    try:
        return job.column, list(read_records(job.source, job.column))
    except BadInput:
        if job.column != "idea" or Path(job.source).suffix.lower() not in TABLES:
            raise
        return "prompt", list(read_records(job.source, "prompt"))


def done_rows(job: BatchJob, rows: Sequence[dict]) -> dict[tuple[int, int], dict]:
    """Rows already directed, by ``key``: from OUT (same place, same idea) and from an interrupted run's journal."""
    done: dict[tuple[int, int], dict] = {}
    journal = journal_path(job.out)
    if journal.is_file():
        lines = journal.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0]) if lines else {}
        if head.get("fingerprint") != job.fingerprint():
            raise BadInput(f"{journal} is an interrupted run with other options: run with those, or delete it")
        for text in lines[1:]:
            try:
                for row in json.loads(text)["rows"]:
                    done[key(row)] = row
            except (ValueError, KeyError):  # the chunk being written when the run was killed
                continue
    sidecar = Path(str(job.out) + ".batch.json")
    if Path(job.out).is_file() and sidecar.is_file():
        if json.loads(sidecar.read_text())["fingerprint"] != job.fingerprint():
            raise BadInput(f"{job.out} was made with other options: give another OUT, or delete it")
        ideas = {key(r): r["idea"] for r in rows}
        for row in _read_out(job.out):
            if "line" in row and key(row) in ideas and row.get("idea") == ideas[key(row)]:
                done.setdefault(key(row), row)
    return done


def _read_out(path: str) -> Iterable[dict]:
    """The rows of an earlier OUT (tables only: plain text holds no line numbers, so it resumes by journal)."""
    from artdirector.readers import TABLES, read_records

    if Path(path).suffix.lower() not in TABLES:
        return []
    out = []
    for _, record, _text, _error in read_records(path, "idea"):
        record = dict(record)
        for name in ("parts", "notes", "candidates", "images", "scores"):  # JSON text in flat formats
            if isinstance(record.get(name), str):
                record[name] = json.loads(record[name]) if record[name] else None
        for name in ("line", "expansion"):
            if isinstance(record.get(name), str) and record[name]:
                record[name] = int(record[name])
        record = {k: (None if v == "" and k in ("error", "idea") else v) for k, v in record.items()}
        out.append(record)
    return out


def directed(row: dict, result: dict) -> dict:
    """The output row: the input's carried columns, then the direction."""
    out = {**row, "prompt": result["prompt"], "negative_prompt": result["negative_prompt"],
           "target": result["target"], "parts": result["parts"], "notes": result["notes"]}
    if "candidates" in result:
        out["candidates"] = [c["prompt"] for c in result["candidates"]]
    return out


def direct_chunk(director, rows: Sequence[dict], job: BatchJob) -> list[dict]:
    """One chunk: directed in one batched call; if that fails, idea by idea, so one bad idea is one error row.
    The LM forgets its cache first: a chunk's directions must not depend on the chunks before it."""
    director.lm.forget()
    try:
        results = director.direct_many([r["idea"] for r in rows], target=job.target, **job.options)
        return [directed(r, res.to_json()) for r, res in zip(rows, results)]
    except BadInput:
        out = []
        for r in rows:
            try:
                out.append(directed(r, director.direct_many([r["idea"]], target=job.target,
                                                            **job.options)[0].to_json()))
            except BadInput as e:
                out.append({**r, "error": f"line {r['line']}: {e}"})
        return out


def run_local(job: BatchJob, chunks: Sequence[list[dict]], load: Callable) -> Iterable[list[dict]]:
    """The chunks directed in this process, the director loaded once; each yielded as it is done."""
    director = load()
    try:
        for chunk in chunks:
            yield direct_chunk(director, chunk, job)
    finally:
        director.lm.close()  # before an image stage loads its pipeline


def run_batch(job: BatchJob, load: Callable, *, runner: Callable | None = None, render: Callable | None = None,
              progress: Callable | None = None) -> dict:
    """Run ``job``; ``runner(job, chunks, load)`` yields directed chunks (default ``run_local``; Ray's from
    ``batch.ray_runner.make_runner``), ``render(images, chunks)`` rendered ones when ``job.images`` is set
    (default ``batch.images.render_local``). Returns counts and seconds; writes OUT."""
    start = time.perf_counter()
    # 1. Read.
    rows = read_input(job, load)
    # 2. Resume.
    done = done_rows(job, rows)
    resumed = len(done)
    # 3. Plan what is left.
    todo = [r for r in rows if "error" not in r and key(r) not in done]
    chunks = [todo[k:k + job.chunk] for k in range(0, len(todo), job.chunk)]
    # 4. Direct, journalling each chunk as it comes back.
    journal = journal_path(job.out)
    if chunks:
        _journal(journal, job, (runner or run_local)(job, chunks, load), done, progress, 0, len(todo))
    # 4b. Render and score every directed row that has no image yet (its row in the journal replaced).
    unrendered = [done[key(r)] for r in rows if key(r) in done and not done[key(r)].get("error")
                  and not done[key(r)].get("image")] if job.images else []
    if unrendered:
        from artdirector.batch.images import render_local

        chunks = [unrendered[k:k + job.chunk] for k in range(0, len(unrendered), job.chunk)]
        _journal(journal, job, (render or render_local)(job.images, chunks), done, progress, 0, len(unrendered))
    # 5. Write OUT in input order; the journal's work is now in it.
    final = [done.get(key(r), r) for r in rows]
    write_rows(job.out, final)
    errors = sum(1 for r in final if r.get("error"))
    Path(str(job.out) + ".batch.json").write_text(json.dumps(
        {"fingerprint": job.fingerprint(), "source": job.source, "rows": len(final), "errors": errors}) + "\n")
    journal.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    return {"rows": len(final), "directed": len(todo), "resumed": resumed, "rendered": len(unrendered),
            "errors": errors, "out": job.out, "seconds": round(seconds, 3),
            "ideas_per_s": round(len(todo) / seconds, 3) if todo else None}


def _journal(journal: Path, job: BatchJob, finished_chunks: Iterable[list[dict]], done: dict, progress, before: int,
             total: int) -> None:
    """Append each finished chunk to the journal as it arrives (a kill loses only chunks in flight)."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    for finished in finished_chunks:  # the journal begins with the first chunk: a run refused at once leaves none
        if not journal.is_file():
            journal.write_text(json.dumps({"fingerprint": job.fingerprint(), "source": job.source}) + "\n")
        with open(journal, "a", encoding="utf-8") as f:
            f.write(json.dumps({"rows": finished}, ensure_ascii=False) + "\n")
            f.flush()
            for row in finished:
                done[key(row)] = row
            count += len(finished)
            if progress:
                progress(before + count, total)
