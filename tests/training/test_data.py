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
