"""Image → prompt by interrogation: a caption, then the shipped vocabularies ranked by CLIP against the image.

CLIP Interrogator's method (a BLIP caption, then artist / medium / movement / flavour lists ranked by CLIP
similarity), on this project's own category vocabularies and ending in the same ``Direction`` → ``render``
as ``direct``, so targets, budgets and the negative prompt behave the same:

1. **Caption** the image (``inversion.captioner``; without one the idea is "an image").
2. **Rank** each category's vocabulary (medium, style, artist, lighting, colour, composition, mood) by the
   cosine of its CLIP text embedding with the image's. The text embeddings are computed once per CLIP model
   and kept in the user directory (``interrogate/<fingerprint>.npz``, the fingerprint hashing the model's
   name, its text projection weights and the vocabulary), so a second run embeds only the image.
3. **fast**: the best phrase of each category whose cosine beats that category's median by a margin (a
   category with nothing close stays empty). **best**: a greedy flavour chain over the ranked candidates —
   add the phrase that raises the similarity of the whole prompt most, only while it rises, never a phrase
   twice, at most ``top`` phrases (CLIP Interrogator's chain, which users otherwise see repeat flavours).

Low memory by design: the captioner runs over every image first and is released before CLIP loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RANKED = ("medium", "style", "artist", "lighting", "color", "composition", "mood")
PER_CATEGORY = 300  # most used phrases of each category ranked (the studio shows the same number)
MARGIN = 0.02  # fast mode: above the category's median cosine by at least this
CHAIN_POOL = 8  # best mode: candidates per category the chain may take


@dataclass
class Ranked:
    phrases: list[str]
    categories: list[str]
    vectors: np.ndarray  # (n, dim), L2-normalised


def fingerprint(encoder, phrases: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(encoder.name.encode())
    weight = getattr(encoder.model, "text_projection", None)
    if weight is not None:
        h.update(weight.weight.detach().cpu().numpy().tobytes())
    h.update("\n".join(phrases).encode())
    return h.hexdigest()


def vocabulary_vectors(encoder, *, cache_dir: Path | None = None) -> Ranked:
    """Every ranked category's phrases and their text embeddings, from the cache when this model made them."""
    from artdirector.config import user_dir
    from artdirector.guards import COLOURS
    from artdirector.vocab import category_vocab

    phrases, categories = [], []
    for category in RANKED:
        # The colour vocabulary holds palettes ("high contrast", "sepia"); the plain colour names (the guards'
        # list) are what an image most often shows.
        extra = list(COLOURS) if category == "color" else []
        for phrase in dict.fromkeys([*(e.phrase for e in category_vocab(category)[:PER_CATEGORY]), *extra]):
            phrases.append(phrase)
            categories.append(category)
    folder = cache_dir or user_dir() / "interrogate"
    path = folder / f"{fingerprint(encoder, phrases)}.npz"
    if path.is_file():
        return Ranked(phrases, categories, np.load(path)["vectors"])
    vectors = encoder.text_embeddings([_text(p, c) for p, c in zip(phrases, categories)]).numpy()
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, vectors=vectors)
    partial.replace(path)  # a run killed mid-write leaves no half cache
    return Ranked(phrases, categories, vectors)


def _text(phrase: str, category: str) -> str:
    return f"by {phrase}" if category == "artist" else phrase


def pick_fast(image_vector: np.ndarray, ranked: Ranked) -> dict[str, list[str]]:
    cos = ranked.vectors @ image_vector
    parts: dict[str, list[str]] = {}
    for category in RANKED:
        idx = [i for i, c in enumerate(ranked.categories) if c == category]
        if not idx:
            continue
        best = max(idx, key=lambda i: cos[i])
        if cos[best] >= float(np.median(cos[idx])) + MARGIN:
            parts[category] = [ranked.phrases[best]]
    return parts


def pick_chain(image_vector: np.ndarray, ranked: Ranked, start: str, encoder, top: int) -> dict[str, list[str]]:
    """Greedy: add the candidate that raises cos(image, prompt so far + phrase) most, while it rises."""
    cos = ranked.vectors @ image_vector
    pool = []
    for category in RANKED:
        idx = sorted((i for i, c in enumerate(ranked.categories) if c == category), key=lambda i: -cos[i])
        pool += idx[:CHAIN_POOL]
    chosen: list[int] = []
    text = start
    score = float(encoder.text_embeddings([text]).numpy()[0] @ image_vector)
    while len(chosen) < top:
        options = [i for i in pool if i not in chosen]
        if not options:
            break
        texts = [f"{text}, {_text(ranked.phrases[i], ranked.categories[i])}" for i in options]
        scores = encoder.text_embeddings(texts).numpy() @ image_vector
        k = int(np.argmax(scores))
        if scores[k] <= score:
            break
        chosen.append(options[k])
        text, score = texts[k], float(scores[k])
    parts: dict[str, list[str]] = {}
    for i in chosen:
        parts.setdefault(ranked.categories[i], []).append(ranked.phrases[i])
    return parts


STYLE_PARTS = ("medium", "style", "artist", "lighting", "color")  # how an image looks, not what it shows


def style_of(image, encoder, *, cache_dir: Path | None = None) -> dict[str, list[str]]:
    """The look of ``image`` — its best medium, style, artist, lighting and colour phrases (as ``fast``
    picks them) — for ``direct --style-image``, where the idea stays the subject."""
    vector = encoder.image_embeddings([image]).numpy()[0]
    found = pick_fast(vector, vocabulary_vectors(encoder, cache_dir=cache_dir))
    return {c: phrases for c, phrases in found.items() if c in STYLE_PARTS}


def interrogate(images: Sequence, encoder, *, captions: Sequence[str] | None = None, mode: str = "fast",
                top: int = 6, target: str = "sd15", cache_dir: Path | None = None,
                written: Sequence[str] | None = None) -> list[dict]:
    """One result per image: caption, prompt, negative prompt, parts, the prompt's CLIP similarity. With
    ``written`` (prompts a tuned LM wrote for the images, ``inversion.tuner``) those are parsed and rendered
    instead of ranking the vocabularies; the LM's own idea leads (the caption only where it wrote none)."""
    from artdirector.parse import split_prompt

    ranked = vocabulary_vectors(encoder, cache_dir=cache_dir) if written is None else None
    image_vectors = encoder.image_embeddings(list(images)).numpy()
    out = []
    for k, vector in enumerate(image_vectors):
        caption = (captions[k] if captions else "") or "an image"
        if written is not None:
            idea, parts = split_prompt(written[k])
            caption = idea or caption  # the tuned LM read the image: its idea leads, a caption only fills a gap
        elif mode == "fast":
            parts = pick_fast(vector, ranked)
        else:
            parts = pick_chain(vector, ranked, caption, encoder, top)
        out.append(_rendered(caption, parts, encoder, vector, target))
    return out


def _rendered(caption: str, parts: dict[str, list[str]], encoder, vector, target: str) -> dict:
    from artdirector.brief import Direction
    from artdirector.guards import negative_prompt
    from artdirector.render import render
    from artdirector.selection import DEFAULT_NEGATIVE

    direction = Direction(caption, {c: p for c, p in parts.items() if p})
    direction.negative = negative_prompt(direction, DEFAULT_NEGATIVE)
    shown = render(direction, target)
    similarity = float(encoder.text_embeddings([shown.prompt]).numpy()[0] @ vector)
    return {"caption": caption, "prompt": shown.prompt, "negative_prompt": shown.negative_prompt,
            "parts": {c: list(p) for c, p in direction.parts.items() if p}, "similarity": round(similarity, 4)}
