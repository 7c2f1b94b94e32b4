import subprocess
import sys

import numpy as np
import pytest

from artdirector import embedding
from artdirector.evaluation.harness import read_prompts


@pytest.fixture(scope="module", params=sorted(embedding.EMBEDDERS))
def each_embedder(request):
    return embedding.embedder_class(request.param).from_embedded()


@pytest.mark.slow
def test_minilm_embeds_offline_and_normalised(each_embedder):
    v = each_embedder.encode(["highly detailed", "very detailed", "a bowl of ramen"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.7 > v[0] @ v[2]  # paraphrases above the soft-match threshold, others below
    assert each_embedder.encode([]).shape == (0, 384)
    assert each_embedder.name == "all-MiniLM-L6-v2"  # one name: a library indexed by one is read by the other


@pytest.mark.slow
def test_onnx_matches_sentence_transformers_on_real_prompts():
    from pathlib import Path

    prompts = read_prompts(Path(__file__).parents[1] / "data" / "splits" / "validation.tsv")[:300]
    prompts += ["", "a", "word " * 400]  # empty, one token, past the 256-token window (truncated alike)
    fast = embedding.embedder_class("onnx").from_embedded().encode(prompts)
    reference = embedding.embedder_class("sentence-transformers").from_embedded().encode(prompts)
    cosines = np.sum(fast * reference, axis=1)
    assert cosines.min() >= 0.9999, (cosines.argmin(), cosines.min())


def test_default_is_onnx_once_exported():
    assert type(embedding.load()).__name__ == "OnnxEmbedder"


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["direct", "a lighthouse in a storm", "--json"],
                                  ["library", "search", "castle at sunset", "--json"]])
def test_direct_and_search_do_not_import_torch(argv):
    code = ("import sys; from artdirector.cli import main\n"
            "try: main(sys.argv[1:], standalone_mode=False)\n"
            "finally: print('IMPORTED', sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert '"prompt"' in run.stdout and run.stdout.rstrip().endswith("IMPORTED []"), run.stdout[-300:]
