"""Writing a batch's rows: one writer per output format, chosen by the file's extension as ``readers`` reads.

JSON Lines keeps nested values (``parts``, ``notes``) as they are; CSV, TSV and Parquet are flat, so a nested
value is written as its JSON text (and read back by ``json.loads``); plain text holds one prompt per line, an
empty line for a row that failed, so line k of the output is row k of the input.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

from artdirector.readers import TABLES


def _flat(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value,
                                                                                             ensure_ascii=False)


def write_rows(path: str | Path, rows: Sequence[dict]) -> None:
    """``rows`` to ``path`` in its format, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".writing")
    suffix = path.suffix.lower()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{c: _flat(row.get(c)) for c in columns} for row in rows])
        pq.write_table(table, partial)
    elif suffix == ".jsonl":
        with open(partial, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif suffix in TABLES:
        with open(partial, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, columns, delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows({c: _flat(row.get(c)) for c in columns} for row in rows)
    else:
        with open(partial, "w", encoding="utf-8") as f:
            f.writelines((row.get("prompt") or "").replace("\n", " ") + "\n" for row in rows)
    os.replace(partial, path)
