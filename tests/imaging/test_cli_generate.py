"""``artdirector generate`` as a real subprocess: the real director, tiny image and CLIP models on disk."""

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from artdirector.imaging.metadata import read_png_parameters


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "artdirector.cli", "generate", *args], capture_output=True,
                          text=True, timeout=timeout, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})


def test_generate_scores_and_names_the_best(tiny, tmp_path):
    out = tmp_path / "run"
    r = run("a red fox in snow", "--image-model", tiny.sd, "--n", "2", "--steps", "2", "--width", "64", "--height",
            "64", "--score", f"clip={tiny.clip}", "--score", f"aesthetic={tiny.clip}", "--side-by-side", "--out",
            str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["target"] == "sd15" and report["rank_by"] == "clip"
    directed = [im for im in report["images"] if im["source"] == "directed"]
    assert len(directed) == 2 and len(report["images"]) == 3
    assert report["best"] == max(directed, key=lambda im: im["scores"]["clip"])
    for im in report["images"]:
        assert Image.open(im["path"]).size == (64, 64)
        params = read_png_parameters(Path(im["path"]))
        assert params["prompt"] == im["prompt"] and params["Seed"] == "0" and params["Steps"] == "2"
    assert directed[0]["prompt"].startswith("a red fox in snow, ")  # the director's prompt, idea first
    assert set(report["side_by_side"]) == {"original", "directed", "directed_wins"}
    assert json.loads((out / "run.json").read_text()) == report
    assert report["memory"][0].startswith("director LM released")


def test_generate_video_with_a_motion_adapter(tiny, tmp_path):
    r = run("a red fox running in snow", "--image-model", tiny.sd, "--motion-adapter", tiny.motion, "--steps", "2",
            "--width", "64", "--height", "64", "--frames", "4", "--score", f"clip={tiny.clip}", "--out",
            str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["target"] == "video" and report["kind"] == "video"
    best = report["best"]
    assert best["path"].endswith(".gif") and Path(best["files"]["mp4"]).stat().st_size > 0
    assert Image.open(best["path"]).n_frames == 4


def test_bad_image_model_and_scorer_inputs_exit_2(tiny, tmp_path):
    cases = [
        (["--image-model", tiny.img2img], "StableDiffusionImg2ImgPipeline is not a text-to-image pipeline"),
        (["--image-model", str(tmp_path / "missing")], "no such folder"),
        (["--image-model", tiny.sd, "--score", "beauty"], "unknown scorer 'beauty'"),
        (["--image-model", tiny.sd, "--score", "clip", "--rank-by", "aesthetic"], "--rank-by 'aesthetic'"),
        (["--image-model", tiny.sd, "--width", "65"], "multiple of 8"),
        (["--image-model", tiny.sd, "--score", f"clip={tmp_path / 'noclip'}"], "clip: no such folder"),
    ]
    for args, message in cases:
        r = run("a cat", *args, "--steps", "2", "--out", str(tmp_path / "x"))
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)
    r = run("   ", "--image-model", tiny.sd)
    assert r.returncode == 2 and "the idea is empty" in r.stderr


def test_generate_honours_the_directors_constraints(tiny, tmp_path):
    r = run("a cat in a garden", "--image-model", tiny.sd, "--steps", "2", "--width", "64", "--height", "64",
            "--style", "ukiyo-e", "--exclude", "blurry", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    direction = report["direction"]
    assert direction["decoding"] == "neurologic" and all(c["satisfied"] for c in direction["constraints"])
    assert "ukiyo-e" in direction["parts"]["style"] and "blurry" not in direction["prompt"]
    image = report["images"][0]
    assert image["prompt"] == direction["prompt"] and "blurry" in image["negative_prompt"].split(", ")
    assert "ukiyo-e" in read_png_parameters(Path(image["path"]))["prompt"]


def test_the_image_pipeline_is_a_python_api(tiny, tmp_path):
    from artdirector.decoding.constraints import Constraints
    from artdirector.director import ArtDirector
    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.pipeline import ImageJob, run_images
    from artdirector.lm.dummy import DummyLM

    job = ImageJob(image_model=tiny.sd, images_per_prompt=2, settings=GenerationSettings(steps=2, width=64, height=64),
                   scorers={"clip": tiny.clip}, out_dir=str(tmp_path))
    lm = DummyLM({"a red fox": " watercolor, soft light, 8k"})
    report = run_images("a red fox", job, lambda: ArtDirector(lm, tuned=True),
                        constraints=Constraints.build(style=["ukiyo-e"]))
    assert report["direction"]["prompt"].startswith("a red fox, watercolor, ukiyo-e")
    assert [im["seed"] for im in report["images"]] == [0, 1] and report["rank_by"] == "clip"
    assert report["best"]["scores"]["clip"] == max(im["scores"]["clip"] for im in report["images"])
    assert json.loads((tmp_path / "run.json").read_text()) == report
