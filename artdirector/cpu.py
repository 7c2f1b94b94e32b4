"""One compute pool at a time on a small CPU.

A direction runs four thread pools one after another: ONNX Runtime's (the embedder), faiss' and NumPy's
OpenBLAS (retrieval, the vote, selection) and llama.cpp's OpenMP team (decoding). A pool that has just
finished keeps its threads spinning, waiting for more work — OpenBLAS for about 2^28 cycles (~0.1 s),
ONNX Runtime while its session idles — and on two cores those spinning threads hold the cores that
llama.cpp's prefill needs next. Measured here on 24 warm directions: the first decode call (the prompt)
took a median 114 ms instead of 47 ms, a whole direction 0.41 s instead of 0.32 s. The vectors a direction
multiplies are 384-wide and a handful at a time, so one BLAS thread costs nothing there; ONNX Runtime is
told not to spin (``embedding.onnx_backend``). Limits are set with threadpoolctl, the library scikit-learn
uses for the same purpose, and restored afterwards: a caller's own NumPy work keeps its threads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys

ENV_THREADS = "ARTDIRECTOR_THREADS"  # the decoder's thread count; a batch actor sets it to its share of the CPUs


def threads() -> int:
    """Threads a decoder may use: ``$ARTDIRECTOR_THREADS``, else the cores this process may run on (a container's
    or ``taskset``'s limit, which ``os.cpu_count`` ignores)."""
    if os.environ.get(ENV_THREADS):
        return max(1, int(os.environ[ENV_THREADS]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _controller(_modules: int):
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # the BLAS libraries loaded by now (NumPy's, faiss')


@contextlib.contextmanager
def one_blas_thread():
    """BLAS libraries run single-threaded inside the block (no spinning BLAS threads when it ends)."""
    # Finding the loaded libraries takes ~1 ms: done again only when modules were imported since (faiss
    # brings its own OpenBLAS), which after the first direction is never.
    with _controller(len(sys.modules)).limit(limits=1, user_api="blas"):
        yield
