import pytest

from artdirector.vocab import CATEGORIES, category_vocab, classify, negative_vocab, vocabulary


def test_every_category_but_subject_has_vocabulary():
    for category in CATEGORIES:
        if category != "subject":
            assert len(category_vocab(category)) >= 20, category


def test_category_vocab_is_most_used_first():
    artists = category_vocab("artist")
    assert artists[0].phrase == "greg rutkowski"  # the most used artist in DiffusionDB
    weights = [e.weight for e in artists]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize("phrase, category", [
    ("greg rutkowski", "artist"),
    ("by some unknown painter", "artist"),
    ("oil painting", "medium"),
    ("cyberpunk", "style"),
    ("volumetric lighting", "lighting"),
    ("teal and orange tones", "color"),
    ("wide angle shot", "composition"),
    ("eerie", "mood"),
    ("trending on artstation", "booster"),
    ("8k", "booster"),
    ("a red scarf on a hook", "color"),
    ("flower field", "subject"),
    # look words no list claims, frequent in human prompts: they are no subject details
    ("chiaroscuro", "lighting"),
    ("art station", "booster"),
    ("smooth", "booster"),
    ("deep focus", "composition"),
    ("film grain", "medium"),
    ("ominous", "mood"),
    ("manga", "style"),  # "a suitcase on the left of a girl, with manga" was the prose when it was subject matter
    ("comic book", "medium"),
    # ... while the same words about the subject stay subject matter
    ("sharp teeth", "subject"),
    ("smooth skin", "subject"),
])
def test_classify(phrase, category):
    assert classify(phrase) == category


def test_vocabulary_is_lower_case_and_negative_list_loads():
    assert all(k == k.lower() for k in vocabulary())
    assert "blurry" in negative_vocab()
