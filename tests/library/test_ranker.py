"""The learned phrase ranker: its budget, its features, the shipped model, and ``train ranker`` end to end."""

import json
from pathlib import Path

import numpy as np
import pytest

from artdirector.errors import BadInput
from artdirector.library.library import Hit
from artdirector.library.ranker import (
    EXPECTED_COUNT_SHARE,
    FEATURES,
    MIN_BUDGET,
    SOFT,
    PhraseVectors,
    Ranker,
    Vote,
    candidate_features,
    expected_f1_budget,
    far,
    far_relatedness,
)
from artdirector.library.retrieval import modifier_budget, specificity, vote
from artdirector.lm.dummy import DummyLM
from artdirector.vocab import classify

ROOT = Path(__file__).resolve().parents[2]
# Ideas whose nearest human idea in the built-in library is close, and far ones (whose candidates are weighed by
# relatedness to the idea).
CLOSE = ("portrait of an old fisherman", "a beautiful landscape painting of mountains")
FAR = ("a rocking chair next to the net of a tennis court", "three cups and a phone on a wooden table")


def test_the_budget_takes_the_phrases_that_raise_expected_f1():
    # k=2: 2 * 1.7 / (2 + 3) = 0.68 beats k=1 (0.45), k=3 (0.60) and k=4 (0.54)
    assert expected_f1_budget([0.9, 0.8, 0.1, 0.05], 3, 1, 8) == 2
    assert expected_f1_budget([0.9, 0.8, 0.1, 0.05], 3, 3, 8) == 3  # never fewer than asked
    assert expected_f1_budget([0.9, 0.9, 0.9, 0.9, 0.9], 3, 1, 4) == 4  # nor more
    assert expected_f1_budget([0.9, 0.9, 0.9, 0.9, 0.9], 3, 1, 8) == 5  # sure phrases: all of them


def hits():
    return [Hit("a castle at dusk, oil painting, by thomas cole, golden hour", 0.9, "t"),
            Hit("an old castle, oil painting, dramatic lighting", 0.8, "t"),
            Hit("a castle on a lake, matte painting, golden hour, 8k", 0.5, "t")]


@pytest.mark.slow
def test_features_say_who_vouches_for_each_phrase(minilm):
    phrases, rows, expected, related = candidate_features("a castle at sunset", ["oil painting", "zzq"], hits(),
                                                          PhraseVectors(minilm))
    # what the guards refuse gets no row, but the artists' relatedness is the whole pool's all the same
    fewer = candidate_features("a castle at sunset", ["oil painting", "zzq"], hits(), PhraseVectors(minilm),
                               admits=lambda m: m != "golden hour")
    assert "golden hour" not in fewer[0] and fewer[3] == pytest.approx(related) and 0 < related < 1
    f = {name: dict(zip(phrases, rows[:, i])) for i, name in enumerate(FEATURES)}
    assert rows.shape == (len(phrases), len(FEATURES)) and set(phrases) >= {"oil painting", "golden hour", "zzq"}
    assert phrases.count("oil painting") == 1  # the model's phrase joins the retrieved one
    assert f["use_share"]["oil painting"] == pytest.approx(2 / 3)
    assert f["vote_share"]["golden hour"] == pytest.approx((0.9 + 0.5) / 2.2, abs=1e-6)
    assert f["in_top1"]["by thomas cole"] == 1 and f["in_top1"]["8k"] == 0
    assert f["by_model"]["zzq"] == 1 and f["use_share"]["zzq"] == 0 and f["by_model"]["8k"] == 0
    assert f["model_rank"]["oil painting"] == 1 and f["model_rank"]["zzq"] == 0.5
    assert f["category_medium"]["oil painting"] == 1 and f["category_booster"]["8k"] == 1
    # "matte painting" is near "oil painting" for the embedder or not; either way the soft vote holds the exact one
    assert f["soft_vote_share"]["oil painting"] >= f["vote_share"]["oil painting"]
    assert expected == pytest.approx(np.mean([3, 2, 3]))
    # The shipped counts: castle ideas take golden hour more often than prompts at large, and zzq is no listed phrase
    assert f["word_lift_max"]["golden hour"] > 0 and f["word_lift_sum"]["golden hour"] > 0
    assert np.isnan(f["word_lift_max"]["zzq"]) and np.isnan(f["word_lift_sum"]["zzq"])


@pytest.mark.slow
def test_the_shipped_ranker_collapses_near_duplicates_and_sizes_the_direction(minilm):
    from artdirector.library.library import PromptLibrary
    from artdirector.library.retrieval import retrieve

    ranker = Ranker.default(minilm)
    assert ranker is not None, "the package ships a ranker"
    library = PromptLibrary.default(minilm)
    for idea in CLOSE:
        retrieved = retrieve(library, "builtin", idea)
        assert not far(retrieved)
        ranking = ranker.rank(idea, ["cinematic lighting", "cinematic light", "8k"], retrieved)
        vecs = minilm.encode(ranking.phrases)
        sims = vecs @ vecs.T - 2 * np.eye(len(vecs))
        assert sims.max() < SOFT  # no two phrases that would match the same human phrase
        assert not {"cinematic lighting", "cinematic light"} <= set(ranking.phrases)
        # best first: probability, weighed by specificity ** variety
        weighed = [p * specificity(m) ** ranker.variety for m, p in zip(ranking.phrases, ranking.probs)]
        assert weighed == sorted(weighed, reverse=True)
        assert MIN_BUDGET <= ranking.budget <= modifier_budget(retrieved)
        # an earlier candidate's phrases are voted down for the next one
        again = ranker.rank(idea, ["8k"], retrieved, used={ranking.phrases[0]: 1})
        assert again.phrases[0] != ranking.phrases[0]


@pytest.mark.slow
def test_what_the_guards_refuse_is_neither_ranked_nor_counted_in_the_budget(minilm):
    from artdirector.library.library import PromptLibrary
    from artdirector.library.retrieval import retrieve

    library = PromptLibrary.default(minilm)
    for ranker in (Ranker.default(minilm), Vote(minilm)):
        for idea in (CLOSE[0], FAR[0]):
            retrieved = retrieve(library, "builtin", idea)
            every = ranker.rank(idea, ["cinematic lighting", "8k"], retrieved)
            refused = set(every.phrases[:2])
            some = ranker.rank(idea, ["cinematic lighting", "8k"], retrieved,
                               admits=lambda m, refused=refused: m not in refused)
            assert not refused & set(some.phrases)
            # the rest keep their order (phrases the refused ones had collapsed may come in)
            assert [m for m in every.phrases if m in some.phrases] == [m for m in some.phrases if m in every.phrases]
            assert len(some.phrases) >= len(every.phrases) - 2
            if isinstance(ranker, Ranker):  # the budget is of what can get in
                assert some.budget == expected_f1_budget(some.probs, candidate_features(
                    idea, ["cinematic lighting", "8k"], retrieved, ranker.embed)[2] * EXPECTED_COUNT_SHARE, MIN_BUDGET,
                    modifier_budget(retrieved))


def test_a_folder_that_is_no_ranker_is_refused(tmp_path):
    class Embedder:
        name = "e"

    with pytest.raises(BadInput, match="no ranker folder"):
        Ranker.from_folder(tmp_path, Embedder())
    (tmp_path / "ranker.txt").write_text("tree\n")
    (tmp_path / "ranker.json").write_text(json.dumps({"features": ["other"]}))
    with pytest.raises(BadInput, match="no ranker folder|other features"):
        Ranker.from_folder(tmp_path, Embedder())


@pytest.mark.slow
def test_train_ranker_learns_what_humans_add_and_resumes(tmp_path, minilm):
    """Trained on 80 real validation prompts with a model that always writes one made-up phrase, the ranker
    learns that the made-up phrase is not what people add, and a second run reads the journalled answers."""
    from artdirector.director import ArtDirector
    from artdirector.library.library import PromptLibrary
    from artdirector.readers import read_texts
    from artdirector.training.ranker import train_ranker
    from artdirector.training.settings import RankerSettings

    data = tmp_path / "prompts.tsv"
    data.write_text("prompt\n" + "\n".join(read_texts(ROOT / "data/splits/validation.tsv")[:160]) + "\n")
    library = PromptLibrary.default(minilm)
    lm = DummyLM({}, default=" zzq glow, highly detailed\n")
    director = ArtDirector(lm, library=library, tuned=True)
    settings = RankerSettings(data=str(data), out=str(tmp_path / "out"), limit=80, trees=30, min_leaf=5, chunk=16)
    summary = train_ranker(settings, director)
    assert summary["ideas"] == 80 and 0 < summary["positive_share"] < 0.5
    assert len(lm.calls) == 80
    ranker = Ranker.from_folder(tmp_path / "out", minilm, variety=0.0)  # the order it learned, nothing else
    assert json.loads((tmp_path / "out" / "ranker.json").read_text())["settings"]["trees"] == 30
    idea = CLOSE[0]
    # "zzq glow" adds matter no idea names: the trainer learnt nothing from it, and the director never ranks it
    from artdirector.guards import Guards

    assert not Guards(idea).admits("zzq glow")
    ranking = ranker.rank(idea, ["zzq glow", "highly detailed"], director.retrieve(idea), admits=Guards(idea).admits)
    assert "zzq glow" not in ranking.phrases and ranking.phrases
    # the shipped variety lifts phrases no prompt uses, but not into the direction

    lm.calls.clear()
    (tmp_path / "out" / "ranker.txt").unlink()
    with (tmp_path / "out" / "answers.jsonl").open("a") as f:
        f.write('{"idea": "a half-written li')  # a kill mid-line
    train_ranker(settings, director)
    assert lm.calls == []  # every answer came from the journal
    again = Ranker.from_folder(tmp_path / "out", minilm, variety=0.0)
    assert again.rank(idea, ["zzq glow", "highly detailed"], director.retrieve(idea),
                      admits=Guards(idea).admits).phrases == ranking.phrases


@pytest.mark.slow
def test_answers_of_another_model_are_not_reused(tmp_path, minilm):
    from artdirector.director import ArtDirector
    from artdirector.library.library import PromptLibrary
    from artdirector.training.ranker import answers

    library = PromptLibrary.default(minilm)
    first = DummyLM({}, default=" oil painting\n")
    idea = "a red fox in snow"
    hits = {idea: library.search(idea, k=4, collection="builtin")}
    answers(ArtDirector(first, library=library, tuned=True), [idea], hits, tmp_path, 8)

    class Other(DummyLM):
        name = "other"

    second = Other({}, default=" watercolor\n")
    assert answers(ArtDirector(second, library=library, tuned=True), [idea], hits, tmp_path, 8) == [
        (" watercolor", False)]
    assert len(second.calls) == 1


@pytest.mark.slow
def test_far_ideas_get_phrases_related_to_the_idea(minilm, monkeypatch):
    from artdirector.library import ranker as ranker_module
    from artdirector.library.library import PromptLibrary
    from artdirector.library.retrieval import retrieve

    ranker, library = Ranker.default(minilm), PromptLibrary.default(minilm)

    def related(phrases, idea):
        vecs = minilm.encode([idea, *phrases[:6]])
        return float((vecs[1:] @ vecs[0]).mean())

    for idea in FAR:
        retrieved = retrieve(library, "builtin", idea)
        assert far(retrieved)
        ranking = ranker.rank(idea, [], retrieved)
        assert ranking.probs and MIN_BUDGET <= ranking.budget <= modifier_budget(retrieved)  # learned, sized
        vecs = minilm.encode([idea, *ranking.phrases])
        assert (vecs[1:] @ vecs[1:].T - 2 * np.eye(len(ranking.phrases))).max() < SOFT
        # best first: probability, weighed by specificity ** variety and by relatedness ** FAR_RELEVANCE (an
        # artist's relatedness is the pool's median, not its name's cosine: see the test below)
        weighed = [p * specificity(m) ** ranker.variety * max(float(v @ vecs[0]), 0.0) ** ranker_module.FAR_RELEVANCE
                   for m, p, v in zip(ranking.phrases, ranking.probs, vecs[1:]) if classify(m) != "artist"]
        assert weighed == pytest.approx(sorted(weighed, reverse=True))
        with monkeypatch.context() as m:
            m.setattr(ranker_module, "FAR_RELEVANCE", 0.0)
            unweighed = ranker.rank(idea, [], retrieved)
        assert related(ranking.phrases, idea) > related(unweighed.phrases, idea) + 0.02
        # the hand-set vote (--ranker vote) weighs a far idea's phrases by relatedness too
        voted = Vote(minilm).rank(idea, [], retrieved)
        plain = vote([], retrieved, limit=None, variety=ranker.variety)
        assert set(voted.phrases) < set(plain)  # the same pool, near-duplicates collapsed
        assert related(voted.phrases, idea) > related(plain, idea) + 0.02


def test_an_artists_name_is_no_sign_of_how_related_it_is():
    rows = np.zeros((4, len(FEATURES)), np.float32)
    rows[:, FEATURES.index("idea_cosine")] = [0.9, 0.2, 0.4, -0.1]
    rows[0, FEATURES.index("category_artist")] = 1.0  # an artist whose name reads like the idea ("lisa" for a woman)
    assert far_relatedness(rows, 0.2).tolist() == pytest.approx([0.2, 0.2, 0.4, 0.0])  # the pool's median; clipped


@pytest.mark.slow
def test_a_far_sentence_idea_gets_no_artist_for_the_letters_of_its_name(minilm):
    from artdirector.library.library import PromptLibrary
    from artdirector.library.retrieval import retrieve

    idea = "A woman walks her dog in the park."
    retrieved = retrieve(PromptLibrary.default(minilm), "builtin", idea)
    ranking = Ranker.default(minilm).rank(idea, [], retrieved)
    assert far(retrieved) and "by lisa yuskavage" in ranking.phrases  # the pool holds her
    assert "by lisa yuskavage" not in ranking.phrases[:ranking.budget]  # first, by her name's cosine, until stop 38


def test_a_pool_not_close_to_the_idea_lends_it_no_genre_it_does_not_name(minilm):
    pool = [Hit("a dragon over a castle, fantasy art, soft lighting, 8k", 0.45, "t"),
            Hit("a neon street at night, cyberpunk, soft lighting, sci-fi", 0.4, "t")]
    distant = Vote(minilm).rank("a pillow on a nightstand", [], pool).phrases
    assert "soft lighting" in distant and not {"fantasy art", "cyberpunk", "sci-fi"} & set(distant)
    assert "fantasy art" in Vote(minilm).rank("a fantasy pillow on a nightstand", [], pool).phrases
    close = [Hit(h.prompt, 0.8, "t") for h in pool]  # close neighbours vouch for their genre
    assert "fantasy art" in Vote(minilm).rank("a pillow on a nightstand", [], close).phrases
    ranker = Ranker.default(minilm)
    distant = ranker.rank("a pillow on a nightstand", [], pool).phrases
    assert "soft lighting" in distant and not {"fantasy art", "cyberpunk", "sci-fi"} & set(distant)
    assert "fantasy art" in ranker.rank("a pillow on a nightstand", [], close).phrases
    # neighbours close enough for the learned ranker, but not very close, do not vouch for theirs either
    middling = [Hit(h.prompt, 0.65, "t") for h in pool]
    assert not far(middling)
    middling_phrases = ranker.rank("a pillow on a nightstand", [], middling).phrases
    assert "soft lighting" in middling_phrases and not {"fantasy art", "cyberpunk", "sci-fi"} & set(middling_phrases)
    # a close prompt vouches for its own genre, not for those of the farther ones beside it
    mixed = [Hit("a red car, concept art, 8k", 0.77, "t"), Hit("a red robot, sci-fi concept art, octane", 0.5, "t")]
    phrases = ranker.rank("a red car", [], mixed).phrases
    assert "concept art" in phrases and "sci-fi concept art" not in phrases
    mixed[0] = Hit("a red car, sci-fi, 8k", 0.77, "t")
    assert "sci-fi concept art" in ranker.rank("a red car", [], mixed).phrases


@pytest.mark.slow
def test_variety_holds_generic_phrases_back(minilm):
    from artdirector.lexicon import phrase_share
    from artdirector.library.library import PromptLibrary
    from artdirector.library.retrieval import retrieve

    library = PromptLibrary.default(minilm)

    def generic(ranker, idea):
        ranking = ranker.rank(idea, ["highly detailed", "8k"], retrieve(library, "builtin", idea))
        # how generic the top ten are, the better ranked counting more
        return sum(phrase_share(m) / (1 + pos) for pos, m in enumerate(ranking.phrases[:10]))

    for idea in CLOSE + FAR:
        for kind in (Ranker.default, Vote):
            assert generic(kind(minilm, variety=1.0), idea) < generic(kind(minilm, variety=0.0), idea)


def test_training_leaves_the_ideas_near_copies_out_of_its_pool(tmp_path, minilm):
    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items
    from artdirector.library.library import PromptLibrary
    from artdirector.training.data import held_out

    target = "a lighthouse in a storm at night, seascape, by ivan aivazovsky, oil on canvas, dramatic"
    src = tmp_path / "lib.tsv"
    src.write_text("prompt\n" + "\n".join([
        target,
        "A Lighthouse in a Storm at Night, oil painting, 8k",  # its prefix group
        "a lighthouse in a storm at dawn, matte painting",  # the same first six words: its session
        # nearly its modifiers
        "an old lighthouse on rocks under heavy rain, seascape, by ivan aivazovsky, oil on canvas, dramatic, 8k",
        "a lighthouse on a cliff, matte painting, dramatic lighting",
        "a ship in a storm, by ivan aivazovsky, oil on canvas",
    ]) + "\n")
    library = PromptLibrary(tmp_path / "home", minilm)
    library.ingest(src, "mine")
    director = ArtDirector(DummyLM({}, default=" 8k\n"), library=library, collection="mine", tuned=True)
    item = prefix_items([target], limit=None, seed=0)[0][0]
    assert len(director.retrieve(item.idea)) == 6
    assert sorted(h.prompt for h in held_out(library, "mine", item.idea, item.prompt)) == [
        "a lighthouse on a cliff, matte painting, dramatic lighting",
        "a ship in a storm, by ivan aivazovsky, oil on canvas"]
