"""Device and dtype choice, and releasing memory between stages.

CUDA, then Apple's MPS, then the CPU. Half precision where the accelerator runs it well: float16 for the
UNet-based Stable Diffusion family (the precision their community checkpoints ship in), bfloat16 for the
transformer-based FLUX and SD3 (whose activations overflow float16), float32 on the CPU (half-precision
convolutions are slow or missing there).
"""

from __future__ import annotations

import gc

DTYPES = ("float32", "float16", "bfloat16")


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            from artdirector.errors import BadInput

            raise BadInput(f"device {requested!r}: no CUDA device is visible here (use cpu)")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, pipeline_class: str = "", requested: str | None = None):
    import torch

    if requested:
        if requested not in DTYPES:
            from artdirector.errors import BadInput

            raise BadInput(f"unknown dtype {requested!r}; valid: {', '.join(DTYPES)}")
        return getattr(torch, requested)
    if device == "cpu":
        return torch.float32
    if any(name in pipeline_class for name in ("Flux", "StableDiffusion3", "Sana", "Wan")):
        return torch.bfloat16
    return torch.float16


def free_memory() -> None:
    """Return freed tensors' memory to the device, so the next stage's model fits."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if getattr(torch, "mps", None) and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        torch.mps.empty_cache()
