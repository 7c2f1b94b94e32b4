"""Any OpenAI-compatible server as the director's LM: llama.cpp's server, vLLM, Ollama, LM Studio, a hosted API.

LaDi's point is that a larger LM directs better; the embedded 135M model is the floor. A server offers text
generation only (capability ``generate``): the director's prompt goes to ``/completions`` as one text (its
chat frame, ChatML by default, plus the answer's prefix — the idea — so the model continues the idea instead
of echoing it), with the same stop strings, token limit, temperature, seed and presence penalty as a local
model. A server without ``/completions`` (chat-only) gets ``/chat/completions`` with the messages, and the
answer is read by the same robust parser. Decoders that need full-vocabulary log-probabilities (NeuroLogic,
beam, SMC, steering) or a token table (grammars) are refused up front by ``decoding.dispatch``: an API's
top-k log-probabilities cannot drive them.

Transport: ``requests`` with a timeout per call, retries with exponential backoff on 429 and 5xx (and on a
refused connection, which is also what a server still starting looks like), ``Retry-After`` honoured; when
the server stays down the message names the URL and what to check. The API key is read from an environment
variable named by the caller, never from the command line.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Sequence

from artdirector.errors import BadInput, ModelNotFound
from artdirector.lm.base import Generation, GenerationConfig, LanguageModel

RETRIES = 3
BACKOFF_S = 0.5  # doubled each retry
TIMEOUT_S = 120.0
KEPT_MESSAGES = 1024  # more than one batch of ideas holds


class ServerError(ModelNotFound):
    """The server is unreachable or keeps failing; the message says which URL and what to check."""


class OpenAILM(LanguageModel):
    capabilities = frozenset({"generate"})

    def __init__(self, base_url: str | None, model: str | None, *, api_key: str | None = None,
                 timeout: float = TIMEOUT_S, retries: int = RETRIES, chat_only: bool = False):
        import requests

        if not base_url or not model:
            raise BadInput("a served model needs the server's base URL and the model's name")
        if not base_url.startswith(("http://", "https://")):
            raise BadInput(f"the server URL must start with http:// or https:// (got {base_url!r})")
        self.base_url, self.model, self.timeout, self.retries = base_url.rstrip("/"), model, timeout, retries
        self.name = f"openai:{model}"
        self.chat_only = chat_only  # set on the first 404 from /completions
        self._session = requests.Session()
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"
        # formatted prompt -> its chat messages, for a chat-only server; the recent ones only (a server runs long)
        self._messages: OrderedDict[str, tuple[tuple[str, str], ...]] = OrderedDict()

    @classmethod
    def from_url(cls, base_url: str | None, model: str | None, *, api_key_env: str | None = None, **kw) -> OpenAILM:
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise BadInput(f"the environment variable {api_key_env} (the API key) is not set")
        return cls(base_url, model, api_key=key, **kw)

    def format_chat(self, messages: Sequence[tuple[str, str]]) -> str:
        text = super().format_chat(messages)
        self._messages[text] = tuple(messages)  # a chat-only server is sent the messages themselves
        self._messages.move_to_end(text)
        while len(self._messages) > KEPT_MESSAGES:
            self._messages.popitem(last=False)
        return text

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                 prefixes: Sequence[str] | None = None) -> list[Generation]:
        config = config or GenerationConfig()
        return [self._one(p, (prefixes or [""] * len(prompts))[i], config) for i, p in enumerate(prompts)]

    def _one(self, prompt: str, prefix: str, config: GenerationConfig) -> Generation:
        body = {"model": self.model, "max_tokens": config.max_new_tokens, "temperature": config.temperature,
                "top_p": config.top_p, "seed": config.seed, "presence_penalty": config.presence_penalty}
        if config.stop:
            body["stop"] = list(config.stop)
        if not self.chat_only:
            answer = self._post("/completions", {**body, "prompt": prompt + prefix}, allow_missing=True)
            if answer is not None:
                choice = answer["choices"][0]
                return Generation(choice.get("text", ""), finish_reason=_finish(choice))
            self.chat_only = True
        messages = [{"role": r, "content": c} for r, c in self._messages.get(prompt, (("user", prompt),))]
        choice = self._post("/chat/completions", {**body, "messages": messages})["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        if prefix and text.lower().startswith(prefix.lower()):
            text = text[len(prefix):]  # a chat model may repeat the idea the answer should begin with
        return Generation(text if text.startswith((" ", ",")) else " " + text, finish_reason=_finish(choice))

    def _post(self, path: str, body: dict, *, allow_missing: bool = False):
        import requests

        url = self.base_url + path
        for attempt in range(self.retries + 1):
            wait = BACKOFF_S * 2 ** attempt
            try:
                r = self._session.post(url, json=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as e:
                if attempt == self.retries:
                    raise ServerError(f"the LM server at {self.base_url} did not answer ({type(e).__name__}): is "
                                      "it running, and is the URL its OpenAI-compatible base (often ending /v1)?"
                                      ) from None
                time.sleep(wait)
                continue
            if r.status_code == 404 and allow_missing:
                return None
            if r.status_code == 429 or r.status_code >= 500:
                if attempt == self.retries:
                    raise ServerError(f"the LM server at {url} answered {r.status_code} {_said(r)} "
                                      f"{self.retries + 1} times")
                retry_after = r.headers.get("Retry-After", "")
                time.sleep(float(retry_after) if retry_after.replace(".", "", 1).isdigit() else wait)
                continue
            if r.status_code >= 400:
                raise BadInput(f"the LM server at {url} refused the request: {r.status_code} {_said(r)}")
            return r.json()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._session.close()


def _finish(choice: dict) -> str:
    return "length" if choice.get("finish_reason") == "length" else "stop"


def _said(response) -> str:
    try:
        error = response.json().get("error")
        return str(error.get("message") if isinstance(error, dict) else error)[:200]
    except ValueError:
        return response.text[:200]
