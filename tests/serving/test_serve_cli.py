"""``artdirector serve`` as a user starts it: the embedded model behind a token, on a loopback port."""

import json
import os
import subprocess
import sys

import pytest
import requests


@pytest.mark.slow
def test_serve_with_a_token_answers_what_direct_prints(loopback, tmp_path):
    env = {**os.environ, "ARTDIRECTOR_TOKEN": "T0ken"}
    url, proc = loopback.start([sys.executable, "-m", "artdirector.cli", "serve", "--port", "{port}"], "/healthz",
                               tmp_path, env=env)
    try:
        body = {"idea": "a red fox in snow"}
        assert requests.post(f"{url}/v1/direct", json=body, timeout=60).status_code == 401
        r = requests.post(f"{url}/v1/direct", json=body, headers={"Authorization": "Bearer T0ken"}, timeout=60)
        assert r.status_code == 200, r.text
        served = r.json()
    finally:
        proc.terminate()
        proc.wait(30)
    printed = json.loads(subprocess.run([sys.executable, "-m", "artdirector.cli", "direct", "a red fox in snow",
                                         "--json"], capture_output=True, text=True, check=True).stdout)
    assert served["prompt"] == printed["prompt"] and served["model"] == printed["model"]
    assert served["negative_prompt"] == printed["negative_prompt"] and served["parts"] == printed["parts"]


@pytest.mark.slow
def test_serve_with_an_image_model_renders_as_typed_and_directed(loopback, tmp_path, tiny):
    argv = [sys.executable, "-m", "artdirector.cli", "serve", "--port", "{port}", "--image-model", tiny.sd, "--steps",
            "2", "--width", "64", "--height", "64", "--score", f"clip={tiny.clip}", "--images-dir",
            str(tmp_path / "served")]
    url, proc = loopback.start(argv, "/healthz", tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    try:
        assert requests.get(f"{url}/healthz", timeout=10).json()["images"]["scorers"] == ["clip"]
        r = requests.post(f"{url}/v1/generate", json={"idea": "a red fox in snow", "n": 2}, timeout=300)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["direction"]["prompt"].startswith("a red fox in snow, ")
        assert sorted((im["source"], im["candidate"]) for im in report["images"]) == [
            ("directed", 0), ("directed", 1), ("original", 0)]
        assert all(requests.get(url + im["url"], timeout=30).ok for im in report["images"])
        assert (tmp_path / "served" / report["run"] / "run.json").is_file()
    finally:
        proc.terminate()
        proc.wait(30)


def test_image_options_without_an_image_model_are_refused():
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "serve", "--score", "clip"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "--score sets up images: add --image-model" in r.stderr
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "serve", "--critic", "vqa"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "--critic judges images: add --image-model" in r.stderr


def test_the_image_params_are_the_image_options():
    """``serve`` refuses image options without a model by their names: the list must be the options'."""
    import click

    from artdirector.cli import IMAGE_PARAMS, image_options

    command = click.command()(image_options(lambda **kw: None))
    assert {p.name for p in command.params} == set(IMAGE_PARAMS)


def test_serve_refuses_a_public_address_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "ARTDIRECTOR_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "serve", "--host", "0.0.0.0"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "give a token" in r.stderr
