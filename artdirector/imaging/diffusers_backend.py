"""Images and clips from any diffusers text-to-image pipeline (and AnimateDiff for video).

``DiffusersGenerator.from_pretrained`` takes a local folder or a hub id: SD 1.5/2.x, SDXL, SD-Turbo and
SDXL-Turbo, LCM, SD3 and FLUX, whatever ``DiffusionPipeline`` loads. A pipeline is text-to-image when its
``__call__`` takes a ``prompt`` and needs no input ``image``; anything else (img2img, inpainting, upscalers,
image-to-video) is refused by name before its weights load.

Prompt weighting and prompts past CLIP's 77 tokens go through compel (``(word)1.3``, ``word++``) for the
SD 1.x/2.x, SDXL and AnimateDiff families: compel encodes long prompts in 77-token chunks instead of cutting
them off. Other families get the plain prompt.

Seeds are per sample: each image's initial noise comes from its own CPU ``torch.Generator``, so an image
depends only on (prompt, seed, settings) and not on the batch it was drawn in or on the device.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path

from artdirector.imaging.base import GenerationSettings, ImageGenerator, ImageModelError, Sample
from artdirector.imaging.devices import free_memory, pick_device, pick_dtype

OFFLOAD = ("none", "model", "sequential")
HOW_TO_SUPPLY = ("give --image-model a local diffusers folder (with model_index.json, e.g. one saved by "
                 "save_pretrained or downloaded with `hf download stabilityai/sd-turbo --local-dir DIR`), a "
                 "hub id on a machine that can reach the Hugging Face hub, or the http:// URL of an "
                 "AUTOMATIC1111-compatible server started with --api")


def pipeline_class_name(model: str) -> str:
    """The pipeline class a folder or hub id declares (``model_index.json``), without loading weights."""
    path = Path(model).expanduser()
    if path.exists():
        index = path / "model_index.json"
        if not index.is_file():
            raise ImageModelError(f"{model} is not a diffusers pipeline folder (no model_index.json); "
                                  f"{HOW_TO_SUPPLY}")
        return json.loads(index.read_text())["_class_name"]
    if model.startswith((".", "/", "~")) or os.sep in model.strip("/").replace("/", "", 1):
        raise ImageModelError(f"no such folder: {model}; {HOW_TO_SUPPLY}")
    try:
        from diffusers import DiffusionPipeline

        return DiffusionPipeline.load_config(model)["_class_name"]
    except Exception as e:  # offline, unknown id, gated repo: all say the same to the user
        raise ImageModelError(f"cannot fetch the image model {model!r} from the hub ({type(e).__name__}); "
                              f"{HOW_TO_SUPPLY}") from None


def check_text_to_image(class_name: str):
    """The diffusers pipeline class, if it makes images from text; refuse it by name otherwise."""
    import diffusers

    cls = getattr(diffusers, class_name, None)
    if cls is None:
        raise ImageModelError(f"{class_name} is not a pipeline this diffusers ({diffusers.__version__}) knows; "
                              "upgrade diffusers or pick another model")
    params = inspect.signature(cls.__call__).parameters
    needs = [name for name in ("image", "init_image", "mask_image", "control_image") if name in params]
    if "prompt" not in params or needs:
        why = f"it needs an input {needs[0]}" if needs else "it takes no text prompt"
        raise ImageModelError(f"{class_name} is not a text-to-image pipeline ({why}); give a text-to-image "
                              "model such as StableDiffusionPipeline, StableDiffusionXLPipeline or FluxPipeline")
    return cls


def target_for(class_name: str) -> str:
    if "AnimateDiff" in class_name:
        return "video"
    if "XL" in class_name:
        return "sdxl"
    if "StableDiffusion3" in class_name:
        return "sd3"
    if any(name in class_name for name in ("Flux", "Sana", "Lumina")):
        return "flux"
    return "sd15"


class DiffusersGenerator(ImageGenerator):
    def __init__(self, pipe, *, name: str, device: str, batch_size: int = 4, weighting: bool = True,
                 notes: Sequence[str] = (), loras: Sequence = ()):
        self.pipe = pipe
        self.loras = [lora.to_json() for lora in loras]  # recorded with every sample (hashed once, here)
        self.name = name
        self.device = device
        self.batch_size = batch_size
        cls = type(pipe).__name__
        self.kind = "video" if "AnimateDiff" in cls else "image"
        self.target = target_for(cls)
        self.notes = list(notes)  # what was done to make it fit or run: said in the output
        self._compel = self._make_compel() if weighting else None
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def from_pretrained(cls, model: str, *, device: str | None = None, dtype: str | None = None,
                        safety_checker: bool = True, offload: str = "none", motion_adapter: str | None = None,
                        batch_size: int = 4, weighting: bool = True, loras: Sequence = ()) -> DiffusersGenerator:
        """Load a text-to-image pipeline (or, with ``motion_adapter``, AnimateDiff over it).

        ``offload``: "none" keeps the whole pipeline on the device; "model" moves each component there only
        while it runs (accelerate; roughly halves peak memory, small slowdown); "sequential" streams
        sub-modules (lowest memory, several times slower). ``loras`` (``imaging.lora.Lora``) are loaded and
        weighted before the pipeline moves to its device; one that does not fit is refused here."""
        if offload not in OFFLOAD:
            raise ImageModelError(f"unknown offload {offload!r}; valid: {', '.join(OFFLOAD)}")
        class_name = pipeline_class_name(model)
        pipeline_cls = check_text_to_image(class_name)
        device = pick_device(device)
        torch_dtype = pick_dtype(device, class_name, dtype)
        kwargs, notes = {"dtype": torch_dtype}, []
        if motion_adapter:
            from diffusers import AnimateDiffPipeline, AnimateDiffSDXLPipeline, MotionAdapter

            if not (Path(motion_adapter) / "config.json").is_file() and Path(motion_adapter).exists():
                raise ImageModelError(f"{motion_adapter} is not a MotionAdapter folder (no config.json)")
            kwargs["motion_adapter"] = MotionAdapter.from_pretrained(motion_adapter, dtype=torch_dtype)
            pipeline_cls = AnimateDiffSDXLPipeline if "XL" in class_name else AnimateDiffPipeline
        params = inspect.signature(pipeline_cls.__init__).parameters
        if not safety_checker and "safety_checker" in params:
            kwargs.update(safety_checker=None, requires_safety_checker=False)
            notes.append("safety checker off (asked for)")
        try:
            pipe = pipeline_cls.from_pretrained(model, **kwargs)
        except (OSError, ValueError, TypeError) as e:
            raise ImageModelError(f"cannot load {model} as {pipeline_cls.__name__}: {e}; {HOW_TO_SUPPLY}") from None
        if loras:
            from artdirector.imaging.lora import apply

            apply(pipe, loras)
            notes.append("LoRA: " + ", ".join(lo.tag for lo in loras))
        if offload == "none" or device == "cpu":
            pipe.to(device)
            if offload != "none":
                notes.append(f"offload={offload} ignored on the CPU (nothing to offload to)")
        elif offload == "model":
            pipe.enable_model_cpu_offload(device=device)
            notes.append("model CPU offload: each component moves to the GPU only while it runs")
        else:
            pipe.enable_sequential_cpu_offload(device=device)
            notes.append("sequential CPU offload: sub-modules stream to the GPU (lowest memory, slowest)")
        name = Path(model).name if Path(model).exists() else model
        return cls(pipe, name=name, device=device, batch_size=batch_size, weighting=weighting, notes=notes,
                   loras=loras)

    def _make_compel(self):
        cls = type(self.pipe).__name__
        try:
            from compel import CompelForSD, CompelForSDXL
        except ImportError:
            return None
        if "XL" in cls and hasattr(self.pipe, "text_encoder_2"):
            return CompelForSDXL(self.pipe, device=self.device)
        if cls in ("StableDiffusionPipeline", "AnimateDiffPipeline", "LatentConsistencyModelPipeline"):
            return CompelForSD(self.pipe, device=self.device)
        return None

    def _conditioning(self, prompts: list[str], negatives: list[str]) -> dict:
        """Pipeline keyword arguments for the text: compel embeddings where it applies, else the strings."""
        if self._compel is not None:
            try:
                import torch

                with torch.no_grad():
                    c = self._compel(prompts, negative_prompt=negatives)
                out = {"prompt_embeds": c.embeds, "negative_prompt_embeds": c.negative_embeds}
                if c.pooled_embeds is not None:
                    out.update(pooled_prompt_embeds=c.pooled_embeds,
                               negative_pooled_prompt_embeds=c.negative_pooled_embeds)
                return out
            except Exception as e:  # compel's parser rejects some punctuation; the plain prompt still works
                self.notes.append(f"prompt weighting skipped ({type(e).__name__}: {e}); prompt passed as written")
        out = {"prompt": prompts}
        if "negative_prompt" in inspect.signature(type(self.pipe).__call__).parameters:
            out["negative_prompt"] = negatives
        return out

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], settings: GenerationSettings,
                 negative_prompts: Sequence[str] | None = None) -> list[Sample]:
        import torch

        if len(prompts) != len(seeds):
            raise ValueError("one seed per prompt")
        negatives = list(negative_prompts) if negative_prompts is not None else [""] * len(prompts)
        call = {"num_inference_steps": settings.steps, "guidance_scale": settings.guidance}
        if settings.width:
            call.update(width=settings.width, height=settings.height or settings.width)
        elif settings.height:
            call.update(width=settings.height, height=settings.height)
        if self.kind == "video":
            call["num_frames"] = settings.frames
        samples = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            ps, ns, ss = list(prompts[chunk]), negatives[chunk], list(seeds[chunk])
            generators = [torch.Generator("cpu").manual_seed(int(s)) for s in ss]
            with torch.inference_mode():
                out = self.pipe(**self._conditioning(ps, ns), generator=generators, output_type="pil", **call)
            frames = out.frames if self.kind == "video" else [[im] for im in out.images]
            flags = getattr(out, "nsfw_content_detected", None) or [None] * len(ps)
            for p, n, s, f, flag in zip(ps, ns, ss, frames, flags):
                samples.append(Sample(prompt=p, negative_prompt=n, seed=s, frames=list(f), settings=settings,
                                      model=self.name, nsfw=flag, extra={"loras": self.loras} if self.loras else {}))
        return samples

    @property
    def sampler(self) -> str:
        return type(self.pipe.scheduler).__name__

    def close(self) -> None:
        self.pipe = None
        self._compel = None
        free_memory()
