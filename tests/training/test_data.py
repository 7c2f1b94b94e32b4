"""Prefix extraction and the handling of bad training data."""

import pytest

from artdirector.brief import BadInput
from artdirector.prompting import adapter_prompt
from artdirector.training.data import load_examples


def test_prefix_extraction_and_skips_are_counted_by_reason(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text(
        "prompt\n"
        "a castle on a hill, matte painting, by greg rutkowski\n"  # used
        "just an idea without modifiers\n"  # too few modifiers
        "a castle on a hill, oil painting, dramatic lighting\n"  # used: second prompt of the idea
        "a castle on a hill, watercolor, soft light\n"  # the idea already has two
        f"a dog, {'very long modifier, ' * 40}end\n",  # too long
        encoding="utf-8")
    examples, report = load_examples(path)
    assert [e.idea for e in examples] == ["a castle on a hill", "a castle on a hill"]
    assert examples[0].target == "a castle on a hill, matte painting, by greg rutkowski"
    assert report.skipped == {"fewer than 2 modifiers": 1, "idea already has 2 prompts": 1,
                              "longer than 400 characters": 1}
    assert report.skipped_lines[0] == "line 3: fewer than 2 modifiers"


def test_malformed_jsonl_rows_are_skipped_with_line_numbers(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"prompt": "a red fox, oil painting, golden hour"}\nnot json\n{"text": "x"}\n',
                    encoding="utf-8")
    examples, report = load_examples(path)
    assert len(examples) == 1
    assert report.skipped_lines == ["line 2: not a JSON object", "line 3: no 'prompt' text"]


def test_a_missing_prompt_column_is_a_clear_error(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("caption,score\na cat,3\n", encoding="utf-8")
    with pytest.raises(BadInput, match="no 'prompt' column"):
        load_examples(path)


def test_the_training_frame_is_the_one_the_director_prompts_with():
    assert adapter_prompt("a cat") == "<|im_start|>user\na cat<|im_end|>\n<|im_start|>assistant\n"


def test_retrieval_augmented_examples_show_neighbours_but_never_the_targets_near_copies(tmp_path, minilm):
    from artdirector.library.library import PromptLibrary
    from artdirector.prompting import NEIGHBOURS_HEADER
    from artdirector.training.data import Example, with_neighbours

    target = "a lighthouse in a storm at night, seascape, by ivan aivazovsky, oil on canvas, dramatic"
    src = tmp_path / "lib.tsv"
    src.write_text("prompt\n" + "\n".join([
        target,  # the target itself, in the library it retrieves from
        "a lighthouse in a storm at night, oil painting, 8k",  # its prefix group
        "a lighthouse in a storm at dawn, matte painting",  # its session: the same first six words
        "an old lighthouse on rocks, seascape, by ivan aivazovsky, oil on canvas, dramatic, 8k",  # nearly its modifiers
        "a lighthouse on a cliff, matte painting, dramatic lighting, trending on artstation",
        "a ship in a storm, by ivan aivazovsky, oil on canvas, stormy sea",
        "a lighthouse keeper's (cabin), [gloomy]: 1.2, dark",  # a shape no frame shows
    ]) + "\n")
    library = PromptLibrary(tmp_path / "home", minilm)
    library.ingest(src, "mine")
    [example] = with_neighbours([Example("a lighthouse in a storm at night", target)], library, "mine", 4)
    assert sorted(example.neighbours) == [
        "a lighthouse on a cliff, matte painting, dramatic lighting, trending on artstation",
        "a ship in a storm, by ivan aivazovsky, oil on canvas, stormy sea"]
    frame = adapter_prompt(example.idea, example.neighbours)
    assert frame.startswith("<|im_start|>user\na lighthouse in a storm at night\n" + NEIGHBOURS_HEADER + "\n- ")
    assert frame.endswith("<|im_end|>\n<|im_start|>assistant\n") and "seascape" not in frame
    [one] = with_neighbours([Example("a lighthouse in a storm at night", target)], library, "mine", 1)
    assert one.neighbours == example.neighbours[:1]  # nearest first

    # A run keeps them and reads them back on resume, until the library it searched changes.
    import json

    from artdirector.training.data import NEIGHBOURS, neighboured

    run = tmp_path / "run"
    [kept] = neighboured([Example(example.idea, target)], library, "mine", 4, run)
    assert kept.neighbours == example.neighbours
    saved = json.loads((run / NEIGHBOURS).read_text())
    saved["rows"][0][2] = ["a lighthouse, kept, from the run folder"]
    (run / NEIGHBOURS).write_text(json.dumps(saved))
    assert neighboured([Example(example.idea, target)], library, "mine", 4, run)[0].neighbours == (
        "a lighthouse, kept, from the run folder",)
    more = tmp_path / "more.tsv"
    more.write_text("prompt\na lonely lighthouse under storm clouds, gouache, by winslow homer, moody\n")
    library.ingest(more, "mine")
    [again] = neighboured([Example(example.idea, target)], library, "mine", 4, run)
    assert "a lonely lighthouse under storm clouds, gouache, by winslow homer, moody" in again.neighbours


def test_the_adapter_prompter_reads_as_many_neighbours_as_its_adapter_was_trained_with(tmp_path):
    import json

    from artdirector.library.library import Hit
    from artdirector.prompting import AdapterPrompter, adapter_messages, adapter_neighbours

    (tmp_path / "artdirector-sft.json").write_text(json.dumps({"settings": {"neighbours": 2}}))
    assert adapter_neighbours(tmp_path) == 2
    assert adapter_neighbours(tmp_path / "elsewhere") == 0  # an adapter trained without our recipe: zero-shot
    assert adapter_neighbours(tmp_path / "checkpoint-40") == 2  # a checkpoint of the run
    shown = ["a fox in snow, oil painting, by bruno liljefors, winter", "a wolf, ink wash, moody, misty"]
    hits = [Hit(p, 0.9 - i / 10, "builtin") for i, p in enumerate([shown[0], "a fox, (masterpiece:1.2)", shown[1]])]
    assert AdapterPrompter(2).messages("a red fox", 0, hits) == adapter_messages("a red fox", shown)
    assert AdapterPrompter().messages("a red fox", 0, hits) == [("user", "a red fox")]  # the shipped frame
