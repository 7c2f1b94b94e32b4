"""What every benchmark does last: print its JSON figures and save them (the folder made if need be)."""

from __future__ import annotations

import json
from pathlib import Path


def publish(report: dict, out: str | Path, *, indent: int = 2) -> None:
    text = json.dumps(report, indent=indent)
    print(text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text + "\n")
