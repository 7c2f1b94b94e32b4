import numpy as np

from artdirector.embed import Embedder


def test_minilm_embeds_offline_and_normalised():
    emb = Embedder()
    v = emb.encode(["highly detailed", "very detailed", "a bowl of ramen"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.7 > v[0] @ v[2]  # paraphrases above the soft-match threshold, others below
    assert emb.encode([]).shape == (0, 384)
