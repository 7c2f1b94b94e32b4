import pytest

from artdirector.brief import MAX_IDEA_CHARS, BadInput, Direction, check_idea


@pytest.mark.parametrize("raw", ["", "   ", "\t\n  \r"])
def test_empty_ideas_are_refused(raw):
    with pytest.raises(BadInput, match="empty"):
        check_idea(raw)


def test_overlong_idea_is_refused_with_the_limit():
    with pytest.raises(BadInput, match=str(MAX_IDEA_CHARS)):
        check_idea("a" * (MAX_IDEA_CHARS + 1))
    assert check_idea("a" * MAX_IDEA_CHARS).text == "a" * MAX_IDEA_CHARS


def test_control_characters_are_stripped_and_reported():
    idea = check_idea("a cat\x00 in a\x1b garden\u200b")
    assert idea.text == "a cat in a garden"
    assert idea.notes and "U+0000" in idea.notes[0] and "U+001B" in idea.notes[0]


def test_clean_idea_is_kept_verbatim():
    idea = check_idea("  Ein Fuchs im Schnee, très calme  ")
    assert idea.text == "Ein Fuchs im Schnee, très calme"
    assert idea.notes == ()


def test_direction_rejects_unknown_categories():
    with pytest.raises(ValueError, match="unknown categories"):
        Direction(idea="x", parts={"vibes": ["calm"]})


def test_direction_add_skips_repeats_and_words_of_the_idea():
    d = Direction(idea="a lighthouse in a storm")
    assert d.add("lighting", "dramatic lighting")
    assert not d.add("mood", "Dramatic Lighting")  # already said, in another category
    assert not d.add("subject", "storm")  # part of the idea
    assert d.add("subject", "stormy sea")  # a different phrase that merely contains an idea word
    assert d.phrases() == ["stormy sea", "dramatic lighting"]
