"""``artdirector eval invert``: how well images come back as prompts, with the baselines beside every system.

Data: JSON Lines of ``{"image", "prompt"}`` (the same pairs ``train tuner`` reads; ``prompt`` is the reference —
the prompt that made the image, or a human caption). Systems, each run over every readable image:

- ``reference``: the pair's own prompt — the bar, scored by the same metrics (its BLEU/CIDEr would be perfect
  by definition and are left out);
- ``caption-only``: the captioner's caption as the prompt (needs ``--captioner``);
- ``interrogator-only``: the CLIP-ranked vocabulary phrases alone, no caption;
- ``invert-fast`` / ``invert-best``: what ``artdirector invert`` writes (caption + ranking, rendered);
- ``tuner``: what the visual prompt tuner's LM writes (needs ``--tuner``).

Metrics (each per system, mean over images, ``None`` when it cannot be computed with the models given; the
report's ``not_computed`` says why):

- ``clip_similarity``: cosine of the prompt's CLIP text embedding with the image's (CLIP-Score without the
  ×100 rescale) — text against image, what the interrogator itself optimises, so not the last word;
- ``regen_similarity``: with ``--image-model``, the prompt is rendered again (one fixed seed for every
  system) and the new image's CLIP image embedding is compared with the original's — inversion judged by the
  image it reproduces, VDPO's own criterion;
- ``fid_clip``: Fréchet distance between the original images' and the regenerated images' CLIP image features
  (clean-fid's "CLIP-FID"; Inception FID's backbone and LPIPS' need torchvision, see ``NOT_HERE``); a set
  statistic, noisy below a few hundred images (the report gives n);
- ``bleu_1``, ``bleu_4``, ``cider``: against the reference prompt, by the COCO caption evaluation code
  (``pycocoevalcap``, what ClipCap and VDPO report), on lower-cased word tokens (its PTB tokenizer needs Java);
- ``words``: mean prompt length in words (BLEU favours short, CLIP-Score long prompts: read them together).

Stages keep one model resident at a time: captioner → tuner → CLIP → image pipeline → CLIP again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from artdirector.errors import BadInput

SYSTEMS = ("reference", "caption-only", "interrogator-only", "invert-fast", "invert-best", "tuner")
METRICS = ("clip_similarity", "regen_similarity", "fid_clip", "bleu_1", "bleu_4", "cider", "words")
NEEDS = {"caption-only": "captioner", "tuner": "tuner"}
NOT_HERE = {"lpips": "LPIPS' backbones (AlexNet/VGG) come from torchvision, which breaks transformers on this "
                     "project's reference machine; not built",
            "fid_inception": "Inception FID's network comes from torchvision too; fid_clip is the same Fréchet "
                             "distance in CLIP's feature space"}
if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> str:
    """Lower-cased word tokens joined by spaces: what BLEU and CIDEr count."""
    return " ".join(_WORD.findall(text.lower()))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (rows are samples), as FID defines it:
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2). Written out (six lines) because the packages that ship it
    (pytorch-fid, clean-fid, torch-fidelity) import torchvision."""
    import warnings

    import numpy as np
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # singular with fewer images than dimensions: expected, handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # a singular product (fewer images than dimensions): FID's usual jitter
        jitter = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + jitter) @ (cov_b + jitter))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def caption_scores(references: Sequence[str], prompts: Sequence[str]) -> dict[str, float]:
    """BLEU-1, BLEU-4 and CIDEr-D of ``prompts`` against one reference each (COCO caption evaluation code)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    gts = {k: [words(r) or "empty"] for k, r in enumerate(references)}
    res = {k: [words(p) or "empty"] for k, p in enumerate(prompts)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)
    return {"bleu_1": float(bleu[0]), "bleu_4": float(bleu[3]), "cider": float(cider)}


def check_systems(names: Sequence[str] | None, *, captioner: str | None, tuner: str | None) -> list[str]:
    """The systems to run: those named (each must be known and have its model), or every one the given models
    allow."""
    given = {"captioner": captioner, "tuner": tuner}
    if names is None:
        return [s for s in SYSTEMS if s not in NEEDS or given[NEEDS[s]]]
    for name in names:
        if name not in SYSTEMS:
            raise BadInput(f"unknown system {name!r}; valid: {', '.join(SYSTEMS)}")
        if name in NEEDS and not given[NEEDS[name]]:
            raise BadInput(f"system {name} needs --{NEEDS[name]}")
    if not names:
        raise BadInput("no systems given")
    return list(dict.fromkeys(names))


def evaluate_inversion(pairs: Sequence[dict], *, clip: str, out: Path, captioner: str | None = None,
                       tuner: str | None = None, generator: Callable | None = None, settings=None,
                       systems: Sequence[str] | None = None, top: int = 6, target: str = "sd15", seed: int = 0,
                       device: str | None = None, config: dict | None = None) -> dict:
    """Score every system on ``pairs`` (rows with ``image``, a path, and ``prompt``) and write ``report.json``,
    ``report.md``, ``metrics.png`` and the regenerated images to ``out``. ``generator`` loads an
    ``ImageGenerator`` (regenerate-and-compare), e.g. ``ImageStages(job).generator``."""
    import numpy as np

    from artdirector.imaging.base import GenerationSettings
    from artdirector.inversion.captioner import check_captioner
    from artdirector.inversion.interrogate import interrogate
    from artdirector.inversion.invert import captions_of, open_image, read_images, tuned_prompts
    from artdirector.scoring.base import ClipEncoder, check_model_ref

    names = check_systems(systems, captioner=captioner, tuner=tuner)
    check_model_ref("clip", clip)
    if captioner:
        check_captioner(captioner)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def timed(stage: str, start: float) -> None:
        seconds[stage] = round(seconds.get(stage, 0.0) + time.perf_counter() - start, 3)

    # 1. Read the images; the unreadable ones are reported and left out.
    start = time.perf_counter()
    found, errors = read_images([Path(row["image"]) for row in pairs])
    rows, images, skipped = [pairs[k] for k in sorted(found)], [found[k] for k in sorted(found)], list(errors.values())
    if not rows:
        raise BadInput("no readable image in the data: " + (skipped[0] if skipped else "it is empty"))
    references = [r["prompt"] for r in rows]
    timed("read", start)
    # 2. Caption, then release the captioner.
    captions = None
    if captioner:
        start = time.perf_counter()
        captions = captions_of(images, captioner, device=device)
        timed("caption", start)
    # 3. The tuned LM writes its prompts, then is released.
    written = None
    if "tuner" in names:
        start = time.perf_counter()
        written = tuned_prompts(images, tuner)
        timed("tuner", start)
    # 4. CLIP: every system's prompts, and their similarity to the image.
    start = time.perf_counter()
    encoder = ClipEncoder.from_pretrained(clip, device=device, scorer="clip")
    prompts: dict[str, list[str]] = {}
    for name in names:
        if name == "reference":
            prompts[name] = list(references)
        elif name == "caption-only":
            prompts[name] = list(captions)
        elif name == "interrogator-only":
            found = interrogate(images, encoder, mode="fast", target=target)
            prompts[name] = [", ".join(p for ps in r["parts"].values() for p in ps) or "an image" for r in found]
        elif name == "tuner":
            found = interrogate(images, encoder, captions=captions, target=target, written=written)
            prompts[name] = [r["prompt"] for r in found]
        else:
            mode = name.split("-", 1)[1]
            found = interrogate(images, encoder, captions=captions, mode=mode, top=top, target=target)
            prompts[name] = [r["prompt"] for r in found]
    originals = encoder.image_embeddings(images).numpy()
    table = {name: {m: None for m in METRICS} for name in names}
    for name in names:
        text = encoder.text_embeddings(prompts[name]).numpy()
        table[name]["clip_similarity"] = float((text * originals).sum(1).mean())
        table[name]["words"] = float(np.mean([len(words(p).split()) for p in prompts[name]]))
    encoder.close()
    timed("clip", start)
    # 5. Regenerate every system's prompts with one seed, then compare images in CLIP's image space.
    regenerated: dict[str, list[str]] = {}
    if generator is not None:
        start = time.perf_counter()
        model = generator()
        settings = settings or GenerationSettings()
        for name in names:
            folder = out / "regenerated" / name
            folder.mkdir(parents=True, exist_ok=True)
            samples = model.generate(prompts[name], [seed] * len(rows), settings)
            regenerated[name] = []
            for k, sample in enumerate(samples):
                path = folder / f"{k:05d}.png"
                sample.image.save(path)
                regenerated[name].append(str(path))
        model.close()
        timed("regenerate", start)
        start = time.perf_counter()
        encoder = ClipEncoder.from_pretrained(clip, device=device, scorer="clip")
        for name in names:
            again = encoder.image_embeddings([open_image(Path(p)) for p in regenerated[name]]).numpy()
            table[name]["regen_similarity"] = float((again * originals).sum(1).mean())
            if len(rows) >= 2:
                table[name]["fid_clip"] = frechet_distance(originals.astype(np.float64), again.astype(np.float64))
        encoder.close()
        timed("compare", start)
    # 6. Text overlap with the reference prompt.
    for name in names:
        if name != "reference":
            table[name].update(caption_scores(references, prompts[name]))
    # 7. Report.
    not_computed = dict(NOT_HERE)
    if generator is None:
        not_computed.update(regen_similarity="no --image-model given", fid_clip="no --image-model given")
    elif len(rows) < 2:
        not_computed["fid_clip"] = "needs at least 2 images"
    given = {"captioner": captioner, "tuner": tuner}
    for name, need in NEEDS.items():
        if name not in names:
            not_computed[name] = "not among the systems asked for" if given[need] else f"no --{need} given"
    report = {"n": len(rows), "skipped": skipped, "systems": table, "not_computed": not_computed,
              "seconds": seconds, "config": config or {}}
    results = [{"image": row["image"], "reference": row["prompt"],
                "prompts": {name: prompts[name][k] for name in names},
                **({"regenerated": {name: regenerated[name][k] for name in names}} if regenerated else {})}
               for k, row in enumerate(rows)]
    with open(out / "results.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _write_markdown(out, report, results)
    from artdirector.evaluation.report import bar_charts

    bar_charts(out / "metrics.png", table, METRICS, reference="reference")
    return report


def _write_markdown(out: Path, report: dict, results: list[dict], examples: int = 5) -> None:
    from artdirector.evaluation.report import markdown_table

    names = list(report["systems"])
    lines = [f"# Inversion evaluation: {report['n']} images ({len(report['skipped'])} unreadable)", "",
             *markdown_table(names, report["systems"], METRICS), "", "Not computed:", ""]
    lines += [f"- {metric}: {why}" for metric, why in report["not_computed"].items()]
    lines += ["", "Metric definitions: `artdirector/evaluation/inversion.py`. Config:", "", "```json",
              json.dumps(report["config"], indent=2), "```", "", "## Examples", ""]
    for r in results[:examples]:
        lines += [f"**{r['image']}**", ""] + [f"- {name}: {r['prompts'][name]}" for name in names] + [""]
    (out / "report.md").write_text("\n".join(lines))
