"""The command line, run as a real subprocess on the real embedded model."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here spawns the CLI, most load the embedded model


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "artdirector.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("command", ["direct", "generate", "library"])
def test_help_does_not_import_the_model_stack(command):
    code = ("import sys; from click.testing import CliRunner; from artdirector.cli import main; "
            f"r = CliRunner().invoke(main, ['{command}', '--help']); assert r.exit_code == 0, r.output; "
            "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'numpy', 'diffusers', 'PIL') "
            "if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_is_quick():
    start = time.perf_counter()
    r = run("--help")
    assert r.returncode == 0 and "direct" in r.stdout
    assert time.perf_counter() - start < 10  # a loose sanity bound; bench/ measures the real figure


def test_direct_json_contract():
    r = run("direct", "a lighthouse in a storm", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("idea", "target", "prompt", "negative_prompt", "parts", "added", "model", "seconds"):
        assert key in out
    assert out["idea"] == "a lighthouse in a storm" and out["target"] == "sd15"
    assert out["prompt"].startswith("a lighthouse in a storm, ")
    assert len(out["added"]) >= 2 and out["tokens"] <= 77
    assert out["model"] == "smollm2-135m-instruct+prompt-director-v1"  # the shipped adapter is the default
    assert all(isinstance(v, list) for v in out["parts"].values())
    # "seconds" is the direction itself; its stages and the load (LM, library, embedder) are apart
    assert list(out["timings"]) == ["load", "retrieve", "decode", "select"]
    assert abs(out["seconds"] - sum(v for k, v in out["timings"].items() if k != "load")) < 1e-3


def test_direct_honours_constraint_flags():
    r = run("direct", "a lighthouse in a storm", "--artist", "hokusai|katsushika hokusai", "--style", "ukiyo-e",
            "--exclude", "realistic", "--no-rag", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert any("hokusai" in a for a in out["parts"]["artist"]) and any("ukiyo-e" in s for s in out["parts"]["style"])
    assert "realistic" not in out["prompt"] and out["negative_prompt"].endswith("realistic")
    kinds = {(c["kind"], tuple(c["phrases"])): c for c in out["constraints"]}
    assert kinds["exclude", ("realistic",)]["satisfied"] is True
    assert kinds["include", ("hokusai", "katsushika hokusai")]["category"] == "artist"
    assert all(c["satisfied"] and "met_by_decoder" in c for c in out["constraints"])
    assert out["decoding"] == "neurologic"


def test_direct_done_when_command_for_constraints():
    r = run("direct", "a cat in a garden", "--style", "ukiyo-e", "--artist", "katsushika hokusai", "--exclude",
            "blurry", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    low = out["prompt"].lower()
    assert "ukiyo-e" in low and "katsushika hokusai" in low and "blurry" not in low
    assert [c["satisfied"] for c in out["constraints"]] == [True, True, True]


def test_direct_under_a_user_grammar(tmp_path):
    grammar = tmp_path / "colour.lark"
    grammar.write_text('start: (phrase ", "){1,4} color\nphrase: /[a-z][a-z \\-]{1,30}/\n'
                       'color: "red" | "teal" | "gold"\n')
    r = run("direct", "a lighthouse in a storm", "--grammar", str(grammar), "--no-rag", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["decoding"] == "grammar"
    assert out["prompt"].startswith("a lighthouse in a storm, ")
    assert out["prompt"].rsplit(", ", 1)[-1] in ("red", "teal", "gold")


def test_bad_grammars_and_constraints_exit_2(tmp_path):
    broken = tmp_path / "broken.lark"
    broken.write_text('start: phrase (\nphrase: /[a-z]+/\n')
    endless = tmp_path / "endless.lark"
    endless.write_text('start: a\na: "x" a\n')
    cases = [
        (["--grammar", str(broken)], "line 1, column"),
        (["--grammar", str(endless)], "no answer of at most"),
        (["--include", "teal", "--exclude", "teal"], "both required and excluded"),
        (["--style", " | "], "empty constraint"),
        (["--include", "a very long phrase about many things " * 12], "> the target's budget of 77"),
        (["--decoding", "neurologic"], "needs a constraint"),
        (["--decoding", "beam", "--grammar", str(endless)], "does not take a grammar"),
    ]
    for args, message in cases:
        r = run("direct", "a cat", *args, "--no-rag")
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)


def test_custom_vocabulary_value_is_kept_with_a_typo_hint():
    r = run("direct", "a castle at dusk", "--artist", "greg rutkowsky", "--no-rag", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "greg rutkowsky" in out["prompt"].lower()
    assert any("did you mean 'greg rutkowski'" in n for n in out["notes"])


def test_adapter_none_and_list_vocab():
    r = run("direct", "a red fox", "--adapter", "none", "--no-rag", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["model"] == "smollm2-135m-instruct"
    r = run("direct", "--list-vocab", "artist")
    assert r.returncode == 0 and len(r.stdout.splitlines()) > 100
    r = run("direct", "--list-vocab", "flavour")
    assert r.returncode == 2 and "no vocabulary" in r.stderr
    r = run("direct", "a blurry photo of a cat", "--exclude", "blurry")
    assert r.returncode == 2 and "excluded phrase" in r.stderr


def test_direct_candidates_and_flux():
    r = run("direct", "a red fox in snow", "--n", "2", "--target", "flux", "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["candidates"]) == 2
    assert out["candidates"][0]["prompt"] == out["prompt"]
    assert out["prompt"].startswith("A red fox in snow") and out["prompt"].endswith(".")


def test_human_output_shows_prompt_negative_and_additions():
    r = run("direct", "a cat in a garden")
    assert r.returncode == 0, r.stderr
    assert "a cat in a garden, " in r.stdout and "negative:" in r.stdout and "+ " in r.stdout


@pytest.mark.parametrize("args, message", [
    (["direct", ""], "empty"),
    (["direct", "   "], "empty"),
    (["direct", "x" * 2001], "2000"),
    (["direct", "a cat", "--target", "dalle"], "sd15"),
    (["direct", "a cat", "--n", "0"], "0"),
    (["direct"], "no idea given"),
])
def test_bad_input_exits_2_with_a_message(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""


def test_control_characters_are_stripped_and_said(tmp_path):
    r = run("direct", "a cat\x07 in a garden", "--json")
    assert r.returncode == 0, r.stderr
    assert "U+0007" in r.stderr
    out = json.loads(r.stdout)
    assert out["idea"] == "a cat in a garden"
    assert any("U+0007" in n for n in out["notes"])


def test_batch_reports_bad_lines_and_runs_the_rest(tmp_path: Path):
    f = tmp_path / "ideas.txt"
    f.write_bytes(b"a lighthouse in a storm\n\xff\xfe broken bytes\n   \na bowl of ramen\n")
    r = run("direct", "--batch", str(f), "--json")
    assert r.returncode == 2
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["line"] for x in lines] == [1, 2, 3, 4]
    assert lines[0]["prompt"].startswith("a lighthouse in a storm, ")
    assert "UTF-8" in lines[1]["error"] and "empty" in lines[2]["error"]
    assert lines[3]["prompt"].startswith("a bowl of ramen, ")
    assert "line 2" in r.stderr and "line 3" in r.stderr


def test_batch_all_good_exits_0(tmp_path: Path):
    f = tmp_path / "ideas.txt"
    f.write_text("a castle at sunset\nan astronaut riding a horse\n", encoding="utf-8")
    r = run("direct", "--batch", str(f))
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["idea"] for x in r.stdout.splitlines()] == ["a castle at sunset",
                                                                      "an astronaut riding a horse"]


def test_missing_batch_file_is_a_usage_error(tmp_path):
    r = run("direct", "--batch", str(tmp_path / "nope.txt"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_eval_prefix_writes_the_report(tmp_path: Path):
    data = tmp_path / "prompts.tsv"
    rows = ["a red fox in snow, oil painting, 8k", "an old man reading a book, sketch, moody, 8k",
            "a castle at dusk on a hill, matte painting, by greg rutkowski", "too short, a, b"]
    data.write_text("prompt\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    r = run("eval", "prefix", "--data", str(data), "--limit", "3", "--systems",
            "original,frequent-modifiers,dynamicprompts", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["n"] == 3 and report["skipped"] == 1
    assert set(report["systems"]) == {"original", "frequent-modifiers", "dynamicprompts", "human"}
    assert report["systems"]["original"]["modifier_f1"] == 0.0
    assert report["systems"]["original"]["fidelity"] > 0.99
    for name in ("report.json", "report.md", "metrics.png", "quality_vs_latency.png", "results.jsonl"):
        assert (out / name).is_file()
    assert "| frequent-modifiers |" in (out / "report.md").read_text()


def test_eval_unknown_system_is_bad_input(tmp_path: Path):
    data = tmp_path / "p.tsv"
    data.write_text("prompt\na red fox in snow, oil, 8k\n")
    r = run("eval", "prefix", "--data", str(data), "--systems", "original,gpt5", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "gpt5" in r.stderr


def test_direct_retrieves_from_the_builtin_library_unless_told_not_to():
    r = run("direct", "portrait of an old fisherman", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["retrieved"]) >= 3
    assert all(set(h) == {"prompt", "score", "source"} for h in out["retrieved"])
    assert {h["source"] for h in out["retrieved"]} <= {"train.tsv", "discord.tsv.gz"}  # the shipped collections
    assert out["retrieved"][0]["score"] > 0.5
    r = run("direct", "portrait of an old fisherman", "--json", "--no-rag")
    assert r.returncode == 0 and json.loads(r.stdout)["retrieved"] == []
    r = run("direct", "a cat", "--library", "nope")
    assert r.returncode == 2 and "no library named 'nope'" in r.stderr


def test_library_search_on_the_builtin_library():
    r = run("library", "search", "castle at sunset", "-k", "5", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["query"] == "castle at sunset" and len(out["results"]) == 5
    assert all("castle" in h["prompt"].lower() for h in out["results"])
    assert out["seconds"] == out["timings"]["search"] and "load" in out["timings"]
    for mode in ("vector", "keyword"):
        r = run("library", "search", "castle at sunset", "-k", "3", "--mode", mode, "--json")
        assert r.returncode == 0 and len(json.loads(r.stdout)["results"]) == 3


def test_library_ingest_list_stats_remove(tmp_path: Path):
    import os

    env = {**os.environ, "ARTDIRECTOR_HOME": str(tmp_path / "home")}
    src = tmp_path / "mine.jsonl"
    src.write_text('{"prompt": "a glass teapot, product photo, studio lighting"}\n{"prompt": "nsfw nude"}\n'
                   '{"nope": 1}\n')

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "artdirector.cli", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    r = cli("library", "ingest", str(src), "--library", "mine", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert (rep["added"], rep["unsafe"], rep["bad"]) == (1, 1, 1) and rep["bad_lines"] == ["line 3: no 'prompt' text"]
    listed = dict(line.split("\t") for line in cli("library", "list").stdout.splitlines())
    assert listed["mine"] == "1" and int(listed["builtin"]) > 10_000  # the built-in one lives with the install
    assert int(listed["discord"]) > 50_000  # and its Discord collection
    assert json.loads(cli("library", "stats").stdout)["collections"]["mine"] == 1
    assert cli("library", "ingest", str(src), "--library", "builtin").returncode == 2
    assert cli("library", "ingest", str(src), "--library", "discord").returncode == 2
    assert cli("library", "remove", "nope").returncode == 2
    assert cli("library", "remove", "builtin").returncode == 2
    r = cli("library", "remove", "mine")
    assert r.returncode == 0 and "removed 1" in r.stdout
    assert "mine" not in cli("library", "list").stdout


def test_eval_with_another_lm_named_by_path(tmp_path: Path):
    from artdirector.lm.embedded import converted_dir

    data = tmp_path / "p.tsv"
    data.write_text("prompt\na red fox in snow, oil painting, 8k\nan old man reading a book, sketch, moody\n")
    name = f"artdirector@{converted_dir()}"
    r = run("eval", "prefix", "--data", str(data), "--systems", f"original,{name}", "--n", "1",
            "--out", str(tmp_path / "o"), "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["systems"][name]
    assert row["fidelity"] > 0.5 and row["modifiers_per_prompt"] >= 1
    assert run("eval", "prefix", "--data", str(data), "--suite", "rag", "--systems", "original").returncode == 2


def test_variety_reaches_the_ranker():
    from artdirector.lexicon import phrase_share

    added = {}
    for variety in ("0", "2"):
        r = run("direct", "portrait of an old fisherman", "--variety", variety, "--json")
        assert r.returncode == 0, r.stderr
        added[variety] = json.loads(r.stdout)["added"]
    generic = {v: sum(phrase_share(m) for m in a) / len(a) for v, a in added.items()}
    assert generic["2"] < generic["0"], added
