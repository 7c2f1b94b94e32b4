"""``artdirector train critic`` on a small slice: the embedded LM, a tiny CLIP vision tower, real image files;
then the trained folder as ``--critic feedback=OUT``."""

import json
import os
import subprocess
import sys

import pytest

from artdirector.imaging.toy import ToyImages

pytestmark = pytest.mark.slow


def triples(folder):
    folder.mkdir()
    toy, rows = ToyImages(), []
    for k, (caption, drawn, feedback) in enumerate([
        ("a red cube on a blue sphere", "a red cube", "The blue sphere is missing."),
        ("a red cube on a blue sphere", "a red cube on a blue sphere", "Nothing is missing."),
        ("a green pyramid", "a grey pyramid", "The pyramid should be green, not grey."),
        ("a teal ball", "a teal ball", "Nothing is missing."),
    ]):
        toy.draw(drawn).save(folder / f"{k}.png")
        rows.append({"caption": caption, "image": f"{k}.png", "feedback": feedback})
    (folder / "triples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "triples.jsonl"


def train(*args):
    return subprocess.run([sys.executable, "-m", "artdirector.cli", "train", "critic", *args], capture_output=True,
                          text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_train_critic_learns_resumes_and_serves_as_a_critic(tiny, tmp_path):
    data, out = triples(tmp_path / "data"), tmp_path / "critic"
    first = train("--data", str(data), "--vision", tiny.clip, "--out", str(out), "--steps", "4", "--save-steps", "2",
                  "--batch-size", "2", "--learning-rate", "1e-3")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["steps"] == 4 and report["loss_last"] < report["loss_first"]  # it learns the slice
    assert {p.name for p in out.glob("checkpoint-*")} == {"checkpoint-2", "checkpoint-4"}
    assert (out / "adapter" / "adapter_config.json").is_file() and "feedback critic" in (out / "README.md").read_text()
    again = train("--data", str(data), "--vision", tiny.clip, "--out", str(out), "--steps", "6", "--save-steps", "2",
                  "--batch-size", "2", "--learning-rate", "1e-3")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed_from"] == "checkpoint-4" and "step 5/6" in again.stderr

    from artdirector.critique import load_critic

    critic = load_critic(f"feedback={out}")
    verdict = critic.critique("a red cube on a blue sphere", {}, [ToyImages().draw("a red cube")])
    assert verdict.feedback and set(verdict.p_yes) <= {0.2, 0.8}


def test_train_critic_refuses_bad_triples(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"caption": "a cat", "image": "missing.png", "feedback": "x"}\n')
    r = train("--data", str(bad), "--vision", "x", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no image" in r.stderr
