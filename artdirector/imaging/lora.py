"""Image-model LoRAs: which ones, how strong, checked before any image is made, and their trigger words.

A LoRA is named ``PATH[=WEIGHT]`` (``--lora``; a ``.safetensors`` file in the diffusers or kohya layout — both
are what diffusers' ``load_lora_weights`` reads — or a folder holding ``pytorch_lora_weights.safetensors``, as
``train image-lora`` and diffusers' training scripts write), or by AUTOMATIC1111's prompt tag
``<lora:NAME:WEIGHT>``, NAME found in the LoRA folder (``--lora-dir``; default ``loras`` in the user
directory). Local pipelines apply them with diffusers' adapter API (``load_lora_weights`` with an adapter name
each, then ``set_adapters`` with the weights); an A1111 server gets the tags in the prompt and applies them
itself. PNG parameters list them as A1111 does (the tags in the prompt, ``Lora hashes`` with AutoV2 hashes:
the first 10 hex digits of the file's SHA-256).

Trigger words, the phrases a LoRA was trained to answer to, come from what its author wrote: a sidecar
``<file>.json`` with ``trigger_words`` (or Civitai's ``<file>.civitai.info`` with ``trainedWords``), else the
safetensors metadata's ``modelspec.trigger_phrase`` or ``ss_trigger_words``. None is guessed: kohya's tag
frequencies describe the training captions, not what to type.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from artdirector.errors import BadInput

WEIGHTS_NAME = "pytorch_lora_weights.safetensors"
TAG = re.compile(r"<lora:([^:>]+)(?::([-+]?\d*\.?\d+))?>", re.IGNORECASE)
MAX_WEIGHT = 4.0  # beyond this a LoRA only burns the image: a typo, not a choice


@dataclass(frozen=True)
class Lora:
    path: Path | None  # the .safetensors file; None for a LoRA an A1111 server holds (named, not read here)
    weight: float = 1.0
    name: str = ""  # the adapter name: the file's stem (a folder's name for a folder), or the server's name

    @property
    def tag(self) -> str:
        return f"<lora:{self.name}:{self.weight:g}>"

    def hash(self) -> str | None:
        """A1111's AutoV2 hash: the first 10 hex digits of the file's SHA-256 (None on a server)."""
        if self.path is None:
            return None
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()[:10]

    def to_json(self) -> dict:
        return {"name": self.name, "weight": self.weight, "path": str(self.path) if self.path else None,
                "hash": self.hash()}


def lora_folder(folder: str | Path | None = None) -> Path:
    from artdirector.config import user_dir

    return Path(folder) if folder else user_dir() / "loras"


def _weight(text: str | None, what: str) -> float:
    if text is None or text == "":
        return 1.0
    try:
        weight = float(text)
    except ValueError:
        raise BadInput(f"{what}: the weight {text!r} is not a number") from None
    if not -MAX_WEIGHT <= weight <= MAX_WEIGHT:
        raise BadInput(f"{what}: weight {weight:g} is outside [-{MAX_WEIGHT:g}, {MAX_WEIGHT:g}]")
    return weight


def resolve(path: str | Path, weight: float, what: str) -> Lora:
    """The LoRA file at ``path`` (a folder: its ``pytorch_lora_weights.safetensors``), checked readable."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / WEIGHTS_NAME
    if not path.is_file():
        raise BadInput(f"{what}: no LoRA file {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
    except Exception as e:  # safetensors raises its own error types for a damaged or foreign file
        raise BadInput(f"{what}: {path} is not a safetensors file ({type(e).__name__})") from None
    if not any("lora" in k for k in keys):
        raise BadInput(f"{what}: {path} holds no LoRA weights (no lora_* tensors)")
    name = path.parent.name if path.name == WEIGHTS_NAME else path.stem
    return Lora(path, weight, re.sub(r"[^\w-]", "_", name))


def parse_lora(spec: str, *, local: bool = True) -> Lora:
    """``PATH[=WEIGHT]`` (``--lora``); for an A1111 server (``local=False``) ``NAME[=WEIGHT]``, a LoRA in the
    server's own folder."""
    path, _, weight = spec.rpartition("=") if "=" in spec else (spec, "", "")
    weight = _weight(weight, f"--lora {spec}")
    if not local:
        return Lora(None, weight, Path(path).stem or path)
    return resolve(path, weight, f"--lora {spec}")


def split_tags(text: str, folder: str | Path | None = None, *, local: bool = True) -> tuple[str, list[Lora]]:
    """``text`` without its ``<lora:NAME:WEIGHT>`` tags, and the LoRAs they name (NAME in ``folder``:
    ``NAME.safetensors`` or a folder ``NAME``; for a server, NAME as the server knows it)."""
    found = []
    for name, weight in TAG.findall(text):
        if not local:
            found.append(Lora(None, _weight(weight, f"<lora:{name}>"), name))
            continue
        root = lora_folder(folder)
        candidates = [root / f"{name}.safetensors", root / name]
        path = next((c for c in candidates if c.exists()), None)
        if path is None:
            raise BadInput(f"<lora:{name}> names no LoRA in {root} (put {name}.safetensors there, or give --lora-dir)")
        found.append(resolve(path, _weight(weight, f"<lora:{name}>"), f"<lora:{name}>"))
    return " ".join(TAG.sub(" ", text).split()), found


def combine(given: Sequence[Lora], tagged: Sequence[Lora]) -> list[Lora]:
    """Both lists, a LoRA named twice refused (which weight was meant cannot be guessed)."""
    out = [*given, *tagged]
    names = [lo.name for lo in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInput(f"the LoRA {twice[0]} is given twice (--lora and a <lora:...> tag, or two tags): keep one")
    return out


def trigger_words(lora: Lora) -> list[str]:
    """What the LoRA's author says to type: a sidecar the user wrote, else the file's metadata."""
    if lora.path is None:
        return []
    for sidecar, key in ((lora.path.with_suffix(".json"), "trigger_words"),
                         (lora.path.with_suffix(".civitai.info"), "trainedWords")):
        if sidecar.is_file():
            try:
                words = json.loads(sidecar.read_text(encoding="utf-8")).get(key) or []
            except (ValueError, AttributeError):
                raise BadInput(f"{sidecar}: not a JSON object with '{key}'") from None
            return _phrases(words)
    from safetensors import safe_open

    with safe_open(str(lora.path), framework="pt") as f:
        meta = f.metadata() or {}
    for key in ("modelspec.trigger_phrase", "ss_trigger_words"):
        if meta.get(key):
            return _phrases(meta[key])
    return []


def _phrases(value) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return list(dict.fromkeys(" ".join(str(i).split()) for i in items if str(i).strip()))


def apply(pipe, loras: Sequence[Lora]) -> None:
    """Load each LoRA into ``pipe`` under its name and set the weights; a LoRA that does not fit this
    pipeline (another base family, a damaged file) is refused in one line before any image is made."""
    from artdirector.errors import ImageModelError

    if not loras:
        return
    if not hasattr(pipe, "load_lora_weights"):
        raise ImageModelError(f"{type(pipe).__name__} takes no LoRA weights in this diffusers")
    for lora in loras:
        try:
            pipe.load_lora_weights(str(lora.path), adapter_name=lora.name)
        except Exception as e:  # diffusers/PEFT raise ValueError, RuntimeError (shape mismatch), KeyError...
            lines = [x.strip() for x in str(e).splitlines() if x.strip()] or [type(e).__name__]
            first = next((x for x in lines if "mismatch" in x), lines[0])[:240]  # the line that says why
            raise ImageModelError(f"the LoRA {lora.path} does not fit {type(pipe).__name__} (made for another "
                                  f"base model?): {first}") from None
    pipe.set_adapters([lo.name for lo in loras], adapter_weights=[lo.weight for lo in loras])
