import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("ARTDIRECTOR_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set ARTDIRECTOR_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def llama_lm():
    """The embedded model on the llama.cpp backend, loaded once for the session."""
    from artdirector.lm.llamacpp_backend import LlamaCppLM

    lm = LlamaCppLM.from_embedded(n_slots=8, n_ctx=4096)
    yield lm
    lm.close()


@pytest.fixture(scope="session")
def torch_lm():
    """The embedded model on the PyTorch backend (converted once into the user directory)."""
    from artdirector.lm.transformers_backend import TransformersLM

    return TransformersLM.from_embedded()


@pytest.fixture(scope="session")
def director(llama_lm):
    from artdirector.director import ArtDirector

    return ArtDirector(llama_lm)


@pytest.fixture(scope="session")
def minilm():
    """The real MiniLM embedder, loaded once."""
    from artdirector.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Tiny random-weight image models saved as real checkpoint folders (built in code, no downloads)."""
    from types import SimpleNamespace

    from artdirector.imaging import testing as T

    root = tmp_path_factory.mktemp("tiny-models")
    return SimpleNamespace(
        sd=str(T.save_tiny_sd(root / "sd")),
        sd_safe=str(T.save_tiny_sd(root / "sd-safe", safety_checker=True)),
        img2img=str(T.save_tiny_img2img(root / "img2img")),
        motion=str(T.save_tiny_motion_adapter(root / "motion")),
        clip=str(T.save_tiny_clip(root / "clip", aesthetic_head=True)),
        clip_no_head=str(T.save_tiny_clip(root / "clip-no-head")),
        imagereward=str(T.save_tiny_imagereward(root / "imagereward")),
    )


@pytest.fixture(scope="session")
def tiny_sd(tiny):
    from artdirector.imaging.diffusers_backend import DiffusersGenerator

    return DiffusersGenerator.from_pretrained(tiny.sd, batch_size=2)
