"""Thread pools on a small CPU: no BLAS threads left spinning on the cores llama.cpp decodes on."""

import numpy as np
from threadpoolctl import threadpool_info

from artdirector.cpu import one_blas_thread
from artdirector.director import ArtDirector
from artdirector.lm.dummy import DummyLM


def blas_threads() -> set[int]:
    np.ones(2) @ np.ones(2)  # NumPy's BLAS is loaded
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_blas_runs_single_threaded_inside_and_is_restored_after():
    import faiss  # noqa: F401 - a BLAS loaded after the first use is limited too

    before = blas_threads()
    with one_blas_thread():
        assert blas_threads() == {1}
    assert blas_threads() == before


def test_a_direction_runs_with_one_blas_thread():
    seen = []

    class Watching(DummyLM):
        def generate(self, *args, **kw):
            seen.append(blas_threads())  # while the decoder runs: the other stages' pools must be quiet
            return super().generate(*args, **kw)

    ArtDirector(Watching({}, default=" oil painting, 8k"), tuned=True).direct("a red fox")
    assert seen == [{1}]
