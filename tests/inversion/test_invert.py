"""``invert``: images to prompts with CLIP ranking — end to end on tiny models saved as folders, and a signal:
a tiny CLIP trained in seconds on solid-colour shapes must make a red image's prompt name red."""

import json
import os
import subprocess
import sys

import pytest

from artdirector.imaging.testing import COLOURS, shape_image


def test_a_trained_clip_names_the_colour_of_the_image(trained_clip, tmp_path):
    from artdirector.inversion.interrogate import interrogate
    from artdirector.scoring.base import ClipEncoder

    encoder = ClipEncoder.from_pretrained(trained_clip)
    images = [shape_image(c, "square") for c in ("red", "blue", "green")]
    found = interrogate(images, encoder, mode="fast", cache_dir=tmp_path)
    assert [r["parts"].get("color") for r in found] == [["red"], ["blue"], ["green"]]
    assert found[0]["prompt"].startswith("an image, ") and "red" in found[0]["prompt"]
    chained = interrogate(images[:1], encoder, mode="best", top=4, cache_dir=tmp_path)[0]
    phrases = [p for ps in chained["parts"].values() for p in ps]
    assert "red" in phrases and len(phrases) == len(set(phrases)) <= 4  # the chain never repeats a phrase


def test_the_vocabulary_embeddings_are_cached_per_model(trained_clip, tiny, tmp_path):
    from artdirector.inversion.interrogate import vocabulary_vectors
    from artdirector.scoring.base import ClipEncoder

    trained, other = ClipEncoder.from_pretrained(trained_clip), ClipEncoder.from_pretrained(tiny.clip)
    first = vocabulary_vectors(trained, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    trained.text_embeddings = None  # a second run must not embed the vocabulary again
    again = vocabulary_vectors(trained, cache_dir=tmp_path)
    assert (again.vectors == first.vectors).all()
    vocabulary_vectors(other, cache_dir=tmp_path)  # another model: its own cache
    assert len(list(tmp_path.glob("*.npz"))) == 2


def run(*args):
    return subprocess.run([sys.executable, "-m", "artdirector.cli", "invert", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.mark.slow
def test_invert_a_folder_end_to_end_and_bad_images_are_reported(tiny, tmp_path):
    from artdirector.imaging.testing import save_tiny_blip_captioner

    captioner = save_tiny_blip_captioner(tmp_path / "captioner")
    folder = tmp_path / "images"
    folder.mkdir()
    shape_image("red", "square").save(folder / "a.png")
    shape_image("blue", "circle").save(folder / "b.jpg")
    (folder / "c.png").write_bytes(b"not an image")
    good = folder / "a.png"
    (folder / "d.png").write_bytes(good.read_bytes()[:60])  # truncated
    r = run("--folder", str(folder), "--clip", tiny.clip, "--captioner", str(captioner), "--json")
    assert r.returncode == 2  # some images failed: said, and the others ran
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["image"].rsplit("/", 1)[1] for row in rows] == ["a.png", "b.jpg", "c.png", "d.png"]
    for row in rows[:2]:
        assert row["prompt"].startswith(row["caption"]) and row["negative_prompt"] and row["seconds"] > 0
        assert set(row["parts"]) <= {"medium", "style", "artist", "lighting", "color", "composition", "mood"}
    assert "not an image" in rows[2]["error"] and "error" in rows[3]
    assert "not an image" in r.stderr
    one = run(str(good), "--clip", tiny.clip, "--mode", "best", "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["caption"] == "an image"


def test_an_oversized_image_is_refused_before_it_is_decoded(tmp_path):
    from PIL import Image

    from artdirector.errors import BadInput
    from artdirector.inversion.invert import open_image

    Image.new("1", (7000, 6000)).save(tmp_path / "huge.png")  # 42 megapixels, a few kilobytes on disk
    with pytest.raises(BadInput, match="7000x6000 is over the 36-megapixel limit"):
        open_image(tmp_path / "huge.png")


def test_bad_invert_inputs_exit_2(tiny, tmp_path):
    (tmp_path / "empty").mkdir()
    for args, message in ((["--folder", str(tmp_path / "empty"), "--clip", tiny.clip], "no images"),
                          (["x.png", "--clip", str(tmp_path / "missing")], "no such folder"),
                          (["--clip", tiny.clip], "no image given")):
        r = run(*args)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)


@pytest.mark.slow
def test_direct_with_a_style_image_requires_its_colour_and_keeps_the_idea(trained_clip, tmp_path):
    shape_image("red", "circle").save(tmp_path / "style.png")
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "direct", "a lighthouse in a storm", "--style-image",
                        str(tmp_path / "style.png"), "--clip", trained_clip, "--json"], capture_output=True,
                       text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["prompt"].startswith("a lighthouse in a storm, ")
    assert any("red" in phrase.split() for phrase in out["parts"].get("color", []))
    assert any(c["category"] == "color" and c["phrases"] == ["red"] and c["satisfied"] for c in out["constraints"])
    assert "style image: " in r.stderr and "color 'red'" in r.stderr


@pytest.mark.slow
def test_the_tuner_makes_the_lm_write_the_colour_of_the_image(trained_clip, tmp_path):
    """Trained on (colour square, prompt) pairs, the tuned LM names each image's colour far above chance (1/8)."""
    data = tmp_path / "pairs"
    data.mkdir()
    rows = []
    for colour in COLOURS:
        for shape in ("square", "circle"):
            shape_image(colour, shape).save(data / f"{colour}-{shape}.png")
            rows.append({"image": f"{colour}-{shape}.png", "prompt": f"a {colour} {shape}, flat colour"})
    (data / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "tuner"
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "train", "tuner", "--data", str(data / "pairs.jsonl"),
                        "--vision", trained_clip, "--out", str(out), "--steps", "60", "--align-steps", "15",
                        "--batch-size", "8", "--learning-rate", "2e-3", "--save-steps", "30"], capture_output=True,
                       text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["steps"] == 60 and (out / "checkpoint-30" / "state.json").is_file()
    assert "visual prompt tuner" in (out / "README.md").read_text()

    from artdirector.inversion.tuner import Tuner

    written = Tuner.from_folder(out)([shape_image(c, "square") for c in COLOURS])
    named = sum(c in text.lower().split(",")[0].split() for c, text in zip(COLOURS, written))
    assert named >= 5, written
    inverted = run(str(data / "red-square.png"), "--clip", trained_clip, "--tuner", str(out), "--json")
    assert inverted.returncode == 0, inverted.stderr
    assert json.loads(inverted.stdout)["prompt"]  # the tuned LM's prompt, parsed and rendered

    # eval invert with every model: each system, each metric; the tuner, trained on these prompts, must
    # match them better than the vocabulary ranking and the (random) captioner do
    from artdirector.imaging.testing import save_tiny_blip_captioner, save_tiny_sd

    captioner, sd = save_tiny_blip_captioner(tmp_path / "captioner"), save_tiny_sd(tmp_path / "sd")
    evaluated = subprocess.run(
        [sys.executable, "-m", "artdirector.cli", "eval", "invert", "--data", str(data / "pairs.jsonl"), "--limit", "8",
         "--clip", trained_clip, "--captioner", str(captioner), "--tuner", str(out), "--image-model", str(sd),
         "--steps", "2", "--out", str(tmp_path / "eval"), "--json"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    table = report["systems"]
    assert list(table) == ["reference", "caption-only", "interrogator-only", "invert-fast", "invert-best", "tuner"]
    assert report["n"] == 8 and set(report["not_computed"]) == {"lpips", "fid_inception"}
    for name, row in table.items():
        assert all(value is not None for metric, value in row.items()
                   if not (name == "reference" and metric in ("bleu_1", "bleu_4", "cider"))), (name, row)
    assert table["tuner"]["bleu_1"] > max(table["interrogator-only"]["bleu_1"], table["caption-only"]["bleu_1"])
    assert table["tuner"]["cider"] > max(table["interrogator-only"]["cider"], table["caption-only"]["cider"])


def test_a_vlm_endpoint_captions_the_images(tiny, tmp_path, loopback):
    """``--captioner vlm=URL#MODEL`` against a real OpenAI-compatible vision chat server on loopback, answered
    by a real (tiny) BLIP captioner: the caption invert uses is the one the server wrote for that image."""
    import base64
    import io

    from fastapi import FastAPI
    from PIL import Image

    from artdirector.imaging.testing import save_tiny_blip_captioner
    from artdirector.inversion.captioner import Captioner
    from artdirector.inversion.invert import invert

    blip = Captioner.from_pretrained(str(save_tiny_blip_captioner(tmp_path / "captioner")))
    app, seen = FastAPI(), []

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        parts = body["messages"][-1]["content"]
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        seen.append((body["model"], image.size))
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": blip([image])[0] + "\nmore"},
                             "finish_reason": "stop"}]}

    server = loopback.serve(app)
    try:
        images = [shape_image("red", "square"), shape_image("blue", "circle", size=48)]
        for k, im in enumerate(images):
            im.save(tmp_path / f"{k}.png")
        found = invert([tmp_path / "0.png", tmp_path / "1.png"], clip=tiny.clip,
                       captioner=f"vlm={server.url}/v1#tiny-vlm")
    finally:
        server.stop()
    assert seen == [("tiny-vlm", (32, 32)), ("tiny-vlm", (48, 48))]
    assert [r["caption"] for r in found] == blip(images)  # the first line of each reply
    assert all(r["prompt"].startswith(r["caption"]) for r in found)


def test_a_vlm_captioner_needs_a_url():
    from artdirector.errors import BadInput
    from artdirector.inversion.captioner import check_captioner

    with pytest.raises(BadInput, match="needs the server's URL"):
        check_captioner("vlm=localhost:8080")
