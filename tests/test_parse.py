from artdirector.parse import parse_modifiers


def test_clean_tags_pass_through_lower_cased():
    p = parse_modifiers(" Oil Painting, by Greg Rutkowski, dramatic lighting, 8k", "a cat")
    assert p.phrases == ["oil painting", "by greg rutkowski", "dramatic lighting", "8k"]
    assert p.rejected == []


def test_drift_into_a_new_turn_is_cut():
    p = parse_modifiers(" watercolor, soft light\nIdea: a dog\nPrompt: a dog, sketch", "a cat")
    assert p.phrases == ["watercolor", "soft light"]


def test_weights_brackets_and_quotes_are_unwrapped():
    p = parse_modifiers(' (masterpiece:1.2), [cinematic], "moody"', "x")
    assert p.phrases == ["masterpiece", "cinematic", "moody"]


def test_garbage_is_rejected():
    text = (" very very very very nice, 360, 100x10, http://x.y, this is a whole sentence that goes on and on,"
            " ###, nude, 24 k")
    p = parse_modifiers(text, "a cat")
    assert p.phrases == []
    assert len(p.rejected) == 8


def test_duplicates_and_the_idea_itself_are_dropped():
    p = parse_modifiers(" a cat, sketch, Sketch, sketch", "a cat")
    assert p.phrases == ["sketch"]


def test_real_numbers_prompt_writers_use_are_kept():
    p = parse_modifiers(" 4k, 8 k, 35mm, 85mm lens, 1980s, 3d render", "x")
    assert p.phrases == ["4k", "8k", "35mm", "85mm lens", "1980s", "3d render"]


def test_diffusiondb_spaced_digits_are_joined_so_the_vocabulary_knows_them():
    p = parse_modifiers(" 8 k, 3 d, 1 9 2 0 s, 3 5 mm, 2 people", "x")
    assert p.phrases == ["8k", "3d", "1920s", "35mm"] and p.rejected == ["2 people"]


def test_a_focal_length_never_starts_with_zero():
    assert parse_modifiers(" 032mm, 105mm", "x").phrases == ["105mm"]


def test_candidates_have_the_common_slips_mended_where_real_prompts_spell_them_so():
    text = " cinematic lightning, red lightning, lightning storm, trending on artstationhq, artstationhd, sci - fi"
    assert parse_modifiers(text, "x", repair=True).phrases == [
        "cinematic lighting", "red lightning", "lightning storm", "trending on artstation hq", "artstation hd",
        "sci-fi"]
    # the user's own text is never changed
    assert parse_modifiers(text, "x").phrases[0] == "cinematic lightning"


def test_a_mended_glued_platform_is_found_redundant_with_the_platform():
    from artdirector.guards import Guards

    phrases = parse_modifiers(" artstation, trending on artstationhq", "a cat", repair=True).phrases
    guards, accepted = Guards("a cat"), []
    assert guards.check(phrases[0], accepted) == (None, None)
    accepted.append(phrases[0])
    assert guards.check(phrases[1], accepted) == (None, "artstation")  # the more precise phrase takes its place
