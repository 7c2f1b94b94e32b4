"""Language-model backends. ``BACKENDS`` is the registry the CLI's ``--backend`` choices come from: a new
backend is one module with a ``LanguageModel`` subclass and a ``from_embedded(adapter=, progress=)``
factory (or, for a model behind a server, ``from_url(base_url, model, api_key_env=)``, listed in
``SERVED``), plus one line here."""

from __future__ import annotations

import importlib
from pathlib import Path

BACKENDS = {
    "llamacpp": "artdirector.lm.llamacpp_backend:LlamaCppLM",  # the fast CPU path (default)
    "transformers": "artdirector.lm.transformers_backend:TransformersLM",  # PyTorch, the training reference
    "openai": "artdirector.lm.openai_backend:OpenAILM",  # any OpenAI-compatible server (llama.cpp, vLLM, Ollama)
}
SERVED = ("openai",)  # backends whose weights live behind a server: no embedded model, no adapter


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


def load_backend(backend: str, *, adapter: str | Path | None = None, progress=None, server: dict | None = None):
    """The LM of ``backend``: the embedded model (with ``adapter``), or for a served backend the model that
    ``server`` names (``base_url``, ``model``, optional ``api_key_env``)."""
    from artdirector.errors import BadInput

    if backend not in SERVED:
        return load_embedded(backend, adapter=adapter, progress=progress)
    if adapter is not None:
        raise BadInput(f"an adapter is applied to the embedded model; the {backend} backend serves its own weights "
                       "(use adapter none)")
    server = server or {}
    return backend_class(backend).from_url(server.get("base_url"), server.get("model"),
                                           api_key_env=server.get("api_key_env"))
