"""Every metric on hand-made examples with known answers."""

import numpy as np
import pytest

from artdirector.evaluation.metrics import (
    category_coverage,
    distinct_n,
    greedy_matches,
    modifiers_of,
    over_budget,
    prf,
    score_system,
    self_similarity,
    soft_prf,
)
from artdirector.text import normalise_phrase


class TableEmbedder:
    """A fixed lookup of unit vectors: exact, known cosines for the metric tests."""

    def __init__(self, table):
        self.table = {k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in table.items()}

    def encode(self, texts, progress=False):
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, 3), np.float32)


def test_normalise_phrase():
    assert normalise_phrase("  (Masterpiece:1.2) ") == "masterpiece"
    assert normalise_phrase("Oil  Painting.") == "oil painting"
    assert normalise_phrase('"by Greg Rutkowski"') == "by greg rutkowski"


def test_modifiers_of_strips_the_idea_and_dedupes():
    assert modifiers_of("A cat, oil painting, 8k, Oil painting", "a cat") == ["oil painting", "8k"]
    assert modifiers_of("a cat", "a cat") == []
    assert modifiers_of("different start, sketch", "a cat") == ["sketch"]


def test_prf_exact():
    assert prf(["a", "b", "c", "d"], ["a", "b", "x"]) == pytest.approx((0.5, 2 / 3, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)))
    assert prf([], ["a"]) == (0.0, 0.0, 0.0)  # adding nothing scores zero, not "undefined"
    assert prf(["a"], ["a"]) == (1.0, 1.0, 1.0)


def test_greedy_matching_is_one_to_one_and_best_first():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_matches(sim, 0.7) == 1  # 0.9 pairs (0,0); row 1's 0.85 needs column 0, taken; 0.1 < 0.7
    assert greedy_matches(np.array([[0.9, 0.1], [0.1, 0.75]]), 0.7) == 2
    assert greedy_matches(np.zeros((0, 3)), 0.7) == 0


def test_soft_prf():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[0.8, 0.6]])  # cosine 0.8 with a[0], 0.6 with a[1]
    assert soft_prf(a, b, 0.7) == pytest.approx((0.5, 1.0, 2 / 3))
    assert soft_prf(a, b, 0.9) == (0.0, 0.0, 0.0)


def test_category_coverage_counts_categories_not_phrases():
    assert category_coverage(["oil painting", "watercolor", "greg rutkowski", "8k", "flower field"]) == 3
    assert category_coverage([]) == 0


def test_distinct_2():
    assert distinct_n(["a b a b"]) == pytest.approx(2 / 3)  # bigrams ab, ba, ab
    assert distinct_n(["a b", "a b"]) == 0.5
    assert distinct_n(["x"]) == 0.0


def test_self_similarity():
    v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert self_similarity(v) == pytest.approx(1 / 3)  # pairs: 0, 1, 0
    assert self_similarity(v[:1]) is None


def test_over_budget_counts_clip_tokens():
    assert not over_budget("a " + "oil " * 74)  # 75 words of one token each + start/end = 77
    assert over_budget("a " + "oil " * 75)  # 78


def test_score_system_on_a_known_example():
    emb = TableEmbedder({
        "a cat": [1, 0, 0], "a cat, oil painting, 8k": [1, 1, 0], "a cat, sketch, 8k": [1, 0, 1],
        "oil painting": [0, 1, 0], "8k": [0, 0, 1], "sketch": [0, 1, 0.2],
    })
    out = score_system(["a cat"], [["oil painting", "8k"]], [["a cat, sketch, 8k", "a cat, oil painting, 8k"]],
                       [0.5], emb)
    assert out["modifier_precision"] == 0.5 and out["modifier_recall"] == 0.5  # "8k" matches, "sketch" not
    assert out["soft_modifier_f1"] == pytest.approx(1.0)  # "sketch" is within 0.7 cosine of "oil painting"
    assert out["fidelity"] == pytest.approx(1 / np.sqrt(2))
    assert out["category_coverage"] == 2  # sketch: medium, 8k: booster
    assert out["self_similarity"] == pytest.approx(0.5)
    assert out["over_budget_rate"] == 0.0 and out["latency_p50_s"] == 0.5


def test_constraint_satisfaction_counts_prompts_meeting_every_clause():
    from artdirector.decoding.constraints import Constraints
    from artdirector.evaluation.metrics import constraint_satisfaction

    c = Constraints.build(color=["teal|turquoise", "gold"], exclude=["blurry"])
    prompts = ["a boat, teal, gold, oil painting",          # meets all
               "a boat, turquoise sea, golden hour",         # "golden" is not the word "gold"
               "a boat, teal, gold, blurry",                 # excluded phrase present
               "a boat, Turquoise, GOLD"]                    # case does not matter
    assert constraint_satisfaction(prompts, c) == 0.5
    assert constraint_satisfaction([], c) == 0.0
