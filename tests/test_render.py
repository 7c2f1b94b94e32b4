import random

import pytest

from artdirector.brief import BadInput, Direction
from artdirector.render import DROP_ORDER, LIVING, SCENERY, TARGETS, add_motion, get_target, motion_for, render
from artdirector.tokens import clip_token_count


def rich_direction(idea="a lighthouse in a storm"):
    return Direction(
        idea=idea,
        parts={
            "subject": ["crashing waves", "rocky cliff"],
            "medium": ["oil painting", "matte painting"],
            "style": ["romanticism", "hudson river school"],
            "artist": ["ivan aivazovsky", "greg rutkowski", "caspar david friedrich"],
            "lighting": ["dramatic lighting", "god rays", "volumetric lighting"],
            "color": ["teal and orange", "muted colors"],
            "composition": ["wide angle", "low angle shot", "rule of thirds"],
            "mood": ["ominous", "epic", "cinematic"],
            "booster": ["highly detailed", "trending on artstation", "8k", "sharp focus", "masterpiece"],
        },
        negative=["blurry", "lowres"],
    )


def test_sd15_fits_77_clip_tokens_by_dropping_lowest_priority_first():
    d = rich_direction()
    full = ", ".join([d.idea, *d.phrases()])
    assert clip_token_count(full) > 77  # the test only means something if the direction is over budget
    r = render(d, "sd15")
    assert r.tokens <= 77 and clip_token_count(r.prompt) == r.tokens
    assert r.prompt.startswith("a lighthouse in a storm, crashing waves")
    assert r.dropped, "something had to go"
    # Boosters go before moods, moods before colours...: every dropped phrase's category ranks no higher
    # than any kept phrase's category.
    rank = {c: i for i, c in enumerate(DROP_ORDER)}
    cat = {p: c for c, ps in d.parts.items() for p in ps}
    kept = [p for p in d.phrases() if p not in r.dropped]
    assert max(rank[cat[p]] for p in r.dropped) <= min(rank[cat[p]] for p in kept)
    assert "masterpiece" in r.dropped  # the last booster goes first
    for p in r.dropped:
        assert p not in r.prompt.split(", ")


def test_sd15_renders_artists_with_by():
    r = render(Direction(idea="a cat", parts={"artist": ["alphonse mucha"]}), "sd15")
    assert r.prompt == "a cat, by alphonse mucha"
    assert r.dropped == []


def test_a_lone_modifier_among_the_subject_details_is_a_mood_tag_not_the_first_word():
    d = Direction("A woman walks her dog in the park.", parts={
        "subject": ["artistic", "red leash"], "medium": ["thick oil paint"], "booster": ["detailed"]})
    assert render(d, "sd15").prompt == ("A woman walks her dog in the park. Red leash, thick oil paint, artistic, "
                                        "detailed")


def test_idea_over_budget_is_never_cut_and_is_reported():
    idea = " ".join(["an enormous baroque cathedral"] * 25)
    r = render(Direction(idea=idea, parts={"booster": ["8k"]}), "sd15")
    assert r.prompt == idea  # the booster was dropped, the idea kept whole
    assert r.over_budget and r.dropped == ["8k"]
    assert any("not shortened" in n for n in r.notes)


def test_a_mass_noun_medium_takes_no_article_beside_one_that_does():
    direction = Direction(idea="a plate of pasta", parts={"medium": ["food photography", "macro photograph"]})
    assert render(direction, "flux").prompt.startswith("A plate of pasta. Food photography and a macro photograph.")


def test_prose_says_what_a_picture_was_shot_on_and_names_the_kind_of_light():
    # "Food photography and a kodachrome film", "An oil painting, with golden hour" were the prose before
    pasta = Direction("a plate of pasta with basil", {"medium": ["food photography", "kodachrome film"]})
    assert render(pasta, "flux").prompt == "A plate of pasta with basil. Food photography, shot on Kodachrome film."
    snap = Direction("a cat", {"medium": ["polaroid photo"], "lighting": ["golden hour", "rim light"]})
    assert render(snap, "flux").prompt == "A cat. Shot on Polaroid, with rim light and a golden hour light."
    # a time of day of two words sets the scene as a clause: not "with night time"
    assert render(Direction("a man in a hammock", {"subject": ["night time"]}), "flux").prompt == (
        "A man in a hammock at night.")


def test_sdxl_uses_the_same_budget_as_both_clip_encoders():
    r = render(rich_direction(), "sdxl")
    assert r.budget == 77 and r.tokens <= 77


def test_flux_reads_as_prose():
    r = render(rich_direction(), "flux")
    assert r.prompt.startswith("A lighthouse in a storm, with crashing waves and rocky cliff. An oil painting and "
                               "a matte painting")  # sentences that describe, an article for each medium
    assert "after Ivan Aivazovsky, Greg Rutkowski and Caspar David Friedrich, with dramatic lighting" in r.prompt
    assert "an ominous, epic and cinematic atmosphere" in r.prompt  # artists as names, light in the look sentence
    assert r.prompt.count(".") >= 4 and r.prompt.endswith(".") and "8k" not in r.prompt
    assert r.negative_prompt == ""  # FLUX takes no negative prompt, and says so
    assert any("no negative prompt" in n for n in r.notes)
    assert r.tokens <= TARGETS["flux"].budget and r.dropped == []


def test_sd3_reads_the_same_prose_and_takes_the_negative_prompt():
    from artdirector.imaging.diffusers_backend import target_for

    direction = rich_direction()
    r = render(direction, "sd3")
    assert r.prompt == render(direction, "flux").prompt and r.budget == 256
    assert r.negative_prompt and not any("no negative prompt" in n for n in r.notes)
    assert target_for("StableDiffusion3Pipeline") == "sd3" and target_for("FluxPipeline") == "flux"


def test_flux_prose_reads_as_sentences_a_person_would_write():
    d = Direction("A woman walks her dog in the park.", {"medium": ["vector art"], "style": ["constructivism"],
                                                          "artist": ["vincent van gogh"], "lighting": ["backlight"],
                                                          "mood": ["concept art"]})
    assert render(d, "flux").prompt == ("A woman walks her dog in the park. Vector art with a constructivism and "
                                        "concept art feel, after Vincent van Gogh, with backlight.")
    photo = Direction("a plate of pasta with basil", {"medium": ["professional photo"],
                                                      "lighting": ["studio lighting"], "booster": ["4k", "detailed"]})
    assert render(photo, "flux").prompt == ("A plate of pasta with basil. A professional photo, with studio "
                                            "lighting. Detailed.")
    car = Direction("a red car", {"medium": ["concept art"], "style": ["art nouveau", "artstation hq"]})
    assert render(car, "flux").prompt == "A red car. Concept art with an art nouveau feel."
    assert render(Direction("a red car", {"style": ["art nouveau"]}), "flux").prompt == (
        "A red car. In an art nouveau style.")
    # a genre is the medium where none is named: "In a concept art style. Deep focus." was the red car's
    genre = Direction("a red car", {"mood": ["concept art"], "style": ["cyberpunk"], "composition": ["deep focus"]})
    assert render(genre, "flux").prompt == "A red car. Concept art with a cyberpunk feel. Deep focus."
    sloth = Direction("a sloth", {"medium": ["painting by van gogh", "sticker"]})
    assert render(sloth, "flux").prompt == "A sloth. A painting by Van Gogh and a sticker."


def test_flux_prose_sets_a_time_or_weather_detail_as_the_scene_and_a_lone_modifier_as_a_tag():
    d = Direction("a harbor", {"subject": ["fishing boats", "dusk", "clean"], "medium": ["oil painting"]})
    assert render(d, "flux").prompt == "A harbor, with fishing boats at dusk. An oil painting. Clean."
    assert render(Direction("a harbor", {"subject": ["foggy"]}), "flux").prompt == "A harbor on a foggy day."
    assert render(Direction("a harbor.", {"subject": ["rain"]}), "flux").prompt == "A harbor in the rain."
    # An adjective is no thing to be "with", whatever its share: "with artistic" was the woman-and-dog prose.
    walk = Direction("A woman walks her dog in the park.", {"subject": ["artistic"], "medium": ["thick oil paint"]})
    assert render(walk, "flux").prompt == "A woman walks her dog in the park. Thick oil paint. Artistic."
    assert render(Direction("a shelf", {"subject": ["crystal"]}), "flux").prompt == "A shelf, with crystal."
    # "with sun" was the woman-and-dog prose; a renderer's name is no description ("Render vray." was the red car's)
    sunny = Direction("a woman walks her dog", {"subject": ["sun"], "booster": ["render vray", "ultra detailed"]})
    assert render(sunny, "flux").prompt == "A woman walks her dog in the sun. Ultra detailed."
    # nor is the engine filed as a style ("The grand canyon. In an octane style, ..." at stop 39)
    canyon = Direction("the grand canyon", {"style": ["octane", "surreal"], "lighting": ["moody lighting"]})
    assert render(canyon, "flux").prompt == "The grand canyon. In a surreal style, with moody lighting."


def test_prose_begins_a_sentence_with_a_capital_and_keeps_the_case_of_a_name():
    assert render(Direction("a red car", {}), "flux").prompt == "A red car."
    assert render(Direction("iPhone on a desk", {}), "flux").prompt == "iPhone on a desk."
    assert render(Direction("a red car", {}), "sd15").prompt == "a red car"  # tags keep the idea as it was typed


def test_video_puts_motion_right_after_the_idea():
    d = rich_direction()
    d.parts.update(motion=["rolling waves"], camera=["slow dolly in"], pacing=["slow motion"])
    r = render(d, "video")
    assert r.prompt.startswith("a lighthouse in a storm, crashing waves, rocky cliff, rolling waves, "
                               "slow dolly in, slow motion")
    assert r.tokens <= 77


def test_motion_is_not_rendered_for_still_targets():
    d = Direction(idea="a cat", parts={"camera": ["slow pan left"]})
    assert render(d, "sd15").prompt == "a cat"


def test_negative_prompt_fits_too():
    d = Direction(idea="a cat", negative=[f"bad thing number {i}" for i in range(40)])
    r = render(d, "sd15")
    assert clip_token_count(r.negative_prompt) <= 77
    assert any("negative prompt shortened" in n for n in r.notes)


def test_unknown_target_lists_valid_ones():
    with pytest.raises(BadInput, match="sd15, sdxl, flux, sd3, video"):
        get_target("midjourney")


def test_video_moves_what_the_idea_does_at_a_pace_that_suits_it():
    # the dog's fur and a timelapse were the woman-and-dog video's; walking is what moves
    assert motion_for("A woman walks her dog in the park.") == ("natural walking motion", LIVING)
    assert motion_for("a horse galloping on a beach")[0] == "dynamic running motion"
    assert motion_for("a cat")[0] == "natural animal movement, fur moving"
    assert motion_for("clouds over a city at night")[1] == SCENERY
    for seed in range(20):  # never a timelapse of a walk, of a plate of food
        for idea in ("A woman walks her dog in the park.", "a plate of pasta with basil"):
            d = Direction(idea, {})
            add_motion(d, random.Random(seed))
            assert d.parts["pacing"] != ["timelapse"]


def test_a_colour_phrase_that_names_a_thing_is_no_palette():
    # "A colorful feathers and black and white palette." was the owls' prose at stop 39
    owls = Direction("four owls", {"color": ["colorful feathers", "deep blue", "pastel"]})
    assert render(owls, "flux").prompt == "Four owls. Colorful feathers and a deep blue and pastel palette."
