import pytest

from artdirector.brief import BadInput
from artdirector.corpus import HumanPrompt
from artdirector.evaluation.harness import prefix_items, read_prompts, run
from artdirector.evaluation.systems import FrequentModifiers, Original, System


def test_prefix_items_apply_the_protocol_and_count_skips():
    prompts = [
        "a red fox in snow, oil painting, 8k",      # kept
        "a fox, oil painting, 8k",                  # idea too short
        "a red fox in snow, again, twice",          # same prefix again
        "a castle at dusk, only one",               # one modifier
        "an old man reading, sketch, moody",        # kept
    ]
    items, skipped = prefix_items(prompts, limit=None, seed=0)
    assert sorted(i.idea for i in items) == ["a red fox in snow", "an old man reading"]
    assert skipped == 3
    one, skipped = prefix_items(prompts, limit=1, seed=0)
    assert len(one) == 1 and skipped == 4
    assert prefix_items(prompts, limit=1, seed=0)[0] == one  # deterministic by seed


def test_read_prompts_formats_and_missing_column(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"prompt": "x, y"}\n\n{"prompt": "z"}\n')
    (tmp_path / "b.csv").write_text("id,prompt\n1,\"a, b\"\n")
    (tmp_path / "c.tsv").write_text("text\nhello\n")
    assert read_prompts(tmp_path / "a.jsonl") == ["x, y", "z"]
    assert read_prompts(tmp_path / "b.csv") == ["a, b"]
    with pytest.raises(BadInput, match="no 'prompt' column"):
        read_prompts(tmp_path / "c.tsv")


class Counting(System):
    name = "counting"

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def generate(self, ideas, *, n, seed):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        return [[f"{i}, x"] * n for i in ideas]


def test_run_resumes_after_an_interruption(tmp_path, monkeypatch):
    import artdirector.evaluation.harness as h

    monkeypatch.setattr(h, "BATCH", 2)
    items, _ = prefix_items([f"idea number {k} here, a, b" for k in range(5)], limit=None, seed=0)
    cfg = {"k": 1}
    with pytest.raises(KeyboardInterrupt):
        run(items, [Counting(fail_after=2)], out=tmp_path, n=1, seed=0, config=cfg)
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 4  # two batches were saved
    again = Counting()
    results = run(items, [again], out=tmp_path, n=1, seed=0, config=cfg)
    assert again.calls == 1  # only the last item was left to do
    assert [r["prompts"] for r in results["counting"]] == [[f"{it.idea}, x"] for it in items]


def test_run_refuses_to_mix_configurations(tmp_path):
    items, _ = prefix_items(["idea number one here, a, b"], limit=None, seed=0)
    run(items, [Original()], out=tmp_path, n=1, seed=0, config={"seed": 0})
    with pytest.raises(BadInput, match="another configuration"):
        run(items, [Original()], out=tmp_path, n=1, seed=1, config={"seed": 1})


def test_frequent_modifiers_is_a_constant():
    train = [HumanPrompt("x, 8k, sketch", "s"), HumanPrompt("y, 8k, oil", "s"), HumanPrompt("z, 8K", "s")]
    out = FrequentModifiers(train, k=2).generate(["a cat", "a dog"], n=2, seed=0)
    # "8K" counts as "8k"; sketch and oil tie and the first seen wins.
    assert out == [["a cat, 8k, sketch"] * 2, ["a dog, 8k, sketch"] * 2]


def test_idea_items_take_sentences_as_typed():
    from artdirector.evaluation.harness import idea_items

    items, skipped = idea_items(["A photo of a bench.", "a photo of a bench.", "", "two cats  on a mat"], limit=None,
                                seed=0)
    assert sorted(i.idea for i in items) == ["A photo of a bench.", "two cats on a mat"]
    assert skipped == 2 and all(i.prompt == "" and i.modifiers == () for i in items)


@pytest.mark.slow  # the real embedder
def test_ideas_without_human_prompts_are_scored_for_trust(tmp_path, minilm):
    from artdirector.evaluation.harness import idea_items, score
    from artdirector.evaluation.report import write_report

    items, _ = idea_items(["a red car", "a photo of a dog"], limit=None, seed=0)
    results = {"padded": [{"prompts": [f"{it.idea}, blue, 8k, 4k, oil painting"], "seconds": 0.0} for it in items]}
    table = score(items, results, minilm)
    assert set(table) == {"padded"} and "soft_modifier_f1" not in table["padded"]
    assert table["padded"]["redundant_rate"] == 1.0 and table["padded"]["medium_consistency"] == 0.0
    assert table["padded"]["colour_contradictions"] == 1  # "blue" for a red car (not for the dog)
    report = write_report(tmp_path, table, items=items, results=results, skipped=0, config={"protocol": "ideas"})
    assert report["systems"] == table and "## Trust" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "metrics.png").stat().st_size > 0
