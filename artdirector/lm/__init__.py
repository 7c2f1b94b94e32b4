"""Language-model backends. ``BACKENDS`` is the registry the CLI's ``--backend`` choices come from: a new
backend is one module with a ``LanguageModel`` subclass and a ``from_embedded(adapter=, progress=)``
factory, plus one line here."""

from __future__ import annotations

import importlib
from pathlib import Path

BACKENDS = {
    "llamacpp": "artdirector.lm.llamacpp_backend:LlamaCppLM",  # the fast CPU path (default)
    "transformers": "artdirector.lm.transformers_backend:TransformersLM",  # PyTorch, the training reference
}


def backend_class(name: str):
    from artdirector.errors import BadInput

    if name not in BACKENDS:
        raise BadInput(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def load_embedded(backend: str, *, adapter: str | Path | None = None, progress=None):
    """The embedded model on ``backend``, with a PEFT ``adapter`` folder applied (its name joins the model's)."""
    lm = backend_class(backend).from_embedded(adapter=adapter, progress=progress)
    if adapter is not None:
        lm.name = f"{lm.name}+{Path(adapter).name}"
    return lm
