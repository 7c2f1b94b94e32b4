"""Checkpoints of the hand-rolled training loops (the feedback critic and tuner's ``critique.feedback``, the
image LoRA's ``training.image_lora``; TRL's Trainer keeps its own for ``train sft``).

A checkpoint is ``out/checkpoint-N/`` holding the weights (written by the caller), ``optimizer.pt`` and, last,
``state.json``: a folder without it is a save a kill interrupted, never resumed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from artdirector.errors import CheckpointError

STATE = "state.json"


def newest(out: Path) -> Path | None:
    """The newest complete checkpoint in ``out``, or None."""
    done = [p for p in Path(out).glob("checkpoint-*") if (p / STATE).is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def save(point: Path, optimizer, state: dict) -> None:
    """The optimizer, then ``state.json`` (the weights are the caller's, written before)."""
    import torch

    point.mkdir(parents=True, exist_ok=True)
    torch.save(optimizer.state_dict(), point / "optimizer.pt")
    # Last, and atomically: a kill between creating the file and writing it left an empty state.json that
    # ``newest`` took for a complete checkpoint and resuming then refused as damaged.
    part = point / f"{STATE}.part"
    part.write_text(json.dumps(state))
    os.replace(part, point / STATE)


def restore(point: Path, optimizer, weights: Callable[[Path], None] | None = None) -> dict:
    """Load ``point``'s optimizer (and, with ``weights``, the caller's weights) and return its state; any failure
    to read it is a ``CheckpointError``."""
    import torch

    try:
        state = json.loads((point / STATE).read_text())
        if weights is not None:
            weights(point)
        optimizer.load_state_dict(torch.load(point / "optimizer.pt", weights_only=True))
    except Exception as e:  # noqa: BLE001 - any failure to read means it cannot be resumed
        raise CheckpointError(f"checkpoint {point} is damaged ({type(e).__name__}: {e})") from e
    return state
