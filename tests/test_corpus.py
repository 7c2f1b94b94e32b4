from artdirector.corpus import (
    BUFFER_PARTS,
    HumanPrompt,
    copy_keys,
    in_buffer,
    prompt_modifiers,
    prompt_prefix,
    split_corpus,
    split_of_part,
)
from artdirector.safety import is_unsafe


def test_prefix_and_modifiers():
    p = "A Castle  at dusk, oil painting , by greg rutkowski,, 8k"
    assert prompt_prefix(p) == "a castle at dusk"
    assert prompt_modifiers(p) == ["oil painting", "by greg rutkowski", "8k"]


def test_copy_keys_tie_a_retyped_prompt_and_its_session_but_not_another_idea():
    base = copy_keys("A castle on a hill at dusk, matte painting, 8k")
    assert set(base) & set(copy_keys("a castle on a hill at dusk , oil painting"))  # the same prefix
    assert set(base) & set(copy_keys("a castle on a hill at dawn, matte painting"))  # the same first six words
    assert not set(base) & set(copy_keys("a castle on a cliff at dusk, matte painting, 8k"))


def test_parts_split_in_blocks_with_a_buffer():
    assert split_of_part(10) == "test"
    assert split_of_part(1300) == "validation"
    assert split_of_part(300) == "train"
    assert in_buffer(250 - 1) and in_buffer(250 + BUFFER_PARTS - 1) and not in_buffer(250 + BUFFER_PARTS + 5)


def test_every_prefix_lives_in_one_split():
    rows = [
        HumanPrompt("a red barn, oil", "s", 10),        # test
        HumanPrompt("a red barn, watercolor", "s", 400),  # train, but its prefix is claimed by test
        HumanPrompt("a blue barn, ink", "s", 1300),     # validation
        HumanPrompt("a blue barn, pencil", "s", 600),   # train, claimed by validation
        HumanPrompt("a green barn, pastel", "s", 600),  # train
        HumanPrompt("a nude figure, oil", "s", 600),    # unsafe
        HumanPrompt("a barn at the edge, oil", "s", 251),  # buffer
    ]
    s = split_corpus(rows)
    assert [r.prompt for r in s["test"]] == ["a red barn, oil"]
    assert [r.prompt for r in s["validation"]] == ["a blue barn, ink"]
    assert [r.prompt for r in s["train"]] == ["a green barn, pastel"]


def test_safety_word_list():
    assert is_unsafe("portrait, NSFW, oil") and is_unsafe("naked man") and is_unsafe("nudes")
    assert not is_unsafe("a nuanced landscape") and not is_unsafe("sextant on a table")
