"""The diffusers backend on tiny random-weight pipelines (real classes, built in code)."""

import numpy as np
import pytest

from artdirector.brief import BadInput
from artdirector.imaging.base import GenerationSettings, ImageModelError
from artdirector.imaging.diffusers_backend import DiffusersGenerator

FAST = GenerationSettings(steps=2, width=64, height=64)


def pixels(sample):
    return np.asarray(sample.image, dtype=np.int16)


def test_same_seed_same_image_whatever_the_batch(tiny_sd):
    batch = tiny_sd.generate(["a red fox", "a cat on a roof", "a lighthouse"], [1, 2, 3], FAST)
    alone = tiny_sd.generate(["a cat on a roof"], [2], FAST)
    assert np.array_equal(pixels(batch[1]), pixels(alone[0]))
    other_seed = tiny_sd.generate(["a cat on a roof"], [4], FAST)
    assert not np.array_equal(pixels(alone[0]), pixels(other_seed[0]))


def test_batch_shapes_sizes_and_order(tiny_sd):
    prompts = [f"a house number {i}" for i in range(5)]  # 5 over batches of 2: 2 + 2 + 1
    out = tiny_sd.generate(prompts, list(range(5)), GenerationSettings(steps=2, width=64, height=32))
    assert [s.prompt for s in out] == prompts and [s.seed for s in out] == list(range(5))
    assert all(s.image.size == (64, 32) and s.image.mode == "RGB" and not s.is_video for s in out)


def test_negative_prompt_reaches_the_model(tiny_sd):
    plain = tiny_sd.generate(["a red fox"], [7], FAST, negative_prompts=[""])
    negated = tiny_sd.generate(["a red fox"], [7], FAST, negative_prompts=["blurry, lowres"])
    assert not np.array_equal(pixels(plain[0]), pixels(negated[0]))


def test_prompts_past_77_tokens_are_not_cut_off(tiny_sd):
    """compel encodes long prompts in 77-token chunks; a plain pipeline would truncate and ignore the tail."""
    from artdirector.tokens import clip_token_count

    head = "a lighthouse in a storm, " + ", ".join(["highly detailed oil painting"] * 20)
    assert clip_token_count(head) > 77
    a = tiny_sd.generate([head + ", teal"], [3], FAST)
    b = tiny_sd.generate([head + ", golden hour"], [3], FAST)
    assert not np.array_equal(pixels(a[0]), pixels(b[0]))
    assert tiny_sd._compel is not None


def test_safety_checker_on_by_default_and_off_on_request(tiny):
    on = DiffusersGenerator.from_pretrained(tiny.sd_safe)
    assert on.generate(["a cat"], [0], FAST)[0].nsfw in (True, False)
    off = DiffusersGenerator.from_pretrained(tiny.sd_safe, safety_checker=False)
    assert off.generate(["a cat"], [0], FAST)[0].nsfw is None
    assert any("safety checker off" in n for n in off.notes)


def test_animatediff_makes_clips(tiny):
    gen = DiffusersGenerator.from_pretrained(tiny.sd, motion_adapter=tiny.motion)
    assert gen.kind == "video" and gen.target == "video"
    out = gen.generate(["a red fox running"], [0], GenerationSettings(steps=2, width=64, height=64, frames=4))
    assert out[0].is_video and len(out[0].frames) == 4 and out[0].frames[0].size == (64, 64)


def test_not_text_to_image_is_refused_by_name(tiny):
    with pytest.raises(ImageModelError, match="StableDiffusionImg2ImgPipeline is not a text-to-image pipeline"):
        DiffusersGenerator.from_pretrained(tiny.img2img)


def test_missing_or_wrong_model_says_how_to_supply_weights(tmp_path, monkeypatch):
    with pytest.raises(ImageModelError, match="no such folder.*local diffusers folder.*hub id"):
        DiffusersGenerator.from_pretrained(str(tmp_path / "nope"))
    with pytest.raises(ImageModelError, match="not a diffusers pipeline folder"):
        DiffusersGenerator.from_pretrained(str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ImageModelError, match="cannot fetch the image model 'someone/some-model' from the hub"):
        DiffusersGenerator.from_pretrained("someone/some-model")


@pytest.mark.parametrize("bad", [dict(steps=0), dict(width=65), dict(height=0), dict(guidance=-1), dict(frames=0)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(BadInput):
        GenerationSettings(**bad)
