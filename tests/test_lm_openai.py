"""The OpenAI-compatible backend against a real server: llama.cpp's (``python -m llama_cpp.server``) on the
embedded GGUF, started on a loopback port for this module."""

import json
import subprocess
import sys
import time

import pytest

from artdirector.errors import BadInput, Unsupported
from artdirector.lm.base import GenerationConfig
from artdirector.lm.openai_backend import OpenAILM, ServerError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(loopback, tmp_path_factory):
    from artdirector.lm.embedded import embedded_gguf

    url, proc = loopback.start([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()), "--host",
                                "127.0.0.1", "--port", "{port}", "--n_ctx", "4096", "--model_alias", "smollm2"],
                               "/v1/models", tmp_path_factory.mktemp("llama-server"))
    yield url + "/v1"
    proc.terminate()
    proc.wait(30)


def test_generates_with_the_answer_prefix_and_stops(server):
    lm = OpenAILM(server, "smollm2")
    config = GenerationConfig(max_new_tokens=24, stop=("\n",))
    first = lm.generate(["Keywords for a red car:"], config, prefixes=[" shiny,"])[0]
    again = lm.generate(["Keywords for a red car:"], config, prefixes=[" shiny,"])[0]
    assert first.text.strip() and "\n" not in first.text and first.text == again.text  # greedy: the same answer
    assert not first.text.lstrip().startswith("shiny")  # it continues after the prefix
    short = lm.generate(["Keywords for a red car:"], GenerationConfig(max_new_tokens=2, stop=()), prefixes=[""])[0]
    assert short.finish_reason == "length"


def test_chat_only_servers_get_the_messages(server):
    lm = OpenAILM(server, "smollm2", chat_only=True)
    prompt = lm.format_chat([("user", "Name three colours, separated by commas.")])
    out = lm.generate([prompt], GenerationConfig(max_new_tokens=20), prefixes=[""])[0]
    assert out.text.strip()


def test_the_director_runs_on_the_server_with_retrieval(server):
    from artdirector.director import ArtDirector

    director = ArtDirector.from_default(backend="openai", server={"base_url": server, "model": "smollm2"})
    result = director.direct("a lighthouse in a storm")
    assert result.model == "openai:smollm2" and result.prompt.startswith("a lighthouse in a storm, ")
    assert len(result.added) >= 2 and result.retrieved
    with pytest.raises(Unsupported, match="needs logprobs"):  # refused before any request: no NeuroLogic
        director.direct("a cat", constraints=__import__("artdirector.decoding.constraints",
                                                        fromlist=["Constraints"]).Constraints.build(style=["ukiyo-e"]))


def test_cli_direct_with_the_openai_backend(server):
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "direct", "a red fox in snow", "--backend", "openai",
                        "--base-url", server, "--model", "smollm2", "--json"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "openai:smollm2" and out["prompt"].startswith("a red fox in snow, ")


def test_a_server_that_is_down_is_named_after_retries(loopback):
    start = time.perf_counter()
    lm = OpenAILM(f"http://127.0.0.1:{loopback.free_port()}/v1", "m", retries=1)
    with pytest.raises(ServerError, match="did not answer.*is it running"):
        lm.generate(["x"], GenerationConfig(max_new_tokens=2))
    assert time.perf_counter() - start < 30


def test_bad_settings_are_refused():
    with pytest.raises(BadInput, match="http://"):
        OpenAILM("localhost:8080", "m")
    with pytest.raises(BadInput, match="base URL and the model's name"):
        OpenAILM("http://127.0.0.1:1/v1", None)
    with pytest.raises(BadInput, match="not set"):
        OpenAILM.from_url("http://127.0.0.1:1/v1", "m", api_key_env="ARTDIRECTOR_TEST_UNSET_KEY")
