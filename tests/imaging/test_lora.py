"""Image-model LoRAs: built in code for the tiny pipeline and saved as files in both layouts diffusers reads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from artdirector.errors import BadInput, ImageModelError
from artdirector.imaging.base import GenerationSettings
from artdirector.imaging.lora import parse_lora, split_tags, trigger_words
from artdirector.imaging.metadata import read_png_parameters
from artdirector.imaging.testing import save_tiny_lora

SETTINGS = GenerationSettings(steps=2)


@pytest.fixture(scope="module")
def loras(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("loras")
    return {"a": save_tiny_lora(root / "a.safetensors", tiny.sd, seed=1),
            "a_kohya": save_tiny_lora(root / "a_kohya.safetensors", tiny.sd, seed=1, layout="kohya",
                                      metadata={"modelspec.trigger_phrase": "pxl style"}),
            "b": save_tiny_lora(root / "b.safetensors", tiny.sd, seed=2),
            "wide": save_tiny_lora(root / "wide.safetensors", tiny.sd, seed=2, widen=True)}


def _image(tiny, *specs):
    from artdirector.imaging.diffusers_backend import DiffusersGenerator

    generator = DiffusersGenerator.from_pretrained(tiny.sd, loras=[parse_lora(s) for s in specs])
    sample = generator.generate(["a red fox in snow"], [3], SETTINGS)[0]
    return np.asarray(sample.image, dtype=float), sample


@pytest.mark.slow
def test_a_lora_changes_the_image_weight_zero_does_not_and_two_mix(tiny, loras):
    base, _ = _image(tiny)
    with_a, sample = _image(tiny, f"{loras['a']}=1")
    assert np.abs(with_a - base).max() > 20  # the same seed, another picture
    assert np.array_equal(_image(tiny, f"{loras['a']}=0")[0], base)
    assert np.array_equal(_image(tiny, str(loras["a_kohya"]))[0], with_a)  # kohya's layout, the same weights
    half, _ = _image(tiny, f"{loras['a']}=0.5", f"{loras['a_kohya']}=0.5")  # the same LoRA twice at 0.5 each
    assert np.abs(half - with_a).max() <= 2  # is that LoRA at 1 (up to rounding)
    mixed, _ = _image(tiny, f"{loras['a']}=0.5", f"{loras['b']}=0.5")
    assert np.abs(mixed - with_a).max() > 20 and np.abs(mixed - base).max() > 20
    assert sample.extra["loras"][0]["name"] == "a" and len(sample.extra["loras"][0]["hash"]) == 10


def test_bad_loras_are_refused_in_one_line(tiny, loras, tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(BadInput, match="is not a safetensors file"):
        parse_lora(str(tmp_path / "junk.safetensors"))
    with pytest.raises(BadInput, match="no LoRA file"):
        parse_lora(str(tmp_path / "missing.safetensors") + "=0.7")
    with pytest.raises(BadInput, match="is not a number"):
        parse_lora(f"{loras['a']}=strong")
    with pytest.raises(BadInput, match="outside"):
        parse_lora(f"{loras['a']}=9")
    from artdirector.imaging.diffusers_backend import DiffusersGenerator

    with pytest.raises(ImageModelError, match=r"does not fit StableDiffusionPipeline .*size mismatch") as e:
        DiffusersGenerator.from_pretrained(tiny.sd, loras=[parse_lora(str(loras["wide"]))])
    assert "\n" not in str(e.value)


def test_prompt_tags_name_loras_in_the_folder_and_trigger_words_come_from_the_author(loras, tmp_path):
    folder = loras["a"].parent
    text, found = split_tags("a red fox <lora:a:0.7> in snow <lora:a_kohya>", folder)
    assert text == "a red fox in snow" and [(lo.name, lo.weight) for lo in found] == [("a", 0.7), ("a_kohya", 1.0)]
    with pytest.raises(BadInput, match="<lora:nothing> names no LoRA"):
        split_tags("a fox <lora:nothing:1>", folder)
    served, named = split_tags("a fox <lora:pixelart:0.8>", local=False)  # an A1111 server looks it up itself
    assert served == "a fox" and named[0].path is None and named[0].tag == "<lora:pixelart:0.8>"
    assert trigger_words(found[1]) == ["pxl style"] and trigger_words(found[0]) == []
    (folder / "a.json").write_text(json.dumps({"trigger_words": ["ink wash", "sumi-e"]}))
    try:
        assert trigger_words(found[0]) == ["ink wash", "sumi-e"]  # the user's sidecar
    finally:
        (folder / "a.json").unlink()


@pytest.mark.slow
def test_generate_with_a_lora_records_it_and_writes_its_trigger_words_first(tiny, loras, tmp_path):
    """The Done-when command: the LoRA in the JSON report, in the sidecar and in the PNG parameters as A1111
    writes them; its trigger words are a required phrase of the direction, right after the idea."""
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "generate", "a red fox in snow", "--image-model",
                        tiny.sd, "--lora", f"{loras['a_kohya']}=0.7", "--steps", "2", "--width", "64", "--height",
                        "64", "--out", str(out), "--json"], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    image = report["images"][0]
    assert image["prompt"].startswith("a red fox in snow, pxl style, ")
    params = read_png_parameters(Path(image["path"]))
    assert params["prompt"] == image["prompt"] + " <lora:a_kohya:0.7>"
    assert params["Lora hashes"].startswith("a_kohya: ") and len(params["Lora hashes"]) == len("a_kohya: ") + 10
    sidecar = json.loads(Path(image["path"]).with_suffix(".json").read_text())
    assert sidecar["loras"][0] == {**sidecar["loras"][0], "name": "a_kohya", "weight": 0.7}
    assert "LoRA trigger words (required, placed first): pxl style" in r.stderr
    bad = subprocess.run([sys.executable, "-m", "artdirector.cli", "generate", "a red fox", "--image-model", tiny.sd,
                          "--lora", str(loras["wide"]), "--steps", "2", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert bad.returncode == 2 and "does not fit" in bad.stderr and not (tmp_path / "bad").exists()
