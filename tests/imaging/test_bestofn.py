"""Best-of-n ranking, side-by-side, memory hand-over, and the image reward in the RL reward shape."""

import json

import pytest

from artdirector.imaging.base import GenerationSettings
from artdirector.imaging.bestofn import PromptJob, generate_and_rank
from artdirector.imaging.reward import rendered_reward
from artdirector.scoring import load_scorer

FAST = GenerationSettings(steps=2, width=64, height=64)


@pytest.fixture(scope="module")
def ranking(tiny, tiny_sd, tmp_path_factory):
    jobs = [PromptJob("a red fox in snow, oil painting", "blurry", "directed", 0),
            PromptJob("a red fox in snow, watercolor", "blurry", "directed", 1),
            PromptJob("a red fox in snow", "", "original")]
    scorers = {"pickscore": lambda: load_scorer("pickscore", tiny.clip),
               "aesthetic": lambda: load_scorer("aesthetic", tiny.clip)}
    return generate_and_rank(tiny_sd, jobs, [0, 1], FAST, scorers, tmp_path_factory.mktemp("out"), unload=False)


def test_every_job_times_every_seed_is_saved_and_scored(ranking):
    assert len(ranking.images) == 6
    assert [(s.job.candidate, s.sample.seed) for s in ranking.images[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for s in ranking.images:
        assert set(s.scores) == {"pickscore", "aesthetic"}
        side = json.loads(open(s.files["png"].replace(".png", ".json")).read())
        assert side["scores"] == s.scores and side["source"] == s.job.source


def test_best_is_the_top_directed_image_by_the_first_scorer(ranking):
    directed = [s for s in ranking.images if s.job.source == "directed"]
    assert ranking.rank_by == "pickscore"
    assert ranking.best is max(directed, key=lambda s: s.scores["pickscore"])


def test_side_by_side_compares_on_the_same_seeds(ranking):
    sbs = ranking.side_by_side()
    originals = {s.sample.seed: s.scores["pickscore"] for s in ranking.images if s.job.source == "original"}
    directed = [s for s in ranking.images if s.job.source == "directed"]
    wins = sum(s.scores["pickscore"] > originals[s.sample.seed] for s in directed) / len(directed)
    assert sbs["directed_wins"] == wins
    assert sbs["original"]["aesthetic"] == pytest.approx(
        sum(s.scores["aesthetic"] for s in ranking.images if s.job.source == "original") / 2)


def test_memory_is_handed_over_between_stages(tiny, tmp_path):
    from artdirector.imaging.diffusers_backend import DiffusersGenerator

    gen = DiffusersGenerator.from_pretrained(tiny.sd)
    ranking = generate_and_rank(gen, [PromptJob("a cat", "", "directed")], [0], FAST,
                                {"clip": lambda: load_scorer("clip", tiny.clip)}, tmp_path)
    assert gen.pipe is None  # released before the scorer loaded
    assert ranking.memory == ["image pipeline released before scoring",
                              "scorer clip loaded, run over 1 samples, released"]


def test_unknown_rank_by_is_refused(tiny_sd, tmp_path):
    with pytest.raises(ValueError, match="rank_by"):
        generate_and_rank(tiny_sd, [PromptJob("a cat", "", "directed")], [0], FAST, {}, tmp_path, rank_by="clip")


def test_rendered_reward_has_the_text_reward_shape_and_is_deterministic(tiny, tiny_sd):
    from artdirector.rewards import combine, keeps_idea

    reward = rendered_reward(tiny_sd, load_scorer("pickscore", tiny.clip), FAST, seeds=[0, 1])
    completions = ["a cat, oil painting", "a cat, watercolor", "a cat"]
    first = reward(["p"] * 3, completions, idea=["a cat"] * 3)
    assert len(first) == 3 and first == reward(["p"] * 3, completions, idea=["a cat"] * 3)
    assert reward.__name__ == "rendered_pickscore"
    mixed = combine([(reward, 1.0), (keeps_idea, 1.0)])(["p"] * 3, completions, idea=["a cat"] * 3)
    assert mixed == pytest.approx([(f + 1.0) / 2 for f in first])
