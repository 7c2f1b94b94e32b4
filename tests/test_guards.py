"""The coherence and fidelity guards on the issue's own examples, and the trust metrics that count them."""

import pytest

from artdirector.brief import Direction
from artdirector.evaluation.quality import MALFORMED, prompt_faults, quality, redundant
from artdirector.guards import Guards, admissible, apply_guards, faults, invented, negative_prompt
from artdirector.render import render
from artdirector.selection import select_modifiers


def guarded(idea: str, phrases: list[str], **kw) -> list[str]:
    """What survives of ``phrases`` (ranked best first) when the selection takes them through the guards."""
    return select_modifiers(idea, ", " + ", ".join(phrases), truncated=False, seed=0, **kw).direction.phrases()


def test_no_new_subject_matter_unless_asked():
    tail = ["tomato sauce", "edible flowers", "lazy eyes", "slurping spaghetti", "spaghetti out of nose",
            "food photography", "8k"]
    assert guarded("a plate of pasta with basil", tail) == ["food photography", "8k"]
    assert "tomato sauce" in guarded("a plate of pasta with basil", tail, details=True)
    assert guarded("a red car", ["big hands", "wearing a round helmet", "sharp focus", "cinematic lighting"]) == [
        "sharp focus", "cinematic lighting"]
    assert invented("fire", "two children playing in the snow") == ["fire"]
    assert invented("smooth", "portrait of a woman") == [] and invented("rule of thirds", "a castle") == []
    assert invented("snowy", "a cat") == []  # weather is a look, its own guard keeps it from contradicting
    assert invented("mini-skirt", "a woman walks her dog") == ["mini-skirt"]  # uncategorised and rare: content
    assert invented("ink", "a cat") == [] and invented("godrays", "a cat") == []
    # a genre names the look of the whole picture; a thing's name before "style" brings the thing
    assert invented("steampunk style", "a cat") == [] and invented("samurai style", "a plate of pasta") == ["samurai"]
    # a framing is the director's choice, what it frames may be new matter
    assert invented("close-up", "a cat") == [] and invented("side view", "a car") == []
    assert invented("side table", "a car") == ["table"]
    assert invented("realistic portrait", "a plate of pasta") == ["portrait"]  # a framing that presumes a figure
    # a colour of the subject is subject matter; a colour of the palette or the light is not
    assert invented("black hair", "an old man reading") == ["hair"] and invented("blue eyes", "a cat") == ["eyes"]
    assert invented("red background", "a cat") == [] and invented("golden glow", "a cat") == []
    assert invented("black and white", "a cat") == [] and invented("blue eyes", "a cat with blue eyes") == []


def test_what_the_invented_matter_guard_refuses_is_never_ranked():
    """The guard that needs no other phrase is asked before ranking (``admits``), so the ranking and its budget are
    of phrases that can get in; artists, pinned phrases and --details pass it."""
    assert not admissible("slurping spaghetti", "a plate of pasta with basil")
    assert admissible("food photography", "a plate of pasta with basil") and admissible("greg rutkowski", "a cat")
    assert not Guards("a plate of pasta").admits("tomato sauce")
    assert Guards("a plate of pasta", details=True).admits("tomato sauce")
    assert Guards("a plate of pasta", pinned=["Tomato sauce"]).admits("tomato sauce")

    class Recorder:  # a ranker that keeps the candidates the selection lets it rank
        def rank(self, idea, model_phrases, retrieved, used=None, admits=None):
            from artdirector.library.ranker import Ranking

            self.ranked = [m for m in model_phrases if admits is None or admits(m)]
            return Ranking(self.ranked, [], 2)

    from artdirector.library.library import Hit

    for details, expected in ((False, ["food photography", "8k"]), (True, ["tomato sauce", "food photography", "8k"])):
        recorder = Recorder()
        select_modifiers("a plate of pasta", ", tomato sauce, food photography, 8k", truncated=False, seed=0,
                         retrieved=[Hit("pasta, oil painting", 0.9, "t")], ranker=recorder, details=details)
        assert recorder.ranked == expected


def test_the_medium_follows_the_idea_and_photo_never_mixes():
    photo = guarded("a photo of an old man reading a newspaper",
                    ["lithographic print", "by greg rutkowski", "35mm", "digital painting", "soft light"])
    assert photo == ["soft light", "35mm"]  # in prompt order: lighting, then composition
    assert guarded("a watercolor painting of a harbor at dawn", ["oil painting", "3d render", "soft light",
                                                                  "watercolor"]) == ["soft light"]
    # an illustration takes paint (it sits with any family but photo), and then no 3D beside the paint
    assert guarded("an illustration of a fox", ["digital painting", "dslr photo", "octane render"]) == [
        "digital painting"]
    # an art form is no photograph: "psychedelic art" leaves a photo direction, "fine art photography" stays
    assert guarded("a plate of pasta", ["food photo", "psychedelic art", "fine art photography"]) == [
        "food photo", "fine art photography"]
    # the families the idea names are the user's, even when they would clash with each other
    assert guarded("photo and oil painting of a fox", ["baroque painting", "3d render"]) == ["baroque painting"]
    # no medium in the idea: the best-ranked medium sets the family; photo mixes with nothing, and paint,
    # pencil and 3D not with each other, while illustration (concept art) sits with any of them
    assert guarded("an old lighthouse", ["digital painting", "dslr photograph", "octane render", "concept art",
                                         "pencil sketch"]) == ["digital painting", "concept art"]
    assert guarded("an old lighthouse", ["dslr photograph", "digital painting", "bokeh"]) == ["dslr photograph",
                                                                                              "bokeh"]
    assert guarded("an old lighthouse", ["3d render", "oil on canvas", "octane render"]) == ["3d render",
                                                                                           "octane render"]
    # a painter ranked above any medium: a photo phrase after him would make a photo of a painting
    assert guarded("a lighthouse in a storm", ["by greg rutkowski", "polaroid photo", "oil painting"]) == [
        "oil painting", "greg rutkowski"]


def test_a_stylised_look_and_a_realistic_one_do_not_mix():
    assert guarded("a woman walks her dog", ["vector art", "photorealistic", "flat colors"]) == [
        "vector art", "flat colors"]
    assert guarded("a photo of a cat", ["anime", "hyperrealistic"]) == ["hyperrealistic"]  # a photo is realistic
    assert guarded("an anime girl", ["photorealistic", "cel shaded"]) == ["cel shaded"]  # the idea's look wins


@pytest.mark.parametrize("idea, bad, good", [
    ("a red car", ["blue", "black and white", "teal and orange"], ["red and black", "golden hour"][1:]),
    ("a watercolor painting of a harbor at dawn", ["dusk", "at night", "sunset glow"], ["sunrise"]),
    ("a lighthouse in a storm", ["sunny", "clear sky", "serene mood"], ["fog", "lightning"]),
    ("a serene lake", ["stormy sky"], ["mist"]),
])
def test_no_colour_time_or_weather_that_contradicts_the_idea(idea, bad, good):
    assert guarded(idea, bad + good) == good


def test_black_and_white_and_full_colour_do_not_mix():
    # "four owls ..., nature photography, colorful feathers, black and white" at stop 39
    assert guarded("four owls on a wire", ["nature photography", "colorful feathers", "black and white"]) == [
        "nature photography", "colorful feathers"]
    assert guarded("four owls on a wire", ["black and white", "vibrant colors", "teal and orange", "sepia"]) == [
        "black and white", "sepia"]
    assert guarded("a black and white photo of a cat", ["colorful", "film grain"]) == ["film grain"]
    assert guarded("a lighthouse", ["golden hour", "black and white"]) == ["golden hour", "black and white"]
    fault = Guards("a black and white photo of a cat").check("rainbow colors", [])[0]
    assert fault.guard == "colour" and "the idea is achromatic" in fault.why


def test_nor_one_the_direction_already_took():
    # no time or weather in the idea: the first one taken holds
    assert guarded("a lighthouse", ["dusk", "dramatic sunrise", "starry sky", "moody"]) == ["dusk", "moody"]
    assert guarded("a harbor at dawn", ["starry sky", "sunrise"]) == ["sunrise"]  # a starry sky is night
    assert guarded("a field", ["foggy", "sunny", "snowy"]) == ["foggy", "snowy"]


def test_a_phrase_that_only_says_again_the_ideas_weather_time_or_medium_goes():
    # "two children playing in the snow, snowstorm, snowing, 8k" was the direction before
    assert guarded("two children playing in the snow", ["snowstorm", "snowing", "8k"]) == ["8k"]
    assert guarded("a lighthouse", ["misty", "mist", "dusk"]) == ["misty", "dusk"]  # the direction said it
    # something new about the same weather or time stays: lightning in a storm, sunrise at dawn
    assert guarded("a lighthouse in a storm", ["stormy", "lightning"]) == ["lightning"]
    assert guarded("a harbor", ["sunrise", "misty", "mist", "8k"]) == ["misty", "sunrise", "8k"]
    # a bare medium name after a phrase of its family, or in an idea that names it
    assert guarded("a plate of pasta", ["food photography", "kodachrome film", "photograph"]) == [
        "food photography", "kodachrome film"]
    assert guarded("an oil painting of a harbor", ["painting", "impasto"]) == ["impasto"]
    fault = Guards("two children playing in the snow").check("snowing", [])[0]
    assert fault.guard == "redundant" and "snow" in fault.why


def test_near_duplicates_collapse_to_the_precise_phrase_and_one_resolution_token_stays():
    kept = guarded("a cat", ["artstation", "trending on artstation", "8k", "4k", "cinematic light",
                             "cinematic lighting", "very detailed", "highly detailed", "octane render",
                             "unreal engine"])
    assert set(kept) == {"trending on artstation", "8k", "cinematic light", "very detailed", "octane render"}
    assert set(guarded("a skull", ["hyper realistic", "hyperrealistic", "octante render", "rendered in octane"])) == {
        "hyper realistic", "octante render"}
    assert redundant(["8k", "4k"]) and redundant(["artstation", "trending on artstation"])
    assert not redundant(["8k", "oil painting", "dramatic lighting"])


def test_a_phrase_that_replaces_a_vaguer_one_brings_its_medium():
    # "extremely detailed oil painting" takes the place of "extremely detailed"; the render after it clashes
    assert guarded("a brown frog and a green pond", ["extremely detailed", "perfect digital art",
                                                     "extremely detailed oil painting", "hd octane render"]) == [
        "perfect digital art", "extremely detailed oil painting"]


def test_one_of_each_kind_of_technical_token():
    # one render engine however it is written, one film stock, one "detailed", one mention of each art site
    assert set(guarded("a red car", ["render vray", "3d", "unreal engine render", "ultra detailed",
                                     "artstation highly detailed", "very high detail", "artstation hq",
                                     "trending on artstation", "deviantart"])) == {
        "render vray", "3d", "ultra detailed", "artstation hq", "deviantart"}
    assert set(guarded("a plate of pasta", ["kodachrome", "food photography", "daguerrotype", "overhead shot"])) == {
        "kodachrome", "food photography", "overhead shot"}
    assert redundant(["render vray", "octane render"]) and redundant(["ultra detailed", "highly detailed"])
    assert redundant(["8k hdr", "4k"]) and not redundant(["8k", "hdr lighting"])
    assert not redundant(["render vray", "kodachrome", "highly detailed", "trending on artstation"])
    # the padding of out-of-domain directions at stop 39: an art site or "detailed" said again in other words,
    # realism claimed three ways
    assert set(guarded("a clock tower", ["trending artstation", "featured on artstation", "artstation trend",
                                         "deviantart artstation", "intricate details", "digital art"])) == {
        "digital art", "trending artstation", "intricate details"}
    assert set(guarded("a tornado", ["insanely detailed and intricate", "lots of detail", "detailed and intricate",
                                     "sharp focus"])) == {"insanely detailed and intricate", "sharp focus"}
    assert set(guarded("a fountain", ["photorealistic", "realistic", "hyper realistic", "realistic lighting"])) == {
        "realistic lighting", "photorealistic"}
    assert redundant(["deviantart artstation", "trending on deviantart"])
    assert redundant(["intricate", "highly detailed"])
    assert not redundant(["detailed background", "highly detailed"]) and not redundant(["artstation", "behance"])


def test_a_hand_made_medium_in_the_idea_takes_no_digital_one():
    # "Oil painting in the style of traditional Chinese painting. Digital painting, concept art" at stop 39
    assert set(guarded("Oil painting of a raccoon in a top hat.", ["digital painting", "concept art", "digital art",
                                                                    "impasto"])) == {"concept art", "impasto"}
    assert guarded("a digital painting of a fox", ["oil on canvas", "concept art"]) == ["concept art"]
    assert guarded("a pencil sketch of a cat", ["ink", "vector art"]) == ["ink"]
    # an idea that names neither, or both, leaves the choice to the ranking
    assert set(guarded("a fox", ["oil on canvas", "digital art"])) == {"oil on canvas", "digital art"}
    assert set(guarded("a digital oil painting of a fox", ["impasto", "digital art"])) == {"impasto", "digital art"}
    fault = Guards("a watercolor of a harbor").check("vector art", [])[0]
    assert fault.guard == "medium" and "hand-made" in fault.why


def test_a_painting_movement_is_painting_and_thick_paint_is_no_photorealism():
    assert set(guarded("a plate of pasta", ["food photography", "renaissance", "baroque", "overhead shot"])) == {
        "food photography", "overhead shot"}
    assert set(guarded("a woman walks her dog", ["thick oil paint", "golden hour", "photorealistic"])) == {
        "thick oil paint", "golden hour"}


def test_at_most_three_artists_two_lights_and_two_media():
    kept = guarded("a castle", [f"by {name}" for name in ("greg rutkowski", "wlop", "rossdraws", "artgerm")])
    assert kept == ["greg rutkowski", "wlop", "rossdraws"]
    lights = ["moody lighting", "diffuse lighting", "rim lighting", "8k"]
    assert guarded("a castle", lights) == ["moody lighting", "diffuse lighting", "8k"]
    media = ["digital illustration", "digital painting", "matte painting", "8k"]
    assert guarded("a bookshelf", media) == ["digital illustration", "digital painting", "8k"]


def test_artists_are_written_once_and_fragments_go():
    d = select_modifiers("a castle", ", art by greg rutkowski, and turner, behind, matte painting", truncated=False,
                         seed=0).direction
    assert d.parts == {"medium": ["matte painting"], "artist": ["greg rutkowski"]}
    assert render(d, "sd15").prompt == "a castle, matte painting, by greg rutkowski"
    assert MALFORMED.search("a castle, by art by greg rutkowski") and MALFORMED.search("a walk in the park., 8k")


def test_a_sentence_idea_joins_its_modifiers_cleanly():
    d = Direction("A woman walks her dog in the park.", parts={"medium": ["digital painting"], "booster": ["8k"]})
    assert render(d, "sd15").prompt == "A woman walks her dog in the park. Digital painting, 8k"
    assert not MALFORMED.search(render(d, "sd15").prompt)


def test_the_negative_prompt_opposes_the_directions_medium():
    photo = Direction("a photo of a fox", parts={"lighting": ["soft light"]})
    assert negative_prompt(photo, ["blurry"]) == ["blurry", "painting", "drawing", "illustration", "cartoon",
                                                 "3d render", "cgi"]
    painting = Direction("a fox", parts={"medium": ["oil painting"]})
    assert negative_prompt(painting, ["blurry"]) == ["blurry", "photo", "photograph", "3d render", "cgi"]
    # never what the direction itself says: a user who requires a 3d render in a painting keeps it
    both = Direction("a fox", parts={"medium": ["oil painting", "3d render"]}, pinned={"3d render"})
    assert "3d render" not in negative_prompt(both, [])


def test_prose_for_t5_targets_describes_instead_of_listing():
    d = Direction("a lighthouse in a storm", parts={
        "medium": ["oil painting"], "style": ["ukiyo-e"], "artist": ["hokusai"], "lighting": ["dramatic lighting"],
        "color": ["teal and orange"], "mood": ["moody"], "booster": ["8k", "highly detailed"]})
    assert render(d, "flux").prompt == ("A lighthouse in a storm. An oil painting with a ukiyo-e feel, after "
                                        "Hokusai, with dramatic lighting. A teal and orange palette and a moody "
                                        "atmosphere. Highly detailed.")


def test_pinned_phrases_are_the_users_and_pass_every_guard():
    d = Direction("a red car", parts={"color": ["blue"], "subject": ["fire"]}, pinned={"blue", "fire"})
    notes = []
    assert apply_guards(d, notes) == [] and d.phrases() == ["fire", "blue"] and notes == []
    d = Direction("a red car", parts={"color": ["blue"]})
    assert [f.guard for f in apply_guards(d, notes)] == ["colour"] and "dropped 'blue' (colour)" in notes[0]


def test_trust_metrics_count_what_the_guards_find():
    ideas = ["a red car", "a photo of a dog", "a plate of pasta"]
    added = [["blue", "8k", "4k"], ["oil painting"], ["slurping spaghetti"]]
    prompts = ["a red car, blue, 8k, 4k", "a photo of a dog, oil painting", "a plate of pasta., slurping spaghetti"]
    q = quality(ideas, added, prompts)
    assert q["colour_contradictions"] == 1 and q["redundant_rate"] == pytest.approx(1 / 3)
    assert q["medium_consistency"] == 0.0 and q["invented_rate"] == pytest.approx(1 / 3)
    assert q["malformed_joins"] == 1 and q["distinct_added"] == 1.0
    assert prompt_faults("a red car", ["sharp focus", "8k"]) == set()
    assert faults(Direction("a red car", parts={"color": ["blue"], "booster": ["8k", "4k"]}))[0].guard == "colour"
    assert Guards("a cat").check("8k", ["4k"])[0].guard == "redundant"
