"""Test-session isolation and tiers.

Every session gets its own scratch user directory (``ARTDIRECTOR_HOME``) and scratch caches for the libraries
underneath (Hugging Face, matplotlib, torch), made before anything is imported and removed at the end: no
test reads or writes the user's real cache. The prepared assets (the converted model, the built-in library)
come from the installation (``config.assets_dir``), which ``./install.sh`` fills.

Tiers: tests that load the 135M model, build image models, spawn the CLI, build a library or train are
``slow`` — marked by hand, or automatically when they use one of ``SLOW_FIXTURES``. ``pytest -m "not slow"``
is the fast tier; a plain ``pytest`` (the README's command and CI) runs everything.
"""

import os
import shutil
import tempfile

import pytest

_SCRATCH = tempfile.mkdtemp(prefix="artdirector-tests-")
for _var, _sub in (("ARTDIRECTOR_HOME", "home"), ("HF_HOME", "hf"), ("XDG_CACHE_HOME", "cache"),
                   ("MPLCONFIGDIR", "mpl"), ("TORCH_HOME", "torch")):
    os.environ[_var] = os.path.join(_SCRATCH, _sub)
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the suite may depend on the network

SLOW_FIXTURES = {"llama_lm", "torch_lm", "director", "tiny", "tiny_sd", "minilm", "embedder"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SCRATCH, ignore_errors=True)


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
    from artdirector import embedding

    return embedding.load()


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


class Loopback:
    """Real servers for tests: a free loopback port, and a process started on it that is waited for until it
    answers (its output goes to a file: a pipe nobody reads fills up and stalls the server)."""

    @staticmethod
    def free_port() -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start(self, argv: list[str], ready: str, log_dir, *, env=None, timeout: float = 120.0):
        """Run ``argv`` ("{port}" in it is replaced) until ``GET http://127.0.0.1:PORT{ready}`` answers;
        returns the base URL and the process (the caller terminates it)."""
        import subprocess
        import time

        import requests

        port = self.free_port()
        log = open(log_dir / "server.log", "w+")
        proc = subprocess.Popen([a.replace("{port}", str(port)) for a in argv], env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
        url, deadline = f"http://127.0.0.1:{port}", time.time() + timeout
        while True:
            try:
                if requests.get(url + ready, timeout=2).ok:
                    return url, proc
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail(f"{argv[:3]} did not start: {log.read()[-2000:]}")
            time.sleep(0.2)


    @staticmethod
    def serve(app):
        """An ASGI ``app`` on a real uvicorn server in a thread of this process (``.url``; ``.stop()``)."""
        return InThreadServer(app)


class InThreadServer:
    def __init__(self, app):
        import threading
        import time

        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def loopback():
    return Loopback()
