"""Training the phrase ranker of ``library.ranker`` on real prompts: ``artdirector train ranker``.

1. Ideas: one per prompt prefix of the data file (NeuroPrompts' prefix protocol, ``harness.prefix_items``),
   unsafe prompts left out, a seeded sample of ``limit``. The human's own modifiers are the labels' source.
   A model that memorised its training prompts would write them back, and the ranker would learn to trust
   it too much: check before training on them. The shipped adapter (half an epoch) did not: its phrases
   match the human's as often on 3,000 train ideas as on validation (soft precision 0.154 vs 0.153).
2. For each idea, the director's own stages 2-4: the library's closest prompts and the model's greedy answer.
   The idea's near-copies (its prompt, if the library holds it, every prompt that begins like it, shares its
   first words or nearly its modifiers) are left out of what it retrieves, so that the ranker learns to adapt
   other people's prompts rather than to copy the answer (``training.data.held_out``). Chunks are journalled to
   ``OUT/answers.jsonl``, so a killed run resumes where it stopped.
3. The features of every candidate phrase the invented-matter guard admits (``ranker.candidate_features``,
   ``guards.admissible``: the director ranks no other by default, and a human's scene detail it could never
   take would teach it that scene details are what people add). The label: does the human's prompt hold a
   phrase within the soft-match cosine (``ranker.SOFT``)?
4. A LightGBM binary model, deterministic and seeded, written with its recipe to ``OUT/ranker.txt`` and
   ``OUT/ranker.json``. ``ArtDirector.from_default(ranker=OUT)`` (``direct --ranker OUT``) uses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from artdirector.library.ranker import FEATURES, SOFT, PhraseVectors, candidate_features
from artdirector.training.data import held_out
from artdirector.training.settings import RankerSettings

JOURNAL = "answers.jsonl"


def training_items(settings: RankerSettings) -> list:
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.safety import is_unsafe

    prompts = [p for p in read_prompts(settings.data) if not is_unsafe(p)]
    return prefix_items(prompts, limit=settings.limit, seed=settings.seed)[0]


def answers(director, ideas: list[str], retrieved: dict[str, list], out: Path, chunk: int,
            progress=None) -> list[tuple[str, bool]]:
    """(text, truncated) of the model's greedy answer per idea (``retrieved``: its hits, by idea), journalled
    chunk by chunk and resumed. Only answers of the same model are reused; a line a kill cut short is written
    again."""
    journal, model = out / JOURNAL, director.lm.name
    done = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("model") == model:
                done[row["idea"]] = (row["text"], row["truncated"])
    wanted = list(dict.fromkeys(ideas))
    todo = [i for i in wanted if i not in done]
    with journal.open("a") as f:
        for start in range(0, len(todo), chunk):
            batch = todo[start:start + chunk]
            director.lm.forget()  # no cached prefix from the last chunk: a resumed run writes what a fresh one does
            decoded = director.answers(batch, [retrieved[i] for i in batch])
            for idea, d in zip(batch, decoded):
                done[idea] = (d.text, d.finish_reason == "length")
                f.write(json.dumps({"idea": idea, "text": d.text, "truncated": done[idea][1], "model": model}) + "\n")
            f.flush()
            if progress:
                progress(f"answers: {len(wanted) - len(todo) + start + len(batch)}/{len(wanted)}")
    return [done[i] for i in ideas]


def examples(items, texts, retrieved: dict[str, list], embed) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels of every candidate phrase of every idea."""
    from artdirector.guards import admissible
    from artdirector.selection import model_phrases
    from artdirector.text import normalise_phrase

    rows, labels = [], []
    for item, (text, truncated) in zip(items, texts):
        kept, _ = model_phrases(item.idea, text, truncated=truncated)
        phrases, x, *_ = candidate_features(item.idea, kept, retrieved[item.idea], embed,
                                           lambda m, idea=item.idea: admissible(m, idea))
        reference = list(dict.fromkeys(normalise_phrase(m) for m in item.modifiers))
        if not phrases or not reference:
            continue
        rows.append(x)
        labels.append(((embed(phrases) @ embed(reference).T).max(axis=1) >= SOFT).astype(np.int8))
    return np.vstack(rows), np.concatenate(labels)


def fit(x: np.ndarray, y: np.ndarray, settings: RankerSettings):
    import lightgbm

    params = {"objective": "binary", "learning_rate": settings.learning_rate, "num_leaves": settings.leaves,
              "min_data_in_leaf": settings.min_leaf, "seed": settings.seed, "deterministic": True,
              "force_row_wise": True, "num_threads": 0, "verbose": -1}
    return lightgbm.train(params, lightgbm.Dataset(x, y, feature_name=list(FEATURES)),
                          num_boost_round=settings.trees)


def train_ranker(settings: RankerSettings, director, progress=None) -> dict:
    """Steps 1-4 of the module docstring with ``director`` (an ``ArtDirector`` with a library); the summary."""
    from artdirector.errors import BadInput

    if director.library is None:
        raise BadInput("the ranker ranks retrieved prompts' modifiers: train it with a prompt library")
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    items = training_items(settings)  # 1
    if not items:
        raise BadInput(f"{settings.data} has no prompt with an idea of 3+ words and 2+ modifiers")
    ideas = [it.idea for it in items]
    retrieved = {it.idea: held_out(director.library, director.collection, it.idea, it.prompt)  # 2, once for the
                 for it in items}  # answers and the features
    texts = answers(director, ideas, retrieved, out, settings.chunk, progress)
    x, y = examples(items, texts, retrieved, PhraseVectors.of(director.library))  # 3
    booster = fit(x, y, settings)  # 4
    booster.save_model(str(out / "ranker.txt"))
    summary = {"features": list(FEATURES), "embedder": director.library.embedder.name,
               "collection": director.collection, "model": director.lm.name, "ideas": len(items),
               "candidates": int(len(y)), "positive_share": round(float(y.mean()), 4),
               "settings": {k: getattr(settings, k) for k in settings.__dataclass_fields__}}
    (out / "ranker.json").write_text(json.dumps(summary, indent=1) + "\n")
    return {"out": str(out), **{k: summary[k] for k in ("ideas", "candidates", "positive_share")}}
