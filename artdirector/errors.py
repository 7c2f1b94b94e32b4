"""Every error a user can act on, in one place, with the exit code the CLI gives it.

Library code raises these with messages that say what is wrong and how to fix it in Python terms (no CLI
flag names); the CLI maps each class to its exit code and prints the message on one line.

- ``BadInput`` (exit 2): a value the caller can fix — an empty idea, a negative seed, an unknown target.
- ``Unsupported`` (exit 2): a request the chosen model or backend cannot serve (a grammar on a backend that
  exposes no token table), refused before any work is done.
- ``ModelNotFound``, ``LibraryError`` (exit 1): something on disk to repair; the message says how.
- ``ImageModelError``, ``ScorerError`` (exit 2): a model the caller named that cannot be used.
"""

from __future__ import annotations


class BadInput(ValueError):
    """Input the user can fix."""


class Unsupported(BadInput):
    """The request needs a capability the model or backend does not declare."""


class GrammarError(BadInput):
    """A grammar that does not compile, or admits no answer."""


class CheckpointError(BadInput):
    """A training checkpoint to resume from is damaged."""


class ModelNotFound(RuntimeError):
    """A model the user asked for (or the embedded default) is not where it should be."""


class LibraryError(RuntimeError):
    """The library on disk is missing or damaged; the message says how to rebuild it."""


class ImageModelError(RuntimeError):
    """An image model that cannot be loaded or used; the message says how to supply a working one."""


class ScorerError(RuntimeError):
    """A scorer that cannot be loaded; the message says how to supply its weights."""


#: What the CLI exits with for each error class (the first matching class wins).
EXIT_CODES = ((BadInput, 2), (ImageModelError, 2), (ScorerError, 2), (ModelNotFound, 1), (LibraryError, 1))


def check_seed(seed: int) -> int:
    """Seeds are non-negative integers (NumPy's generators refuse negative ones)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadInput(f"seed must be a non-negative integer (got {seed!r})")
    return seed
