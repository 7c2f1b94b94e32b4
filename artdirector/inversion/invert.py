"""``artdirector invert``: images (files or a folder) → prompts, one model resident at a time.

Stages: 1. read and check every image (an unreadable, truncated or oversized file is reported on its own line
and the others still run); 2. caption them all with the captioner, then release it; 3. with a tuner, let the
tuned LM write each prompt, then release it; 4. load CLIP and interrogate (``inversion.interrogate``); each
result says how long its image took.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from artdirector.errors import BadInput

MAX_PIXELS = 36_000_000  # about 6000 x 6000: more is a mistake or a decompression bomb, not a render
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def image_files(paths: Sequence[str], folder: str | None = None) -> list[Path]:
    """The images named, then every image file in ``folder`` (sorted)."""
    files = [Path(p) for p in paths]
    if folder is not None:
        root = Path(folder)
        if not root.is_dir():
            raise BadInput(f"no such folder {folder}")
        found = sorted(p for p in root.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        if not found:
            raise BadInput(f"no images ({', '.join(SUFFIXES)}) in {folder}")
        files += found
    if not files:
        raise BadInput("no image given: artdirector invert photo.png --clip MODEL (or --folder DIR)")
    return files


def open_image(path: Path):
    """The image, fully decoded, as RGB; a one-line ``BadInput`` for anything else."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    try:
        with Image.open(path) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise BadInput(f"{path}: {probe.width}x{probe.height} is over the {MAX_PIXELS // 1_000_000}-megapixel "
                               "limit; downscale it first")
            image = probe.convert("RGB")  # decodes every byte: a truncated file fails here
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise BadInput(f"{path}: not an image PIL can read") from None
    except OSError as e:
        raise BadInput(f"{path}: a damaged image ({e})") from None
    return image


def read_images(paths: Sequence[Path]) -> tuple[dict[int, object], dict[int, str]]:
    """Each readable image by its position in ``paths``, and each unreadable one's one-line reason."""
    images, errors = {}, {}
    for k, path in enumerate(paths):
        try:
            images[k] = open_image(Path(path))
        except BadInput as e:
            errors[k] = str(e)
    return images, errors


def captions_of(images: Sequence, captioner: str | None, *, device: str | None = None) -> list[str] | None:
    """The captioner's caption of each image (it is released after), or None without one."""
    if not captioner:
        return None
    from artdirector.inversion.captioner import load_captioner

    model = load_captioner(captioner, device=device)
    captions = model(list(images))
    model.close()
    return captions


def tuned_prompts(images: Sequence, tuner: str | None) -> list[str] | None:
    """The prompt the visual prompt tuner's LM writes for each image (released after), or None without one."""
    if not tuner:
        return None
    from artdirector.inversion.tuner import Tuner

    tuned = Tuner.from_folder(tuner)
    written = tuned(list(images))
    tuned.close()
    return written


def invert(paths: Sequence[Path], *, clip: str, captioner: str | None = None, mode: str = "fast", top: int = 6,
           target: str = "sd15", device: str | None = None, tuner: str | None = None) -> list[dict]:
    """One result per path, in order: the interrogation, or ``{"image", "error"}``."""
    from artdirector.inversion import MODES
    from artdirector.inversion.captioner import check_captioner
    from artdirector.inversion.interrogate import interrogate
    from artdirector.render import get_target
    from artdirector.scoring.base import ClipEncoder, check_model_ref

    if mode not in MODES:
        raise BadInput(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    get_target(target)
    check_model_ref("clip", clip)
    if captioner:
        check_captioner(captioner)
    # 1. Read every image; the bad ones are reported, the others go on.
    results: list[dict] = [{"image": str(p)} for p in paths]
    start = time.perf_counter()
    images, errors = read_images(paths)
    for k, error in errors.items():
        results[k]["error"] = error
    good = sorted(images)
    if not good:
        return results
    # 2. Caption them all, then release the captioner; 3. with a tuner, the tuned LM writes each prompt.
    captions = captions_of([images[k] for k in good], captioner, device=device)
    written = tuned_prompts([images[k] for k in good], tuner)
    # 4. Rank the vocabularies with CLIP (or render what the tuner wrote), and measure each prompt against its image.
    encoder = ClipEncoder.from_pretrained(clip, device=device, scorer="clip")
    found = interrogate([images[k] for k in good], encoder, captions=captions, mode=mode, top=top, target=target,
                        written=written)
    encoder.close()
    each = (time.perf_counter() - start) / len(good)
    for k, result in zip(good, found):
        results[k].update(result, seconds=round(each, 4))
    return results
