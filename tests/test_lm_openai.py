"""The OpenAI-compatible backend against a real server: llama.cpp's (``python -m llama_cpp.server``) on the
embedded GGUF, started on a loopback port for this module."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from artdirector.errors import BadInput, Unsupported
from artdirector.lm.base import GenerationConfig
from artdirector.lm.openai_backend import TOP_LOGPROBS, OpenAILM, OpenAITokenLM, ServerError

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
    from artdirector.decoding.constraints import Constraints

    # Top-k log-probabilities serve NeuroLogic, not the decoders that weigh every token: refused before any work.
    with pytest.raises(Unsupported, match="needs logprobs"):
        director.direct("a cat", constraints=Constraints.build(style=["ukiyo-e"]), decoding="smc")
    with pytest.raises(Unsupported, match="with steering needs logprobs"):
        director.direct("a cat", steer=2.0)


def test_the_server_gives_token_level_access(server):
    """Found at open: the server's tokenizer and top-k log-probabilities, matching the same model run here."""
    from artdirector.lm.llamacpp_backend import LlamaCppLM

    lm = OpenAILM.from_url(server, "smollm2")
    assert isinstance(lm, OpenAITokenLM) and "top_logprobs" in lm.capabilities
    local = LlamaCppLM.from_embedded(adapter=None)
    prompt = lm.format_chat([("user", "Name a colour.")]) + "Red"
    ids = lm.tokenize(prompt)
    assert ids == local.tokenize(prompt) and local.tokenize("<|im_end|>")[0] in lm.eos_token_ids
    served, here = lm.next_token_logprobs([ids, ids + lm.tokenize(" is")]), local.next_token_logprobs(
        [ids, ids + local.tokenize(" is")])
    for a, b in zip(served, here):
        top = list(np.argsort(-b)[:5])
        # the same build of llama.cpp only in places: near-ties may swap, values agree to a few hundredths
        assert set(np.argsort(-a)[:3]) == set(top[:3]) and np.allclose(a[top], b[top], atol=0.3)
        assert len(np.unique(a)) <= TOP_LOGPROBS + 1  # exact for the top k; the rest share one estimate
        assert np.isclose(np.exp(a).sum(), 1.0, atol=1e-3)  # the estimate keeps it a distribution
    # The end token is banned for the server's sampling, yet its own log-probability comes back (here the
    # model's most likely next token after "Red" is the end of the answer).
    assert int(np.argmax(served[0])) in lm.eos_token_ids


def test_cli_direct_with_constraints_runs_neurologic_on_the_server(server):
    r = subprocess.run([sys.executable, "-m", "artdirector.cli", "direct", "a red fox in snow", "--backend", "openai",
                        "--base-url", server, "--model", "smollm2", "--style", "ukiyo-e", "--exclude", "8k",
                        "--json"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["decoding"] == "neurologic" and "ukiyo-e" in out["prompt"] and "8k" not in out["prompt"]
    assert all(c["satisfied"] and c["met_by_decoder"] for c in out["constraints"])  # written by the decoder


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
