"""``train image-lora`` on the tiny pipeline and a handful of toy images: loss recorded, a killed run resumes
to exactly the weights of an uninterrupted one, captions written by invert when missing, the result loads with
``generate --lora``; bad inputs exit 2."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

PROMPTS = ["a red cube", "a blue sphere", "a green pyramid", "a yellow cube", "two red spheres", "a purple cone"]


def train(*args, wait=True):
    run = subprocess.Popen([sys.executable, "-m", "artdirector.cli", "train", "image-lora", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if not wait:
        return run
    out, err = run.communicate(timeout=600)
    return run.returncode, out, err


@pytest.fixture
def toy_data(tmp_path):
    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.toy import ToyImages

    data = tmp_path / "data"
    data.mkdir()
    for k, sample in enumerate(ToyImages().generate(PROMPTS, [0] * len(PROMPTS), GenerationSettings())):
        sample.image.save(data / f"{k}.png")
    (data / "metadata.jsonl").write_text("".join(json.dumps({"file_name": f"{k}.png", "text": f"{p}, pxl style"}) + "\n"
                                                 for k, p in enumerate(PROMPTS[:3])))
    for k, p in enumerate(PROMPTS[3:], start=3):
        (data / f"{k}.txt").write_text(f"{p}, pxl style\n")
    return data


@pytest.mark.slow
def test_train_resume_after_a_kill_and_generate_with_the_result(tiny, toy_data, tmp_path):
    args = ["--data", str(toy_data), "--base", tiny.sd, "--max-steps", "60", "--save-steps", "10", "--resolution", "64",
            "--batch-size", "2", "--trigger", "pxl style"]
    whole = tmp_path / "whole"
    code, out, err = train(*args, "--out", str(whole))
    assert code == 0, err
    record = json.loads(out)
    losses = json.loads((whole / "losses.json").read_text())
    assert record["steps"] == 60 and len(losses) == 60 and all(0 < x < 10 for x in losses)
    assert (whole / "README.md").read_text().startswith("# artdirector image LoRA")
    assert json.loads((whole / "settings.json").read_text())["settings"]["lora_r"] == 8

    killed = tmp_path / "killed"
    run = train(*args, "--out", str(killed), wait=False)
    deadline = time.time() + 300
    while time.time() < deadline and not (killed / "checkpoint-10" / "state.json").is_file():
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not (killed / "pytorch_lora_weights.safetensors").exists()  # it died mid-run
    code, out, err = train(*args, "--out", str(killed))
    assert code == 0, err
    assert json.loads(out)["resumed_from"].startswith("checkpoint-")
    a, b = (load_file(str(d / "pytorch_lora_weights.safetensors")) for d in (whole, killed))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)  # the steps an uninterrupted run took
    assert json.loads((killed / "losses.json").read_text()) == losses

    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "generate", "a red cube", "--image-model", tiny.sd,
                        "--lora", f"{whole}=0.8", "--steps", "2", "--out", str(tmp_path / "gen"), "--json"],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    image = json.loads(r.stdout)["images"][0]
    assert image["prompt"].startswith("a red cube, pxl style")  # the trigger words the run wrote down
    assert json.loads(open(image["path"][:-4] + ".json").read())["loras"][0]["name"] == "whole"


def test_missing_captions_and_bad_settings_exit_2(tiny, toy_data, tmp_path):
    (toy_data / "3.txt").unlink()
    code, _, err = train("--data", str(toy_data), "--base", tiny.sd, "--out", str(tmp_path / "o"))
    assert code == 2 and "1 of 6 images have no caption (e.g. 3.png)" in err
    code, _, err = train("--data", str(toy_data), "--base", tiny.sd, "--resolution", "60")
    assert code == 2 and "multiple of 8" in err
    code, _, err = train("--data", str(toy_data), "--base", tiny.clip, "--out", str(tmp_path / "o2"),
                         "--caption-clip", tiny.clip, "--max-steps", "1")
    assert code == 2 and "is not a Stable Diffusion pipeline" in err


@pytest.mark.slow
def test_invert_writes_the_missing_captions(tiny, toy_data, tmp_path):
    (toy_data / "3.txt").unlink()
    code, out, err = train("--data", str(toy_data), "--base", tiny.sd, "--out", str(tmp_path / "o"), "--max-steps",
                           "2", "--resolution", "32", "--caption-clip", tiny.clip)
    assert code == 0, err
    written = (toy_data / "3.txt").read_text()
    assert written.startswith("an image, ") and "captions written by invert for 1 images" in err
