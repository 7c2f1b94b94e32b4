import math

import numpy as np

from artdirector.lexicon import Associations, build, build_associations


def test_associations_lift_the_phrases_an_ideas_words_go_with_and_leave_out_copies(tmp_path):
    rows = ["a portrait of a woman, by rembrandt, oil painting",
            "portrait of an old man, by rembrandt, dramatic lighting",
            "a castle on a hill, matte painting, dramatic lighting",
            "a castle in the mist, matte painting, by rembrandt",
            "forest at dusk, matte painting, volumetric light"]
    held = "a forest at dawn, oil painting, by rembrandt"  # an evaluation prompt: its near-copies must not count
    source, exclude = tmp_path / "prompts.tsv", tmp_path / "held.tsv"
    source.write_text("prompt\n" + "\n".join([*rows, held, "A forest at dawn, by rembrandt, bokeh"]) + "\n")
    exclude.write_text(f"prompt\n{held}\n")
    build(source, tmp_path, min_count=1, min_phrase_count=1)
    assert build_associations(source, tmp_path, exclude=[exclude], min_pair_count=1) > 0
    table = Associations.from_folder(tmp_path)

    lift = table.lift("portrait of a king", ["by rembrandt", "matte painting", "not a listed phrase"])
    assert lift[0, 0] > 0 > lift[1, 0]  # portraits take rembrandt twice in two, never matte painting
    assert lift[0, 0] == lift[0, 1]  # one known word: the sum is the largest
    assert np.isnan(lift[2]).all()
    assert np.isnan(table.lift("an unknown idea", ["by rembrandt"])).all()
    # Five prompts count, and "forest" only in the one the held-out prompt does not copy: it went with matte
    # painting, and rembrandt never, as if the two copies had not been there.
    assert table.prior[table.phrases["by rembrandt"]] == 3 / 5
    forest = table.lift("forest", ["matte painting", "by rembrandt"])[:, 0]
    assert math.isclose(forest[0], math.log((1 + 3 / 5) / 2) - math.log(3 / 5))
    assert forest[1] < 0
