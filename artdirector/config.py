"""Where artdirector keeps its files, and small shared settings.

The user directory holds converted model weights and derived tokenizer files. It is ``$ARTDIRECTOR_HOME``
when set (tests and CI point it at a scratch folder), else ``$XDG_CACHE_HOME/artdirector``, else
``~/.cache/artdirector``. Nothing here is global state: callers ask for the path when they need it.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "ARTDIRECTOR_HOME"


def user_dir() -> Path:
    if os.environ.get(ENV_HOME):
        base = Path(os.environ[ENV_HOME]).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "artdirector"
    base.mkdir(parents=True, exist_ok=True)
    return base
