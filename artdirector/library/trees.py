"""Prediction with a LightGBM model file, without importing LightGBM.

Hand-written because of cold start: ``import lightgbm`` imports scikit-learn when it is installed, and that
imports SciPy's statistics; on 2 cores it was 2.7 s of a 3.3 s cold ``artdirector direct`` (the whole ranker
load, for a prediction over a few hundred rows that takes milliseconds). Training stays with LightGBM
(``training/ranker.py``); this reads the text model it saves (``Booster.save_model``) and follows its trees as
LightGBM's own ``Tree::NumericalDecision`` does: missing values go the stored default way when the tree was
grown with them (``missing_type`` NaN, or Zero for zeros), otherwise a NaN counts as 0, and ``x <= threshold``
goes left. Only what ``artdirector train ranker`` writes is accepted: a binary objective, numerical splits, no
linear trees; anything else is refused rather than predicted wrongly. All trees advance together, one level
per step, so a prediction is about as many NumPy steps as the deepest tree has levels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_DEFAULT_LEFT, _ZERO, _NAN = 2, 1, 2  # decision_type bit 1; its bits 2-3 are the missing type
_ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold


class TreeModel:
    """A binary LightGBM model: ``predict(rows)`` gives the probability of the positive class per row."""

    def __init__(self, text: str):
        header, trees = {}, []
        head, *blocks = text.split("\nend of trees")[0].split("\nTree=")
        for block in blocks:
            fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
            if fields.get("is_linear", "0") != "0" or fields.get("num_cat", "0") != "0":
                raise ValueError("only numerical, non-linear trees are supported")
            trees.append(fields)
        for line in head.splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                header[key] = value
        objective = header.get("objective", "").split()
        if not trees or not objective or objective[0] != "binary" or header.get("num_class") != "1":
            raise ValueError(f"not a binary LightGBM model (objective {' '.join(objective) or 'missing'})")
        self.sigmoid = float(dict(o.split(":") for o in objective[1:]).get("sigmoid", 1.0))
        self.features = int(header["max_feature_idx"]) + 1
        # One table for all trees: node (tree, i) sits at row ``offset[tree] + i``; leaves are addressed likewise.
        nodes = [max(int(t["num_leaves"]) - 1, 0) for t in trees]
        self.node_offset = np.cumsum([0, *nodes])[:-1]
        self.leaf_offset = np.cumsum([0, *(int(t["num_leaves"]) for t in trees)])[:-1]
        self.leaf_value = np.concatenate([_floats(t["leaf_value"]) for t in trees])

        def column(key, kind):
            return np.concatenate([_floats(t[key]).astype(kind) if n else np.zeros(0, kind)
                                   for t, n in zip(trees, nodes)])

        self.feature, self.threshold = column("split_feature", np.int64), column("threshold", np.float64)
        decision = column("decision_type", np.int64)
        self.default_left = (decision & _DEFAULT_LEFT) != 0
        self.missing = (decision >> 2) & 3
        self.left, self.right = column("left_child", np.int64), column("right_child", np.int64)
        self.stump = np.array([n == 0 for n in nodes])

    @classmethod
    def from_file(cls, path: str | Path) -> TreeModel:
        return cls(Path(path).read_text())

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """The summed leaf values (log-odds) of each row."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.features:
            raise ValueError(f"rows must have {self.features} features, not shape {rows.shape}")
        n = len(rows)
        # A child >= 0 is a node, < 0 the leaf ~child; every walk starts at node 0 (a stump is already leaf 0).
        child = np.where(self.stump, -1, 0)[None, :].repeat(n, axis=0)
        flat, base = rows.ravel(), (np.arange(n) * self.features)[:, None]
        has_nan = bool(np.isnan(flat).any())
        while (open_ := child >= 0).any():
            node = self.node_offset + np.maximum(child, 0)
            x = flat.take(base + self.feature.take(node))
            missing = self.missing.take(node)
            nan = np.isnan(x) if has_nan else False
            if has_nan:  # a NaN is 0 unless the tree learnt a way for missing values
                x = np.where(nan & (missing != _NAN), 0.0, x)
            by_default = (missing == _ZERO) & (np.abs(x) <= _ZERO_THRESHOLD) | (missing == _NAN) & nan
            go_left = np.where(by_default, self.default_left.take(node), x <= self.threshold.take(node))
            child = np.where(open_, np.where(go_left, self.left.take(node), self.right.take(node)), child)
        leaves = self.leaf_offset[None, :] + ~child
        return self.leaf_value[leaves].sum(axis=1)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.sigmoid * self.raw(rows)))


def _floats(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.float64)
