"""Serve a PEFT LoRA adapter on the llama.cpp fast path: write it as a llama.cpp LoRA GGUF.

llama.cpp applies LoRA adapters at run time (``llama_adapter_lora_init``) from a GGUF holding, for every
adapted weight, ``<gguf weight name>.lora_a`` and ``.lora_b`` plus the metadata ``general.type = adapter``,
``adapter.type = lora`` and ``adapter.lora.alpha`` (the scale is alpha / rank, as in PEFT). Its own converter
(``convert_lora_to_gguf.py``) lives in the llama.cpp source tree, which the llama-cpp-python wheel does not
install, so this module writes the file with the ``gguf`` library. Two details follow llama.cpp's
``convert_hf_to_gguf.py`` for Llama-architecture models:

- weight names map from transformers' (``model.layers.N.self_attn.q_proj``) to GGUF's (``blk.N.attn_q``);
- the query and key projections are stored with their rows permuted (llama.cpp's rotary embedding pairs
  adjacent dimensions, transformers' pairs the two halves of a head), so ``lora_b`` of ``q_proj``/``k_proj``
  gets the same row permutation. ``tests/test_lm_export.py`` checks llama.cpp's output against PEFT's.

The conversion is cached, keyed by the adapter's content hash (``adapter_gguf``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from artdirector.config import assets_dir, user_dir

_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r".*layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.weight$")


def _rope_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder the output rows of a query/key projection from transformers' layout to llama.cpp's."""
    return (rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def lora_to_gguf(adapter_dir: str | Path, out: str | Path, *, n_head: int, n_head_kv: int,
                 architecture: str = "llama") -> Path:
    """Write the PEFT adapter in ``adapter_dir`` as a llama.cpp LoRA GGUF at ``out``."""
    import gguf
    from safetensors.numpy import load_file

    adapter_dir, out = Path(adapter_dir), Path(out)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("use_dora") or config.get("use_rslora"):
        raise ValueError("DoRA and rsLoRA adapters have no llama.cpp form; use the transformers backend")
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"{key}: only LoRA on attention and MLP projections converts to llama.cpp")
        layer, module, which = match.groups()
        pairs.setdefault((int(layer), module), {})[which] = value.astype(np.float32)
    writer = gguf.GGUFWriter(str(out) + ".tmp", architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config["lora_alpha"]))
    for (layer, module), ab in sorted(pairs.items()):
        a, b = ab["A"], ab["B"]  # (rank, in), (out, rank): llama.cpp wants exactly these, as GGUF reverses dims
        if module == "self_attn.q_proj":
            b = _rope_permute(b, n_head)
        elif module == "self_attn.k_proj":
            b = _rope_permute(b, n_head_kv)
        name = f"blk.{layer}.{_NAMES[module]}.weight"
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    Path(str(out) + ".tmp").replace(out)
    return out


def adapter_gguf(adapter_dir: str | Path, *, n_head: int, n_head_kv: int) -> Path:
    """The llama.cpp form of ``adapter_dir``, converted once: a shipped adapter's with the installation's
    assets, any other in the user directory."""
    from importlib import resources

    adapter_dir = Path(adapter_dir)
    digest = hashlib.sha256((adapter_dir / "adapter_model.safetensors").read_bytes()
                            + (adapter_dir / "adapter_config.json").read_bytes()).hexdigest()[:16]
    shipped = adapter_dir.resolve().is_relative_to(Path(str(resources.files("artdirector.data"))).resolve())
    out = (assets_dir() if shipped else user_dir()) / "adapters" / f"{adapter_dir.name}-{digest}.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        lora_to_gguf(adapter_dir, out, n_head=n_head, n_head_kv=n_head_kv)
    return out
