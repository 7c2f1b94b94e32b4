"""Saving what was generated so other tools can read how.

PNG files carry the generation parameters in a ``parameters`` text chunk in AUTOMATIC1111's layout, which
A1111, ComfyUI's loaders, Civitai and most image browsers parse::

    <prompt>
    Negative prompt: <negative prompt>
    Steps: 25, Sampler: <scheduler>, CFG scale: 7.0, Seed: 3, Size: 512x512, Model: <model>

Values that contain a comma or colon are quoted as A1111 does (JSON string quoting). A JSON sidecar beside
each file holds the same and everything else (scores, the direction, the safety verdict). Clips are written
as GIF (Pillow) and MP4 (diffusers' ``export_to_video`` through imageio-ffmpeg).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from artdirector.imaging.base import Sample

PARAMETERS_KEY = "parameters"
_NEGATIVE = "Negative prompt: "


def _quote(value) -> str:
    text = str(value)
    return json.dumps(text) if ("," in text or ":" in text or text.startswith('"')) else text


def a1111_parameters(sample: Sample, sampler: str = "") -> str:
    s = sample.settings
    image = sample.image
    fields = {"Steps": s.steps, "Sampler": sampler or None, "CFG scale": s.guidance, "Seed": sample.seed,
              "Size": f"{image.width}x{image.height}", "Model": sample.model}
    if sample.is_video:
        fields["Frames"] = len(sample.frames)
    loras = sample.extra.get("loras") or []
    hashes = [f"{lo['name']}: {lo['hash']}" for lo in loras if lo.get("hash")]
    if hashes:
        fields["Lora hashes"] = ", ".join(hashes)
    tail = ", ".join(f"{k}: {_quote(v)}" for k, v in fields.items() if v is not None)
    # A1111 keeps the LoRAs in the prompt as tags (what a user pastes back into A1111 reproduces the image)
    tags = "".join(f" <lora:{lo['name']}:{lo['weight']:g}>" for lo in loras if f"<lora:{lo['name']}:" not in
                   sample.prompt)
    lines = [sample.prompt + tags]
    if sample.negative_prompt:
        lines.append(_NEGATIVE + sample.negative_prompt)
    return "\n".join([*lines, tail])


_FIELD = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_a1111_parameters(text: str) -> dict:
    """The inverse of ``a1111_parameters``: ``{"prompt", "negative_prompt", <field>: value, ...}``."""
    *head, last = text.rstrip("\n").split("\n")
    if not _FIELD.match(last):  # no settings line: everything is prompt
        head, last = [*head, last], ""
    negative_at = next((i for i, line in enumerate(head) if line.startswith(_NEGATIVE)), len(head))
    out = {"prompt": "\n".join(head[:negative_at]),
           "negative_prompt": "\n".join(head[negative_at:])[len(_NEGATIVE):] if negative_at < len(head) else ""}
    for key, value in _FIELD.findall(last):
        out[key.strip()] = json.loads(value) if value.startswith('"') else value.strip()
    return out


def save_sample(sample: Sample, path: Path, sampler: str = "", sidecar: dict | None = None) -> dict:
    """Write the image as PNG (or the clip as GIF + MP4) with its parameters; returns the sidecar written."""
    from PIL.PngImagePlugin import PngInfo

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = a1111_parameters(sample, sampler)
    info = PngInfo()
    info.add_text(PARAMETERS_KEY, params)
    files = {}
    if sample.is_video:
        from diffusers.utils import export_to_gif

        gif = path.with_suffix(".gif")
        export_to_gif(sample.frames, str(gif), fps=sample.settings.fps)
        files["gif"] = str(gif)
        mp4 = path.with_suffix(".mp4")
        files["mp4"] = _export_mp4(sample, mp4)
        # The first frame as a PNG poster carries the parameters, which GIF and MP4 have no standard place for.
        poster = path.with_suffix(".png")
        sample.frames[0].save(poster, pnginfo=info)
        files["png"] = str(poster)
    else:
        png = path.with_suffix(".png")
        sample.image.save(png, pnginfo=info)
        files["png"] = str(png)
    record = {"prompt": sample.prompt, "negative_prompt": sample.negative_prompt, "seed": sample.seed,
              "model": sample.model, "settings": sample.settings.to_json(), "sampler": sampler,
              "nsfw": sample.nsfw, "files": files, "parameters": params, **sample.extra, **(sidecar or {})}
    path.with_suffix(".json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record


def _export_mp4(sample: Sample, path: Path) -> str | None:
    try:
        from diffusers.utils import export_to_video

        export_to_video(sample.frames, str(path), fps=sample.settings.fps)
        return str(path)
    except (ImportError, OSError, RuntimeError) as e:  # no ffmpeg: the GIF still stands
        sample.extra["mp4_error"] = f"MP4 not written ({e}); install imageio-ffmpeg"
        return None


def read_png_parameters(path: Path) -> dict:
    from PIL import Image

    with Image.open(path) as im:
        text = im.text.get(PARAMETERS_KEY)  # type: ignore[attr-defined]
    if text is None:
        raise ValueError(f"{path} has no '{PARAMETERS_KEY}' text chunk")
    return parse_a1111_parameters(text)
