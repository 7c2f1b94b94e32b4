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


def test_serve_refuses_a_public_address_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "ARTDIRECTOR_TOKEN"}
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "serve", "--host", "0.0.0.0"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "give a token" in r.stderr
