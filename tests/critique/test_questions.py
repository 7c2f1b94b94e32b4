"""DSG-style questions from the idea and the direction, with their dependencies."""

from artdirector.critique.questions import dsg_score, questions_for


def by_text(questions):
    return {q.text: q for q in questions}


def test_entities_attributes_and_relations_of_a_compositional_idea():
    qs = questions_for("a red cube on a blue sphere", {"medium": ["oil painting"], "booster": ["8k"]})
    q = by_text(qs)
    assert list(q) == ["Is there a cube?", "Is the cube red?", "Is there a sphere?", "Is the sphere blue?",
                       "Is the cube on the sphere?", "Is this an oil painting?"]  # boosters are not visible facts
    assert q["Is the cube red?"].parents == (q["Is there a cube?"].id,)
    assert q["Is the cube on the sphere?"].parents == (q["Is there a cube?"].id, q["Is there a sphere?"].id)
    assert q["Is the cube on the sphere?"].phrase == "red cube on blue sphere"
    assert q["Is this an oil painting?"].category == "medium"


def test_counts_plurals_frames_and_multiword_relations():
    q = by_text(questions_for("a photo of three green apples next to a yellow banana"))
    assert "Are there 3 apples?" in q and q["Are the apples green?"].phrase == "green apples"
    assert "Are the apples next to the banana?" in q
    assert not any("photo" in text for text in q)  # the frame is not an entity
    assert [x.element for x in questions_for("an astronaut riding a horse") if x.category == "relation"] == [
        "astronaut riding horse"]
    assert [x.text for x in questions_for("a pair of red shoes")] == ["Are there shoes?", "Are there 2 shoes?",
                                                                      "Are the shoes red?"]


def test_a_child_counts_only_when_its_parent_holds():
    qs = questions_for("a red cube")  # "Is there a cube?", "Is the cube red?"
    assert dsg_score(qs, [1.0, 1.0]) == 1.0
    assert dsg_score(qs, [0.2, 0.9]) == 0.1  # no cube: its colour counts 0, not 0.9
    assert dsg_score(qs, [0.9, 0.2]) == (0.9 + 0.2) / 2
