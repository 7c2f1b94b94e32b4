"""``artdirector refine`` as a real subprocess: the real director, a tiny diffusion pipeline and a tiny BLIP VQA
critic saved as folders (the issue's own command, at 64 pixels and 2 steps)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "artdirector.cli", "refine", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def tiny_vqa(tmp_path_factory):
    from artdirector.imaging.testing import save_tiny_blip_vqa

    return str(save_tiny_blip_vqa(tmp_path_factory.mktemp("vqa") / "vqa"))


def test_refine_runs_end_to_end_with_a_vqa_critic(tiny, tiny_vqa, tmp_path):
    r = run("a red cube on a blue sphere", "--image-model", tiny.sd, "--critic", f"vqa={tiny_vqa}", "--rounds", "2",
            "--candidates", "2", "--steps", "2", "--width", "64", "--height", "64", "--style", "ukiyo-e", "--out",
            str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["idea"] == "a red cube on a blue sphere" and 1 <= len(report["rounds"]) <= 2
    assert report["stopped"] in ("threshold", "rounds", "no gain")
    seeds = set()
    for rd in report["rounds"]:
        for c in rd["candidates"]:
            assert "ukiyo-e" in c["prompt"]  # the user's constraint, in every round
            assert c["questions"][0]["question"] == "Is there a cube?" and 0 < c["questions"][0]["p_yes"] < 1
            seeds |= {im["seed"] for im in c["images"]}
            assert os.path.isfile(c["images"][0]["path"])
    assert seeds == {0}  # the same seed everywhere: the prompt is what changes
    best = report["best"]
    assert best["score"] == max(c["score"] for rd in report["rounds"] for c in rd["candidates"])
    assert json.loads((tmp_path / "refine.json").read_text()) == report


def test_refine_refuses_bad_input_before_any_model_loads(tiny, tmp_path):
    cases = [
        (["--critic", "judge"], "unknown critic 'judge'"),
        (["--critic", "vqa", "--score", "clip"], "--score is for generate"),
        (["--critic", "vqa", "--n", "2"], "--candidates"),
        (["--critic", "vqa", "--rounds", "0"], "--rounds"),
        (["--critic", f"vqa={tmp_path / 'missing'}"], "no such folder"),
    ]
    for args, message in cases:
        r = run("a red cube", "--image-model", tiny.sd, "--out", str(tmp_path / "out"), *args, timeout=120)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
