"""The AUTOMATIC1111 server backend against a stand-in that speaks the same HTTP API.

A real A1111/Forge server needs model weights and a GPU stack that this machine lacks, so the stand-in below
implements the two endpoints the backend uses, with A1111's request and response shapes: the test checks
what reaches the server and how the answers come back, through real HTTP.
"""

import base64
import io
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from artdirector.imaging.a1111_backend import A1111Generator
from artdirector.imaging.base import GenerationSettings, ImageModelError


class StandIn(BaseHTTPRequestHandler):
    checkpoint = "sd_xl_base_1.0.safetensors [31e35c80fc]"
    requests: list = []
    fail_with: int | None = None

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/sdapi/v1/options":
            self._send(200, {"sd_model_checkpoint": self.checkpoint, "CLIP_stop_at_last_layers": 1})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self):
        if self.path != "/sdapi/v1/txt2img":
            return self._send(404, {"detail": "Not Found"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if self.fail_with:
            return self._send(self.fail_with, {"error": "OutOfMemoryError", "detail": "CUDA out of memory"})
        # A picture that depends on (prompt, seed) only, like a deterministic sampler.
        rng = np.random.default_rng([body["seed"], len(body["prompt"])])
        pixels = rng.integers(0, 255, (body.get("height", 512) // 8, body.get("width", 512) // 8, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).resize((body.get("width", 512), body.get("height", 512))).save(buffer, "PNG")
        info = {"seed": body["seed"], "all_seeds": [body["seed"]], "prompt": body["prompt"]}
        self._send(200, {"images": [base64.b64encode(buffer.getvalue()).decode()], "parameters": body,
                         "info": json.dumps(info)})


@pytest.fixture
def server():
    StandIn.requests, StandIn.fail_with = [], None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_requests_carry_every_setting_and_samples_come_back_in_order(server):
    gen = A1111Generator.from_url(server + "/")
    assert gen.target == "sdxl" and "sd_xl_base" in gen.name  # the checkpoint name decides the prompt style
    settings = GenerationSettings(steps=7, guidance=5.5, width=64, height=48)
    samples = gen.generate(["a red fox, (snow:1.2)", "a lighthouse"], [3, 9], settings, ["blurry", "text"])
    sent = StandIn.requests
    assert [r["prompt"] for r in sent] == ["a red fox, (snow:1.2)", "a lighthouse"]  # weighting left to the server
    assert [r["negative_prompt"] for r in sent] == ["blurry", "text"] and [r["seed"] for r in sent] == [3, 9]
    assert all(r["steps"] == 7 and r["cfg_scale"] == 5.5 and (r["width"], r["height"]) == (64, 48)
               and r["batch_size"] == 1 and r["sampler_name"] == "Euler a" for r in sent)
    assert [s.seed for s in samples] == [3, 9] and samples[0].image.size == (64, 48)
    assert samples[0].extra["server_seed"] == 3
    again = gen.generate(["a lighthouse"], [9], settings, ["text"])[0]
    assert np.array_equal(np.asarray(again.image), np.asarray(samples[1].image))  # same pair, same picture


def test_native_size_is_left_to_the_server(server):
    A1111Generator.from_url(server).generate(["a fox"], [1], GenerationSettings(steps=2))
    assert "width" not in StandIn.requests[0] and "height" not in StandIn.requests[0]


def test_server_errors_are_one_actionable_line(server):
    StandIn.fail_with = 500
    with pytest.raises(ImageModelError, match=r"refused the request \(HTTP 500\): CUDA out of memory"):
        A1111Generator.from_url(server).generate(["a fox"], [1], GenerationSettings(steps=2))
    with pytest.raises(ImageModelError, match="cannot reach.*--api"):
        A1111Generator.from_url("http://127.0.0.1:9")  # nothing listens on the discard port
    StandIn.checkpoint, original = "v1-5-pruned-emaonly.safetensors", StandIn.checkpoint
    try:
        assert A1111Generator.from_url(server).target == "sd15"
    finally:
        StandIn.checkpoint = original


def test_generate_command_on_a_server(server, tiny, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "artdirector.cli", "generate", "a red fox in snow", "--image-model", server, "--n", "2",
         "--steps", "2", "--width", "64", "--height", "64", "--score", f"clip={tiny.clip}", "--out",
         str(tmp_path / "run"), "--json"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["target"] == "sdxl" and report["device"] == "server" and len(report["images"]) == 2
    assert [q["prompt"] for q in StandIn.requests] == [im["prompt"] for im in report["images"]]
    assert report["best"] == max(report["images"], key=lambda im: im["scores"]["clip"])
    bad = subprocess.run(
        [sys.executable, "-m", "artdirector.cli", "generate", "a fox", "--image-model", server,
         "--motion-adapter", "x"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "server URL renders images only" in bad.stderr
    local = subprocess.run(
        [sys.executable, "-m", "artdirector.cli", "generate", "a fox", "--image-model", server, "--offload", "model",
         "--dtype", "float16"], capture_output=True, text=True, timeout=120)
    assert local.returncode == 2 and "dtype, offload apply to local pipelines" in local.stderr


def test_loras_reach_the_server_as_its_own_prompt_tags(server):
    from artdirector.imaging.lora import parse_lora, split_tags
    from artdirector.imaging.metadata import a1111_parameters

    idea, tagged = split_tags("a red fox <lora:pixelart:0.8>", local=False)
    gen = A1111Generator.from_url(server, loras=[parse_lora("ink_wash=0.5", local=False), *tagged])
    sample = gen.generate([f"{idea}, snow"], [1], GenerationSettings(steps=2))[0]
    assert StandIn.requests[0]["prompt"] == "a red fox, snow <lora:ink_wash:0.5> <lora:pixelart:0.8>"
    assert sample.prompt == "a red fox, snow" and [lo["name"] for lo in sample.extra["loras"]] == ["ink_wash",
                                                                                                   "pixelart"]
    assert a1111_parameters(sample).splitlines()[0] == StandIn.requests[0]["prompt"]  # what the server was sent
