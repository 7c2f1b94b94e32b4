"""Scorer formulas against values computed by hand from the same tiny CLIP, through an independent path
(``CLIPModel.forward``'s logits, or the head's weights multiplied out in numpy)."""

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPModel, CLIPProcessor

from artdirector.scoring import load_scorer
from artdirector.scoring.base import ScorerError

PROMPTS = ["a red fox in snow", "a lighthouse in a storm, oil painting", "a cat", "an empty room"]


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (48 + 8 * i, 40, 3), dtype=np.uint8)) for i in range(4)]


@pytest.fixture(scope="module")
def reference(tiny, images):
    """Cosine and logit of each (prompt, image) pair from CLIPModel's own forward pass."""
    model = CLIPModel.from_pretrained(tiny.clip).eval()
    proc = CLIPProcessor.from_pretrained(tiny.clip)
    batch = proc(text=PROMPTS, images=images, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**batch).logits_per_image.diagonal()
    scale = model.logit_scale.exp().item()
    return {"logit": logits.numpy(), "cos": logits.numpy() / scale, "model": model, "proc": proc}


def test_clip_score_is_100_times_clipped_cosine(tiny, images, reference):
    got = load_scorer("clip", tiny.clip)(PROMPTS, images)
    assert np.allclose(got, 100 * np.maximum(reference["cos"], 0), atol=1e-3)
    assert min(got) >= 0


def test_pickscore_is_the_scaled_logit(tiny, images, reference):
    got = load_scorer("pickscore", tiny.clip)(PROMPTS, images)
    assert np.allclose(got, reference["logit"], atol=1e-3)


def test_hps_is_the_plain_cosine(tiny, images, reference):
    got = load_scorer("hps", tiny.clip)(PROMPTS, images)
    assert np.allclose(got, reference["cos"], atol=1e-5)


def test_aesthetic_is_the_mlp_on_the_normalised_image_embedding(tiny, images, reference):
    model, proc = reference["model"], reference["proc"]
    with torch.no_grad():
        emb = model.get_image_features(**proc(images=images, return_tensors="pt")).pooler_output.numpy()
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    state = torch.load(f"{tiny.clip}/aesthetic-model.pth", weights_only=True)
    for i in (0, 2, 4, 6, 7):  # the Linear layers; dropouts are identity at inference, no activations
        x = x @ state[f"layers.{i}.weight"].numpy().T + state[f"layers.{i}.bias"].numpy()
    got = load_scorer("aesthetic", tiny.clip)(["ignored"] * 4, images)
    assert np.allclose(got, x[:, 0], atol=1e-5)


def test_a_clip_scores_the_mean_of_its_frames(tiny, images):
    scorer = load_scorer("clip", tiny.clip)
    per_frame = scorer([PROMPTS[0]] * 3, images[:3])
    clip = scorer([PROMPTS[0], PROMPTS[1]], [images[:3], images[3]])
    assert clip[0] == pytest.approx(sum(per_frame) / 3, abs=1e-4)
    assert clip[1] == pytest.approx(scorer([PROMPTS[1]], [images[3]])[0], abs=1e-4)


def test_embeddings_are_cached_by_pixels_and_text(tiny, images):
    scorer = load_scorer("pickscore", tiny.clip)
    encoder = scorer.encoder
    calls = []
    real = encoder.model.get_image_features
    encoder.model.get_image_features = lambda **kw: calls.append(kw["pixel_values"].shape[0]) or real(**kw)
    first = scorer(PROMPTS, images)
    again = scorer(PROMPTS[::-1], [im.copy() for im in images[::-1]])  # same pixels, new objects
    assert calls == [4]
    assert np.allclose(first, again[::-1], atol=1e-5)


def test_missing_weights_say_how_to_supply_them(tmp_path, tiny):
    with pytest.raises(ScorerError, match=r"clip: no such folder .*give the clip scorer a model"):
        load_scorer("clip", str(tmp_path / "nope"))
    with pytest.raises(ScorerError, match="cannot load a CLIP model"):
        load_scorer("pickscore", str(tmp_path))
    with pytest.raises(ScorerError, match="no predictor head"):
        load_scorer("aesthetic", tiny.clip_no_head)
    with pytest.raises(ScorerError, match="unknown scorer"):
        load_scorer("beauty")


def test_imagereward_is_the_normalised_head_on_blips_joint_cls_feature(tiny, images):
    from transformers import AutoImageProcessor, AutoTokenizer, BlipForImageTextRetrieval

    from artdirector.scoring.imagereward import MEAN, STD

    model = BlipForImageTextRetrieval.from_pretrained(tiny.imagereward).eval()
    tok = AutoTokenizer.from_pretrained(tiny.imagereward)
    pixels = AutoImageProcessor.from_pretrained(tiny.imagereward)(images=images, return_tensors="pt")["pixel_values"]
    expected = []
    for prompt, px in zip(PROMPTS, pixels):
        ids = tok(prompt, return_tensors="pt")  # unpadded: the padding to 35 must not change the score
        with torch.no_grad():
            cls = model(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"], pixel_values=px[None],
                        use_itm_head=True).question_embeds[0, 0].numpy()
        state = torch.load(f"{tiny.imagereward}/imagereward-head.pth", weights_only=True)
        x = cls
        for i in (0, 2, 4, 6, 7):
            x = x @ state[f"layers.{i}.weight"].numpy().T + state[f"layers.{i}.bias"].numpy()
        expected.append((x[0] - MEAN) / STD)
    got = load_scorer("imagereward", tiny.imagereward)(PROMPTS, images)
    assert np.allclose(got, expected, atol=1e-4)


def test_scorers_without_a_default_ask_for_a_model():
    for name in ("hps", "imagereward"):
        with pytest.raises(ScorerError, match=f"{name} needs MODEL"):
            load_scorer(name)
