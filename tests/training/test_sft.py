"""Real LoRA fine-tuning through TRL on the embedded model: tiny runs, killed, resumed, damaged."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artdirector.training.sft import CheckpointError, resume_point

pytestmark = pytest.mark.slow  # trains, or loads the model

TRAIN = Path(__file__).parents[2] / "artdirector" / "data" / "prompts" / "train.tsv"


def _sft(out, *extra):
    return [sys.executable, "-m", "artdirector.cli", "train", "sft", "--data", str(TRAIN), "--out", str(out),
            "--limit", "24", "--batch-size", "4", "--lora-r", "4", "--save-steps", "1", "--log-steps", "1", "--json",
            *extra]


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(_sft(out, "--max-steps", "4"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not (out / "checkpoint-2" / "trainer_state.json").exists():
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "adapter_model.safetensors").exists()  # no final adapter yet

    r = subprocess.run(_sft(out, "--max-steps", "4"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 4
    assert int(Path(summary["resumed_from"]).name.split("-")[1]) >= 2
    assert (out / "adapter_model.safetensors").is_file()
    config = json.loads((out / "artdirector-sft.json").read_text())
    assert config["settings"]["lora_r"] == 4 and config["trl_args"]["completion_only_loss"] is True
    assert config["data"]["used"] == 24
    assert [h["step"] for h in json.loads((out / "loss.json").read_text())]  # the loss curve was saved

    # A damaged newest checkpoint: a clear error naming the previous one, which stays on disk.
    points = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    (points[-1] / "adapter_model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(CheckpointError, match=f"damaged.*previous one, .*{points[-2].name}, is kept"):
        resume_point(out)
    r = subprocess.run(_sft(out, "--max-steps", "5"), capture_output=True, text=True)
    assert r.returncode == 2 and "damaged" in r.stderr
    assert points[-2].is_dir()


def test_an_interrupted_save_is_passed_over(tmp_path):
    complete, partial = tmp_path / "checkpoint-3", tmp_path / "checkpoint-4"
    complete.mkdir()
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"half")  # the kill came before trainer_state.json
    with pytest.raises(CheckpointError):  # checkpoint-3 is "complete" but holds nothing readable
        (complete / "trainer_state.json").write_text("{}")
        resume_point(tmp_path)
    notes = []
    (complete / "trainer_state.json").unlink()
    assert resume_point(tmp_path, notes) is None and len(notes) == 2


def test_missing_prompt_column_fails_before_loading_anything(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("caption\na cat\n")
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "train", "sft", "--data", str(bad), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 2 and "no 'prompt' column" in r.stderr


def test_a_retrieval_augmented_run_continues_the_shipped_adapter_and_its_director_reads_neighbours(tmp_path):
    from artdirector.director import ArtDirector, default_adapter
    from artdirector.prompting import NEIGHBOURS_HEADER

    out = tmp_path / "raft"
    r = subprocess.run(_sft(out, "--max-steps", "1", "--neighbours", "2", "--max-length", "256", "--from-adapter",
                            "default"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    recipe = json.loads((out / "artdirector-sft.json").read_text())
    assert recipe["settings"]["neighbours"] == 2 and recipe["from_adapter"] == str(default_adapter())
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 16  # the shipped LoRA's rank, not --lora-r

    director = ArtDirector.from_default(adapter=out, backend="transformers")
    idea = "a lighthouse in a storm"
    frame = director.build_prompt(idea, 0, director.retrieve(idea))
    assert f"{idea}\n{NEIGHBOURS_HEADER}\n- " in frame and frame.count("\n- ") == 2
    shipped = ArtDirector.from_default(backend="transformers", rag=False)
    assert NEIGHBOURS_HEADER not in shipped.build_prompt(idea)  # the zero-shot adapter keeps its frame

    bad = subprocess.run(_sft(tmp_path / "o", "--from-adapter", str(tmp_path)), capture_output=True, text=True)
    assert bad.returncode == 2 and "not a PEFT adapter folder" in bad.stderr
