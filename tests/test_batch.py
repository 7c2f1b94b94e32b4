"""``artdirector batch``: formats and carried columns, error rows, resume after a kill, and Ray ≡ local."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artdirector.batch.run import BatchJob, run_batch
from artdirector.director import ArtDirector
from artdirector.errors import BadInput
from artdirector.lm.dummy import DummyLM

IDEAS = ["a lighthouse in a storm", "a red car", "a plate of pasta with basil", "A woman walks her dog in the park.",
         "a cat on a windowsill", "an old man reading a newspaper", "a castle on a hill at dawn", "two children "
         "playing in the snow", "a blue bicycle leaning on a yellow wall", "a bowl of ramen", "a fox in a forest",
         "a city street at night in the rain", "a portrait of a knight", "a sailing ship on a calm sea",
         "a cup of coffee on a wooden table", "mountains above the clouds", "a robot in a garden",
         "a dragon over a village", "a girl with an umbrella", "a desert at sunset"]


def dummy_director():
    return ArtDirector(DummyLM([" oil painting, dramatic lighting"], cycle=True), max_new_tokens=200)


def test_tables_carry_their_columns_and_bad_rows_become_error_rows(tmp_path):
    import pyarrow.parquet as pq

    source = tmp_path / "ideas.csv"
    source.write_text("id,prompt,prompt_note\n7,a lighthouse in a storm,x\n8,,y\n9,a red car,z\n")
    for out in ("out.parquet", "out.csv", "out.jsonl", "out.txt"):
        report = run_batch(BatchJob(str(source), str(tmp_path / out)), dummy_director)
        assert report == {**report, "rows": 3, "directed": 2, "errors": 1}
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["id"] for r in rows] == ["7", "8", "9"] and rows[0]["prompt_note"] == "x"
    assert rows[0]["idea"] == "a lighthouse in a storm" and rows[0]["prompt"].startswith("a lighthouse in a storm, ")
    assert json.loads(rows[0]["parts"])["medium"] == ["oil painting"]
    assert "the idea is empty" in rows[1]["error"] and rows[1]["prompt"] is None
    jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert jsonl[2]["parts"]["lighting"] == ["dramatic lighting"]  # nested values stay nested in JSON Lines
    text = (tmp_path / "out.txt").read_text().splitlines()
    assert len(text) == 3 and text[1] == "" and text[2].startswith("a red car, ")


def test_a_rerun_skips_what_out_holds_and_other_options_are_refused(tmp_path):
    source, out = tmp_path / "ideas.txt", tmp_path / "out.parquet"
    source.write_text("\n".join(IDEAS[:5]) + "\n")
    assert run_batch(BatchJob(str(source), str(out)), dummy_director)["directed"] == 5
    source.write_text("\n".join(IDEAS[:7]) + "\n")  # two more ideas
    again = run_batch(BatchJob(str(source), str(out)), dummy_director)
    assert (again["resumed"], again["directed"], again["rows"]) == (5, 2, 7)
    with pytest.raises(BadInput, match="made with other options"):
        run_batch(BatchJob(str(source), str(out), target="flux"), dummy_director)


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "artdirector.cli", "batch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, **kw)


@pytest.mark.slow
def test_a_killed_batch_resumes_without_gaps_or_duplicates(tmp_path):
    """The real embedded model, 40 ideas in chunks of 4: killed after some chunks are journalled, the re-run
    directs only the rest, and OUT equals an uninterrupted run's row for row."""
    source = tmp_path / "ideas.jsonl"
    source.write_text("".join(json.dumps({"idea": i, "k": n}) + "\n" for n, i in enumerate(IDEAS * 2)))
    out, journal = tmp_path / "out.jsonl", tmp_path / "out.jsonl.journal.jsonl"
    run = _cli(str(source), str(out), "--chunk", "4")
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        if journal.is_file() and len(journal.read_text().splitlines()) >= 3:  # the header and 2 chunks
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not out.exists() and journal.is_file()
    resumed = _cli(str(source), str(out), "--chunk", "4")
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["resumed"] >= 8 and report["resumed"] + report["directed"] == 40 and report["rows"] == 40
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["k"] for r in rows] == list(range(40)) and not journal.exists()
    fresh = _cli(str(source), str(tmp_path / "fresh.jsonl"), "--chunk", "4")
    assert fresh.wait(timeout=600) == 0
    assert rows == [json.loads(line) for line in (tmp_path / "fresh.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_ray_and_local_give_the_same_output(tmp_path):
    """``batch IDEAS OUT.parquet --ray``: 20 ideas on a Ray instance the command starts here, 2 director actors,
    greedy: the same rows as the run in process."""
    import pyarrow.parquet as pq

    source = tmp_path / "ideas.txt"
    source.write_text("\n".join(IDEAS) + "\n\n")  # and an empty line: an error row either way
    local = _cli(str(source), str(tmp_path / "local.parquet"), "--chunk", "4")
    assert local.wait(timeout=600) == 2  # the error row
    on_ray = _cli(str(source), str(tmp_path / "ray.parquet"), "--chunk", "4", "--ray", "--actors", "2")
    stdout, stderr = on_ray.communicate(timeout=600)
    assert on_ray.returncode == 2, stderr
    assert json.loads(stdout.splitlines()[-1])["rows"] == 21
    rows = [pq.read_table(tmp_path / f).to_pylist() for f in ("local.parquet", "ray.parquet")]
    assert rows[0] == rows[1] and len(rows[0]) == 21 and rows[0][-1]["error"]


@pytest.mark.slow
def test_an_image_stage_renders_and_scores_each_row_alike_in_process_and_on_ray(tiny, tmp_path):
    """``--image-model``: every directed row rendered with the same seed and scored; on Ray by an image actor
    (no GPU here, so a CPU one, on as many threads as the run in process): the same rows, the same pixels."""
    import numpy as np
    from PIL import Image

    source = tmp_path / "ideas.jsonl"
    source.write_text("".join(json.dumps({"idea": i, "id": k}) + "\n" for k, i in enumerate(IDEAS[:5])))
    images = ["--image-model", tiny.sd, "--steps", "2", "--width", "32", "--height", "32", "--score",
              f"clip={tiny.clip}", "--chunk", "2"]
    local = _cli(str(source), str(tmp_path / "local.jsonl"), *images)
    assert local.wait(timeout=600) == 0, local.stderr.read()
    on_ray = _cli(str(source), str(tmp_path / "ray.jsonl"), *images, "--ray")
    stdout, stderr = on_ray.communicate(timeout=600)
    assert on_ray.returncode == 0, stderr
    assert json.loads(stdout.splitlines()[-1])["rendered"] == 5
    rows = [[json.loads(line) for line in (tmp_path / f).read_text().splitlines()]
            for f in ("local.jsonl", "ray.jsonl")]
    for a, b in zip(*rows):
        assert Path(a["image"]).is_file() and set(a["scores"]) == {"clip"}
        assert np.array_equal(np.asarray(Image.open(a["image"])), np.asarray(Image.open(b["image"])))
        assert {**a, "image": 0, "images": 0} == {**b, "image": 0, "images": 0}  # the scores too
    assert Path(rows[0][0]["image"]).parent.parent == tmp_path / "local-images"
    plain = _cli(str(source), str(tmp_path / "x.jsonl"), "--steps", "2")
    assert plain.wait(timeout=120) == 2 and "--steps sets up images: add --image-model" in plain.stderr.read()


def test_rows_as_templates_become_one_row_per_expansion_and_resume_by_expansion(tmp_path):
    (tmp_path / "wc").mkdir()
    (tmp_path / "wc" / "place.txt").write_text("a park\na beach\n")
    source, out = tmp_path / "templates.txt", tmp_path / "out.csv"
    source.write_text("a {red|blue} car in __place__\na __creature__\n")
    templates = {"count": 10, "combinatorial": True, "seed": 0, "wildcards": str(tmp_path / "wc")}
    report = run_batch(BatchJob(str(source), str(out), templates=templates), dummy_director)
    rows = list(csv.DictReader(out.open()))
    assert report["rows"] == 5 and [r["expansion"] for r in rows[:4]] == ["0", "1", "2", "3"]
    assert {r["idea"] for r in rows[:4]} == {f"a {c} car in {p}" for c in ("red", "blue")
                                             for p in ("a park", "a beach")}
    assert rows[0]["template"] == "a {red|blue} car in __place__" and rows[0]["prompt"].startswith(rows[0]["idea"])
    assert "could not write entries for __creature__" in rows[4]["error"]  # the double writes no list: an error row
    again = run_batch(BatchJob(str(source), str(out), templates=templates), dummy_director)
    assert (again["resumed"], again["directed"]) == (5, 0)  # the error row too: its input has not changed


def test_a_ray_address_nothing_answers_at_is_refused_at_once_and_leaves_no_journal(tmp_path):
    source = tmp_path / "ideas.txt"
    source.write_text("a red car\n")
    for address, message in (("127.0.0.1:9", "no Ray cluster answers at 127.0.0.1:9"),
                             ("ray://127.0.0.1:9", "no Ray cluster answers at ray://127.0.0.1:9"),
                             ("nonsense", "give HOST:PORT")):
        run = _cli(str(source), str(tmp_path / "out.jsonl"), "--ray", address)
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 2 and message in stderr, stderr
    assert list(tmp_path.iterdir()) == [source]  # nothing written: no journal, no OUT
