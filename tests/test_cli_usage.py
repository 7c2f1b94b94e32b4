"""Usage errors the CLI refuses in-process, before any model loads."""

import pytest
from click.testing import CliRunner

from artdirector.cli import main


@pytest.mark.parametrize("args, message", [
    (["direct", "a cat", "--seed", "-5"], "-5 is not in the range x>=0"),
    (["generate", "a cat", "--image-model", "x", "--seed", "-1"], "not in the range x>=0"),
    (["direct", "a cat", "--n", "0"], "0 is not in the range x>=1"),
    (["direct", "a cat", "--steer", "-1"], "not in the range x>=0"),
    (["direct", "a cat", "--variety", "3"], "not in the range 0<=x<=2"),
    (["direct", "a cat", "--target", "dalle"], "'dalle' is not one of"),
    (["direct", "a cat", "--decoding", "neurologic"], "needs a constraint"),
    (["direct", "a cat", "--include", "teal", "--exclude", "teal"], "both required and excluded"),
    (["direct", "a cat", "--backend", "vllm"], "'vllm' is not one of"),
    (["generate", "a cat", "--image-model", "x", "--width", "4"], "not in the range x>=8"),
    (["generate", "a cat", "--image-model", "x", "--score", "dall-e"], "unknown scorer"),
    (["generate", "a cat", "--image-model", "x", "--score", "clip", "--rank-by", "hps"], "not among"),
    (["train", "sft", "--data", __file__, "--out", "x", "--seed", "-3"], "not in the range x>=0"),
    (["train", "rl", "--data", __file__, "--out", "x", "--reward", "fidelity=abc"], "NAME=WEIGHT"),
])
def test_invalid_values_exit_2_with_one_line(args, message):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0]  # one line says what is wrong


def test_choices_come_from_the_registries():
    from artdirector.decoding.dispatch import CHOICES
    from artdirector.lm import BACKENDS
    from artdirector.render import TARGETS
    from artdirector.scoring import SCORERS

    help_direct = CliRunner().invoke(main, ["direct", "--help"]).output
    help_generate = CliRunner().invoke(main, ["generate", "--help"]).output
    assert f"[{'|'.join(TARGETS)}]" in help_direct
    assert f"[{'|'.join(CHOICES)}]" in help_direct
    assert f"[{'|'.join(BACKENDS)}]" in help_direct
    assert all(name in help_generate for name in SCORERS)
    # generate takes every grounding and constraint option of direct
    for flag in ("--style", "--exclude", "--grammar", "--decoding", "--steer", "--library", "--no-rag"):
        assert flag in help_generate
