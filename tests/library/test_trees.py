"""``trees.TreeModel`` predicts what LightGBM predicts, from the same saved model, without importing it."""

import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from artdirector.library.ranker import DEFAULT_RANKER
from artdirector.library.trees import TreeModel

lightgbm = pytest.importorskip("lightgbm")


def rows(n: int, features: int, seed: int = 0) -> np.ndarray:
    """Gaussian rows with exact zeros and NaNs sprinkled in: every way a split can route a value."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    x[rng.random(x.shape) < 0.1] = 0.0
    x[rng.random(x.shape) < 0.05] = np.nan
    return x


@pytest.mark.parametrize("params", [
    {},  # NaN is missing: learnt default ways
    {"zero_as_missing": True},  # zeros and NaNs both take the default way
    {"use_missing": False, "sigmoid": 0.7},  # NaN counts as 0; another sigmoid
])
def test_a_trained_model_predicts_as_lightgbm_does(params):
    x = rows(600, 6)
    y = (np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 3]) + np.isnan(x[:, 1]) > 0.2).astype(int)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5,
                              **params}, lightgbm.Dataset(x, y), num_boost_round=25)
    model = TreeModel(booster.model_to_string())
    test = rows(300, 6, seed=1)
    np.testing.assert_allclose(model.predict(test), booster.predict(test), rtol=0, atol=1e-12)
    assert len(np.unique(np.round(model.predict(test), 6))) > 10  # the trees really split


def test_the_shipped_ranker_predicts_as_lightgbm_does():
    path = Path(str(resources.files("artdirector.data").joinpath(f"ranker/{DEFAULT_RANKER}/ranker.txt")))
    booster, model = lightgbm.Booster(model_file=str(path)), TreeModel.from_file(path)
    test = np.abs(rows(400, model.features, seed=2))
    np.testing.assert_allclose(model.predict(test), booster.predict(test), rtol=0, atol=1e-12)


def test_what_it_cannot_predict_is_refused():
    x, y = rows(200, 3), np.arange(200) % 3
    multi = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lightgbm.Dataset(x, y), 2)
    with pytest.raises(ValueError, match="not a binary"):
        TreeModel(multi.model_to_string())
    binary = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(x, y % 2), 2)
    with pytest.raises(ValueError, match="3 features"):
        TreeModel(binary.model_to_string()).predict(np.zeros((2, 4)))


def test_loading_the_ranker_imports_neither_lightgbm_nor_sklearn():
    code = ("import sys; from artdirector.library.ranker import Ranker\n"
            "class E: name = 'all-MiniLM-L6-v2'\n"
            "assert Ranker.default(E()) is not None\n"
            "print(sorted(m for m in ('lightgbm', 'sklearn', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
