"""Image generation on a running AUTOMATIC1111-compatible server (A1111, Forge, SD.Next) through its web API.

Many users keep their checkpoints, LoRAs and GPU inside such a server. Started with ``--api``, it serves
``POST /sdapi/v1/txt2img`` (prompt, negative prompt, seed, steps, CFG scale, size, sampler → base64 PNGs
and an ``info`` JSON string with the seeds actually used) and ``GET /sdapi/v1/options`` (the loaded
checkpoint in ``sd_model_checkpoint``). Prompts go over as written: the server applies its own
``(word:1.2)`` weighting and handles prompts past 77 tokens itself.

One request per sample: a server batch derives seeds as seed, seed+1, … for its images, whereas best-of-n
needs any (prompt, seed) pair to give the same picture however it was batched.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence

from artdirector.imaging.base import GenerationSettings, ImageGenerator, ImageModelError, Sample

DEFAULT_SAMPLER = "Euler a"
HOW_TO_START = "start the server with --api (and --listen if it runs on another machine)"


def is_server_url(model: str) -> bool:
    return model.startswith(("http://", "https://"))


class A1111Generator(ImageGenerator):
    kind = "image"

    def __init__(self, url: str, checkpoint: str, *, sampler: str = DEFAULT_SAMPLER, target: str = "sd15",
                 timeout: float = 600.0, loras: Sequence = ()):
        import requests

        self.loras = list(loras)  # imaging.lora.Lora by name: sent as <lora:NAME:WEIGHT> tags, the server applies
        self.url = url.rstrip("/")
        self.checkpoint = checkpoint
        self.sampler = sampler
        self.target = target
        self.timeout = timeout
        self.device = "server"
        self.name = f"{self.url} ({checkpoint})"
        self.notes = [f"images rendered by the server at {self.url}; no local model memory used"]
        self._session = requests.Session()

    @classmethod
    def from_url(cls, url: str, *, sampler: str = DEFAULT_SAMPLER, timeout: float = 600.0,
                 loras: Sequence = ()) -> A1111Generator:
        """Connect and read the loaded checkpoint; its name decides the prompt style (``xl`` in it: SDXL)."""
        options = _call("GET", f"{url.rstrip('/')}/sdapi/v1/options", timeout=30)
        checkpoint = str(options.get("sd_model_checkpoint") or "unknown checkpoint")
        target = "sdxl" if "xl" in checkpoint.lower() else "sd15"
        return cls(url, checkpoint, sampler=sampler, target=target, timeout=timeout, loras=loras)

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], settings: GenerationSettings,
                 negative_prompts: Sequence[str] | None = None) -> list[Sample]:
        from PIL import Image

        negatives = list(negative_prompts) if negative_prompts is not None else [""] * len(prompts)
        if not len(prompts) == len(seeds) == len(negatives):
            raise ValueError("prompts, seeds and negative prompts must be as many")
        samples = []
        tags = "".join(" " + lora.tag for lora in self.loras)
        for prompt, seed, negative in zip(prompts, seeds, negatives):
            payload = {"prompt": prompt + tags, "negative_prompt": negative, "seed": int(seed), "steps": settings.steps,
                       "cfg_scale": settings.guidance, "sampler_name": self.sampler, "batch_size": 1, "n_iter": 1,
                       "send_images": True, "save_images": False}
            if settings.width is not None:
                payload["width"] = settings.width
            if settings.height is not None:
                payload["height"] = settings.height
            answer = _call("POST", f"{self.url}/sdapi/v1/txt2img", json_body=payload, timeout=self.timeout,
                           session=self._session)
            images = answer.get("images") or []
            if not images:
                raise ImageModelError(f"the server at {self.url} answered without an image")
            image = Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[-1])))
            image.load()
            info = answer.get("info")
            info = json.loads(info) if isinstance(info, str) and info.startswith("{") else {}
            samples.append(Sample(prompt, negative, int(seed), [image.convert("RGB")], settings, self.name,
                                  extra={"server": self.url, "sampler": self.sampler,
                                         "server_seed": info.get("seed", seed),
                                         **({"loras": [lo.to_json() for lo in self.loras]} if self.loras else {})}))
        return samples

    def close(self) -> None:
        self._session.close()


def _call(method: str, url: str, *, json_body: dict | None = None, timeout: float, session=None) -> dict:
    """One API call; connection failures and HTTP errors become one actionable line."""
    import requests

    try:
        response = (session or requests).request(method, url, json=json_body, timeout=timeout)
    except requests.RequestException as e:
        raise ImageModelError(f"cannot reach an AUTOMATIC1111-compatible server at {url} ({type(e).__name__}); "
                              f"{HOW_TO_START}") from None
    if response.status_code == 404:
        raise ImageModelError(f"{url} answered 404: the server is up but its API is off; {HOW_TO_START}")
    if not response.ok:
        try:
            detail = response.json()
            detail = detail.get("detail") or detail.get("error") or detail
        except ValueError:
            detail = response.text[:200]
        raise ImageModelError(f"the server at {url} refused the request (HTTP {response.status_code}): {detail}")
    try:
        return response.json()
    except ValueError:
        raise ImageModelError(f"{url} did not answer JSON: is it an AUTOMATIC1111-compatible server?") from None
