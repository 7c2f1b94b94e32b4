"""``eval invert``: the metrics on their own, and regenerate-and-compare in the toy image world, where a prompt
that names the image's colour and shape redraws it and one that does not cannot."""

import json

import numpy as np
import pytest

from artdirector.errors import BadInput
from artdirector.evaluation.inversion import caption_scores, check_systems, evaluate_inversion, frechet_distance
from artdirector.imaging.testing import shape_image

SCENES = [("red", "square"), ("blue", "circle"), ("green", "square"), ("yellow", "circle"), ("purple", "square"),
          ("orange", "circle")]


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_moved_one():
    a = np.random.default_rng(0).normal(size=(400, 8))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + 0.5) == pytest.approx(8 * 0.25, rel=1e-6)
    few = a[:5]  # fewer samples than dimensions: a singular covariance still gives a finite distance
    assert np.isfinite(frechet_distance(few, few + 1.0))


def test_caption_scores_reward_the_reference_words_in_order():
    refs = ["a red square on grey", "a blue circle", "a green triangle at dusk"]
    same = caption_scores(refs, refs)
    assert same["bleu_1"] == pytest.approx(1) and same["bleu_4"] > 0.99 and same["cider"] > 5
    shuffled = caption_scores(refs, [" ".join(reversed(r.split())) for r in refs])
    assert shuffled["bleu_1"] == pytest.approx(1) and shuffled["bleu_4"] < 0.1 and shuffled["cider"] < same["cider"]
    other = caption_scores(refs, ["mountains", "old lighthouse", "portrait queen"])
    assert other["bleu_1"] < 0.01 and other["cider"] < 0.01


def test_systems_need_their_models():
    assert check_systems(None, captioner=None, tuner=None) == ["reference", "interrogator-only", "invert-fast",
                                                                "invert-best"]
    with pytest.raises(BadInput, match="caption-only needs --captioner"):
        check_systems(["caption-only"], captioner=None, tuner=None)
    with pytest.raises(BadInput, match="unknown system 'clip'"):
        check_systems(["clip"], captioner=None, tuner=None)


def _pairs(folder, prompts):
    folder.mkdir(exist_ok=True)
    for k, (colour, shape) in enumerate(SCENES):
        shape_image(colour, shape).save(folder / f"{k}.png")
    return [{"image": str(folder / f"{k}.png"), "prompt": p} for k, p in enumerate(prompts)]


def test_regenerating_the_right_prompt_redraws_the_image(trained_clip, tmp_path):
    """The toy model draws the colour and shape a prompt names; the trained CLIP reads colour. The true
    prompts must redraw images closer to the originals than the same prompts given to the wrong images; the
    Fréchet distance, a statistic of the set, cannot tell a shuffle but must see a set drawn in one colour;
    every readable image is scored while a broken one is reported."""
    from artdirector.imaging.toy import ToyImages

    right = [f"{c} {s}" for c, s in SCENES]
    runs = {}
    for name, prompts in (("right", right), ("shuffled", right[1:] + right[:1]), ("one colour", ["red square"] * 6)):
        pairs = _pairs(tmp_path / "images", prompts)
        if name == "right":
            (tmp_path / "broken.png").write_bytes(b"not an image")
            pairs.append({"image": str(tmp_path / "broken.png"), "prompt": "x"})
        runs[name] = evaluate_inversion(pairs, clip=trained_clip, out=tmp_path / name, generator=ToyImages,
                                        systems=["reference", "interrogator-only"])
    good, shuffled, one = (runs[k]["systems"]["reference"] for k in ("right", "shuffled", "one colour"))
    assert runs["right"]["n"] == 6 and "broken.png: not an image" in runs["right"]["skipped"][0]
    assert good["regen_similarity"] > shuffled["regen_similarity"] + 0.1
    assert good["clip_similarity"] > shuffled["clip_similarity"]
    assert good["fid_clip"] == pytest.approx(shuffled["fid_clip"], rel=1e-4)
    assert good["fid_clip"] < one["fid_clip"]
    ranked = runs["right"]["systems"]["interrogator-only"]
    assert ranked["bleu_1"] is not None and ranked["regen_similarity"] is not None
    rows = [json.loads(line) for line in (tmp_path / "right" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and rows[0]["prompts"]["reference"] == "red square"
    assert (tmp_path / "right" / "regenerated" / "reference" / "00005.png").is_file()
    assert (tmp_path / "right" / "metrics.png").is_file()
    assert "lpips" in runs["right"]["not_computed"] and "regen_similarity" not in runs["right"]["not_computed"]
