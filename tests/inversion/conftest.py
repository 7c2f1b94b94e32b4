"""A tiny CLIP that knows colour names, and the synthetic images it learnt them from."""

import pytest

from artdirector.imaging.testing import COLOURS, shape_image


@pytest.fixture(scope="session")
def trained_clip(tmp_path_factory):
    """A tiny CLIP taught colour names by contrastive training on synthetic images (seconds on a CPU)."""
    import random

    import torch
    from transformers import CLIPModel, CLIPProcessor

    from artdirector.imaging.testing import save_tiny_clip

    path = save_tiny_clip(tmp_path_factory.mktemp("clip") / "trained")
    model, processor = CLIPModel.from_pretrained(path), CLIPProcessor.from_pretrained(path)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = random.Random(0)
    model.train()
    for _ in range(150):
        shapes = [rng.choice(("square", "circle")) for _ in COLOURS]
        texts = [rng.choice((c, f"a {c} {s}", f"{c}")) for c, s in zip(COLOURS, shapes)]
        batch = processor(text=texts, images=[shape_image(c, s) for c, s in zip(COLOURS, shapes)],
                          return_tensors="pt", padding=True)
        loss = model(**batch, return_loss=True).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval().save_pretrained(path)
    return str(path)
