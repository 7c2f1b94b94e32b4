"""Image-side speed on this machine: the tiny random-weight pipeline and scorers (a scaling figure for the
plumbing, not image quality — real checkpoints are 100–1000x larger; see README "Images" for estimates).

- seconds per image at batch 2 and batch 8 (same prompts and seeds, median of repeats, side by side in one
  process), and the peak RSS of each configuration, measured in its own subprocess so peaks do not mix;
- scorer throughput (images/s) for each scorer on the tiny CLIP / BLIP, embeddings cache cleared each repeat.

    .venv/bin/python bench/bench_images.py [--repeats 5] [--out bench/results/images.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["a red fox in snow, oil painting", "a lighthouse in a storm, dramatic lighting", "a cat on a roof",
           "a castle at dusk, matte painting"]


def one_config(model: str, batch: int, images: int, repeats: int, size: int, steps: int) -> dict:
    """Run in a subprocess: seconds per image and this process's peak RSS."""
    import resource

    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.diffusers_backend import DiffusersGenerator

    gen = DiffusersGenerator.from_pretrained(model, batch_size=batch)
    settings = GenerationSettings(steps=steps, width=size, height=size)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(images)]
    gen.generate(prompts[:batch], list(range(batch)), settings)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gen.generate(prompts, list(range(images)), settings)
        times.append((time.perf_counter() - start) / images)
    return {"batch": batch, "images": images, "seconds_per_image_p50": round(statistics.median(times), 4),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def scorer_throughput(models, repeats: int, n: int = 64) -> dict:
    import numpy as np
    from PIL import Image

    from artdirector.scoring import load_scorer

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(n)]
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    out = {}
    for name, model in models.items():
        scorer = load_scorer(name, model)
        scorer(prompts[:4], images[:4])  # warm-up
        rates = []
        for _ in range(repeats):
            encoder = getattr(scorer, "encoder", None)
            if encoder is not None:
                encoder._images.clear()
                encoder._texts.clear()
            start = time.perf_counter()
            scorer(prompts, images)
            rates.append(n / (time.perf_counter() - start))
        out[name] = {"images_per_s_p50": round(statistics.median(rates), 1)}
        scorer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "images.json"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: MODEL,BATCH,IMAGES for a subprocess
    args = parser.parse_args()
    if args.one:
        model, batch, images = args.one.split(",")
        print(json.dumps(one_config(model, int(batch), int(images), args.repeats, args.size, args.steps)))
        return

    from artdirector.imaging import testing as T

    report = {"pipeline": f"tiny StableDiffusionPipeline, {args.size}x{args.size} px, {args.steps} steps, CPU"}
    with tempfile.TemporaryDirectory() as tmp:
        sd = T.save_tiny_sd(Path(tmp) / "sd")
        clip = T.save_tiny_clip(Path(tmp) / "clip", aesthetic_head=True)
        blip = T.save_tiny_imagereward(Path(tmp) / "blip")
        configs = []
        for batch in (2, 8):
            r = subprocess.run([sys.executable, __file__, "--one", f"{sd},{batch},8", "--repeats",
                                str(args.repeats), "--size", str(args.size), "--steps", str(args.steps)],
                               capture_output=True, text=True, check=True)
            configs.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(json.dumps(configs[-1]), flush=True)
        report["generation"] = configs
        report["batch8_vs_batch2_speedup"] = round(configs[0]["seconds_per_image_p50"]
                                                   / configs[1]["seconds_per_image_p50"], 2)
        report["scorers"] = scorer_throughput({"clip": str(clip), "aesthetic": str(clip), "pickscore": str(clip),
                                               "hps": str(clip), "imagereward": str(blip)}, args.repeats)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
