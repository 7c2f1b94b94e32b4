"""Reading prompts and ideas from files: one reader for every command that takes a file.

By extension: ``.parquet``, ``.jsonl``, ``.tsv`` and ``.csv`` hold a ``prompt`` column (DiffusionDB's layout;
another column can be named); anything else is plain text, one value per line. A ``.gz`` file is read as the
file it compresses (``prompts.tsv.gz`` as a TSV). Rows come as
``(line, text, error)``: a row that cannot be read (not UTF-8, not a JSON object, no text in the column) has
an error (without the line number) and no text, so the caller can report it by line and go on with the
rest. A file without the column is refused as a whole.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from artdirector.errors import BadInput

TABLES = (".parquet", ".jsonl", ".tsv", ".csv")


def _utf8(raw: bytes) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return None, f"not valid UTF-8 (byte {e.start})"


def read_rows(path: str | Path, column: str = "prompt") -> Iterator[tuple[int, str | None, str | None]]:
    for line, _record, text, error in read_records(path, column):
        yield line, text, error


def read_records(path: str | Path, column: str = "prompt") -> Iterator[tuple[int, dict, str | None, str | None]]:
    """As ``read_rows``, with each row's whole record (every column; ``{}`` for plain text) for callers that
    carry the other columns through (``artdirector batch``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    compressed = suffix == ".gz"
    if compressed:
        suffix = Path(path.stem).suffix.lower()
        if suffix == ".parquet":
            raise BadInput(f"{path}: Parquet compresses itself; give the .parquet file, not a gzip of it")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if column not in table.column_names:
            raise BadInput(f"{path} has no '{column}' column (columns: {', '.join(table.column_names)})")
        for i, record in enumerate(table.to_pylist(), 1):
            value = record[column]
            yield (i, record, value, None) if isinstance(value, str) else (i, record, None, "not text")
        return
    raw = path.read_bytes()
    if compressed:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise BadInput(f"{path} is not a readable gzip file ({e})") from None
    if suffix not in TABLES:
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for i, line in enumerate(lines, 1):
            text, error = _utf8(line.rstrip(b"\r"))
            yield i, {}, text, error
        return
    text = raw.decode("utf-8", errors="surrogateescape")
    if suffix == ".jsonl":
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                value = record.get(column)
            except (json.JSONDecodeError, AttributeError):
                yield i, {}, None, "not a JSON object"
                continue
            yield (i, record, value, None) if isinstance(value, str) else (i, record, None, f"no '{column}' text")
        return
    # Python's default 128 KiB field limit would stop the whole file at one huge cell; the caller judges lengths.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise BadInput(f"{path} has no '{column}' column (columns: {', '.join(reader.fieldnames or [])})")
    for row in reader:
        value = row.get(column)
        yield reader.line_num, row, value, None if value is not None else "missing field"


def read_texts(path: str | Path, column: str = "prompt") -> list[str]:
    """Every readable value of ``column``, unreadable rows skipped (for evaluation sets, which are clean)."""
    return [text for _, text, error in read_rows(path, column) if error is None]
