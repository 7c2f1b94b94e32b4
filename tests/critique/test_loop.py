"""The critique loop in the toy world (``imaging.toy``, ``critique.toy``), where what a prompt does to the
picture is measurable: words past the toy model's window are not drawn, and the critic reads the pixels."""

import pytest

from artdirector.critique.loop import RefineJob, refine
from artdirector.critique.toy import ToyCritic, band_colours, regions
from artdirector.decoding.constraints import Constraints
from artdirector.director import ArtDirector
from artdirector.errors import BadInput, ImageModelError
from artdirector.imaging.toy import ToyImages
from artdirector.lm.dummy import DummyLM

IDEA = "a red cube on a blue sphere"
ANSWER = " oil painting, by hokusai, dramatic lighting, highly detailed, 8k"


def director():
    return ArtDirector(DummyLM({}, default=ANSWER), tuned=True, max_new_tokens=80)


def user():  # the user's own hard constraints: a colour, and an exclusion
    return Constraints.build(color=["teal"], exclude=["blurry"])


def test_the_toy_world_draws_only_the_first_words_and_the_critic_reads_them_back():
    toy = ToyImages(window=10)
    early = toy.draw(f"{IDEA}, teal, oil painting")
    late = toy.draw(f"{IDEA}, oil painting, by hokusai, dramatic lighting, teal")
    assert regions(early) == regions(late) == [("square", "red"), ("circle", "blue")]
    assert band_colours(early) == {"teal"} and band_colours(late) == set()
    assert regions(toy.draw("a green pyramid and a ball")) == [("triangle", "green"), ("circle", "grey")]


def test_revising_through_constraints_raises_the_score_and_keeps_the_users_constraints(tmp_path):
    report = refine(IDEA, director(), lambda: ToyImages(window=10), ToyCritic,
                    RefineJob(rounds=3, candidates=2, out_dir=str(tmp_path)), constraints=user())
    scores = [max(c["score"] for c in rd["candidates"]) for rd in report["rounds"]]
    assert scores[0] < report["best"]["score"] and report["best"]["round"] > 1  # a later round did better
    first = report["rounds"][0]["candidates"][0]
    assert "teal" in first["critique"] and first["prompt"].index("teal") > first["prompt"].index("hokusai")
    assert report["best"]["prompt"].startswith(f"{IDEA}, teal, ")  # what the image missed, now early
    for rd in report["rounds"]:  # the user's constraints hold in every round
        for c in rd["candidates"]:
            assert "teal" in c["prompt"] and "blurry" in c["negative_prompt"] and "blurry" not in c["prompt"]
            assert {"question", "element", "category", "p_yes"} <= set(c["questions"][0])
    prompts = [c["prompt"] for rd in report["rounds"] for c in rd["candidates"]]
    assert len(prompts) == len(set(prompts))  # a revision never repeats a prompt
    assert report["stopped"] in ("no gain", "rounds", "threshold")
    assert (tmp_path / "refine.json").is_file() and (tmp_path / "round-1" / "c0-s0.png").is_file()


def test_appending_the_feedback_at_the_end_does_not_help(tmp_path):
    """The seed system's revision: the diffusion model ignores what comes last (here: past its window)."""
    report = refine(IDEA, director(), lambda: ToyImages(window=10), ToyCritic,
                    RefineJob(rounds=3, candidates=2, revise="append", out_dir=str(tmp_path)), constraints=user())
    first = max(c["score"] for c in report["rounds"][0]["candidates"])
    assert report["best"]["score"] == first and report["best"]["round"] == 1
    assert report["stopped"] == "no gain"


def test_the_threshold_stops_the_loop(tmp_path):
    report = refine(IDEA, director(), lambda: ToyImages(window=40), ToyCritic,
                    RefineJob(rounds=3, threshold=0.5, out_dir=str(tmp_path)), constraints=user())
    assert report["stopped"] == "threshold" and len(report["rounds"]) == 1


def test_an_image_model_that_fails_mid_way_keeps_the_rounds_done(tmp_path):
    class Failing(ToyImages):
        calls = 0

        def generate(self, *args, **kw):
            Failing.calls += 1
            if Failing.calls == 2:
                raise ImageModelError("CUDA out of memory")
            return super().generate(*args, **kw)

    report = refine(IDEA, director(), lambda: Failing(window=10), ToyCritic,
                    RefineJob(rounds=3, out_dir=str(tmp_path)), constraints=user())
    assert report["stopped"] == "error" and "round 2" in report["error"] and "out of memory" in report["error"]
    assert len(report["rounds"]) == 1 and report["best"]["round"] == 1


def test_bad_loop_settings_are_refused():
    for kw, message in (({"rounds": 0}, "at least 1"), ({"threshold": 1.5}, r"\(0, 1\]"),
                        ({"revise": "rewrite"}, "unknown revision")):
        with pytest.raises(BadInput, match=message):
            RefineJob(**kw)
