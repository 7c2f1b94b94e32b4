"""PNG parameters in AUTOMATIC1111's layout, JSON sidecars, GIF/MP4 export."""

import json

from PIL import Image

from artdirector.imaging.base import GenerationSettings, Sample
from artdirector.imaging.metadata import parse_a1111_parameters, read_png_parameters, save_sample


def sample(frames=1, **kw):
    ims = [Image.new("RGB", (64, 48), (i * 40, 0, 0)) for i in range(frames)]
    base = dict(prompt="a lighthouse in a storm, oil painting, (dramatic:1.2)", negative_prompt="blurry, lowres",
                seed=42, frames=ims, settings=GenerationSettings(steps=20, guidance=6.5, frames=frames),
                model="my, model: v2")
    return Sample(**{**base, **kw})


def test_png_parameters_round_trip(tmp_path):
    record = save_sample(sample(), tmp_path / "a", sampler="EulerDiscreteScheduler", sidecar={"idea": "x"})
    params = read_png_parameters(tmp_path / "a.png")
    assert params["prompt"] == "a lighthouse in a storm, oil painting, (dramatic:1.2)"
    assert params["negative_prompt"] == "blurry, lowres"
    assert params["Steps"] == "20" and params["CFG scale"] == "6.5" and params["Seed"] == "42"
    assert params["Size"] == "64x48" and params["Sampler"] == "EulerDiscreteScheduler"
    assert params["Model"] == "my, model: v2"  # quoted on write, unquoted on read
    side = json.loads((tmp_path / "a.json").read_text())
    assert side == record and side["idea"] == "x" and side["seed"] == 42


def test_reads_what_automatic1111_writes():
    text = ("masterpiece, a castle at dusk\nNegative prompt: ugly, tiling\nSteps: 30, Sampler: DPM++ 2M Karras, "
            "CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
            'Lora hashes: "foo: 1a2b, bar: 3c4d", Version: v1.9.4')
    p = parse_a1111_parameters(text)
    assert p["prompt"] == "masterpiece, a castle at dusk" and p["negative_prompt"] == "ugly, tiling"
    assert p["Sampler"] == "DPM++ 2M Karras" and p["Seed"] == "1234" and p["Size"] == "512x768"
    assert p["Lora hashes"] == "foo: 1a2b, bar: 3c4d" and p["Version"] == "v1.9.4"


def test_prompt_without_settings_line():
    assert parse_a1111_parameters("just a prompt") == {"prompt": "just a prompt", "negative_prompt": ""}


def test_clip_is_written_as_gif_mp4_and_poster(tmp_path):
    record = save_sample(sample(frames=3), tmp_path / "clip")
    with Image.open(record["files"]["gif"]) as gif:
        assert gif.n_frames == 3
    assert (tmp_path / "clip.mp4").stat().st_size > 0
    assert read_png_parameters(tmp_path / "clip.png")["Frames"] == "3"
