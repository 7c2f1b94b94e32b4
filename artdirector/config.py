"""Where artdirector keeps its files.

Two places, because they have different owners:

- the **user directory** holds what the user makes: their prompt collections, their adapters' llama.cpp
  forms. It is ``$ARTDIRECTOR_HOME`` when set (tests point it at a scratch folder per session), else
  ``$XDG_CACHE_HOME/artdirector``, else ``~/.cache/artdirector``;
- the **assets directory** holds files derived once from what the installed package ships (the embedded
  model converted for PyTorch, the shipped adapter in llama.cpp form, the built-in library's index), written
  by ``artdirector models prepare`` at install time. It is ``$ARTDIRECTOR_ASSETS`` when set, else
  ``<environment>/share/artdirector`` when that is writable (a virtual environment: the assets live and go
  with it), else ``assets`` in the user directory.

Nothing here is global state: callers ask for the path when they need it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_HOME = "ARTDIRECTOR_HOME"
ENV_ASSETS = "ARTDIRECTOR_ASSETS"


def user_dir() -> Path:
    if os.environ.get(ENV_HOME):
        base = Path(os.environ[ENV_HOME]).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "artdirector"
    base.mkdir(parents=True, exist_ok=True)
    return base


def assets_dir() -> Path:
    if os.environ.get(ENV_ASSETS):
        base = Path(os.environ[ENV_ASSETS]).expanduser()
    else:
        base = Path(sys.prefix) / "share" / "artdirector"
        if not base.is_dir():
            try:
                base.mkdir(parents=True, exist_ok=True)
            except OSError:  # a system-wide Python: keep the derived files per user instead
                return user_dir() / "assets"
        if not os.access(base, os.W_OK):
            return user_dir() / "assets"
    base.mkdir(parents=True, exist_ok=True)
    return base


def default_of(settings_class, name: str):
    """The declared default of one field of a settings dataclass (the CLI shows and uses these, so each
    default is declared once, on the dataclass)."""
    from dataclasses import MISSING, fields

    f = next(f for f in fields(settings_class) if f.name == name)
    return f.default_factory() if f.default is MISSING else f.default
