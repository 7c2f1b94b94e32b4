"""Any OpenAI-compatible server as the director's LM: llama.cpp's server, vLLM, Ollama, LM Studio, a hosted API.

LaDi's point is that a larger LM directs better; the embedded 135M model is the floor. A server offers text
generation (capability ``generate``): the director's prompt goes to ``/completions`` as one text (its chat
frame, ChatML by default, plus the answer's prefix — the idea — so the model continues the idea instead of
echoing it), with the same stop strings, token limit, temperature, seed and presence penalty as a local
model. A server without ``/completions`` (chat-only) gets ``/chat/completions`` with the messages, and the
answer is read by the same robust parser.

**Constraints on a server.** Where the server also tokenizes (llama-cpp-python's ``/extras/tokenize`` and
``/extras/detokenize``, found when the model is opened), ``OpenAITokenLM`` adds capability ``top_logprobs``
and NeuroLogic (and beam search) run on it, client-side: each step asks ``/completions`` for one token with
the ``k`` most likely next tokens' log-probabilities (``logprobs=k``; the end-of-answer token is banned by
``logit_bias`` so that a token is always generated and the log-probabilities come back — the server reports
the model's own, before the bias, which the tests check). Those ``k`` are exact; every other token gets the
remaining probability mass spread evenly, an estimate. That is enough for NeuroLogic, which ranks a
hypothesis's few best tokens and forces the constraint tokens in by its own rules; it is not enough for
decoders that weigh every token (SMC, grammars, steering need ``logprobs``), which ``decoding.dispatch``
refuses up front. A top-k key is a token's text; it is mapped back to an id by tokenizing it (the text of an
end token is empty: it maps to the end token; a text that is not one token is dropped). A hypothesis is sent
as text: the prompt's own text (kept from when it was tokenized, so its special tokens stay) and the
detokenized answer so far; the server re-tokenizes it, and a boundary may tokenize differently than the
hypothesis did — the prompt-boundary effect every text API has.

Transport: ``requests`` with a timeout per call, retries with exponential backoff on 429 and 5xx (and on a
refused connection, which is also what a server still starting looks like), ``Retry-After`` honoured; when
the server stays down the message names the URL and what to check. The API key is read from an environment
variable named by the caller, never from the command line.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from artdirector.errors import BadInput, ModelNotFound, Unsupported
from artdirector.lm.base import Generation, GenerationConfig, LanguageModel, TokenLM

RETRIES = 3
BACKOFF_S = 0.5  # doubled each retry
TIMEOUT_S = 120.0
KEPT_MESSAGES = 1024  # more than one batch of ideas holds
TOP_LOGPROBS = 20  # the most OpenAI's API and vLLM's default allow per position
# End-of-answer markers of common chat formats; those the server's vocabulary holds as one special token are
# the model's end tokens.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>")


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
        """The model behind ``base_url``; token-level (``OpenAITokenLM``) where the server also tokenizes."""
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise BadInput(f"the environment variable {api_key_env} (the API key) is not set")
        plain = OpenAILM(base_url, model, api_key=key, **kw)
        extras = plain._tokenizer_endpoint()
        if extras is None:
            return plain
        plain.close()
        return OpenAITokenLM(base_url, model, api_key=key, extras=extras, **kw)

    def _tokenizer_endpoint(self) -> str | None:
        """llama-cpp-python's tokenizer endpoints, next to the API's base (``.../v1`` -> ``.../extras``)."""
        root = self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url
        try:
            answer = self.post(root + "/extras/tokenize", {"input": "a", "model": self.model}, allow_missing=True)
        except BadInput:  # a server that has the path for something else
            return None
        return root + "/extras" if isinstance(answer, dict) and isinstance(answer.get("tokens"), list) else None

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
            answer = self.post("/completions", {**body, "prompt": prompt + prefix}, allow_missing=True)
            if answer is not None:
                choice = answer["choices"][0]
                return Generation(choice.get("text", ""), finish_reason=_finish(choice))
            self.chat_only = True
        messages = [{"role": r, "content": c} for r, c in self._messages.get(prompt, (("user", prompt),))]
        choice = self.post("/chat/completions", {**body, "messages": messages})["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        if prefix and text.lower().startswith(prefix.lower()):
            text = text[len(prefix):]  # a chat model may repeat the idea the answer should begin with
        return Generation(text if text.startswith((" ", ",")) else " " + text, finish_reason=_finish(choice))

    def post(self, path: str, body: dict, *, allow_missing: bool = False):
        """POST to ``path`` under the API's base (or to ``path`` itself when it is a whole URL)."""
        import requests

        url = path if path.startswith(("http://", "https://")) else self.base_url + path
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


class OpenAITokenLM(OpenAILM, TokenLM):
    """A served model with token-level access through the server's tokenizer and top-k log-probabilities."""

    capabilities = frozenset({"generate", "top_logprobs"})
    generate = OpenAILM.generate  # the server's own loop, not TokenLM's step-by-step one

    def __init__(self, base_url, model, *, extras: str, **kw):
        super().__init__(base_url, model, **kw)
        self.extras = extras
        self._texts: dict[tuple[int, ...], str] = {}  # ids the server gave for a text -> that text
        self._ids: dict[str, int | None] = {}  # a top-k key (a token's text) -> its id; None: not one token
        self._width = TOP_LOGPROBS + 1  # grows with the largest id seen: rows hold every id handed out
        self._eos: tuple[int, ...] | None = None  # in END_MARKERS' order

    def tokenize(self, text: str) -> list[int]:
        ids = list(self.post(self.extras + "/tokenize", {"input": text, "model": self.model})["tokens"])
        self._texts[tuple(ids)] = text
        self._width = max(self._width, max(ids, default=0) + 1)
        return ids

    def detokenize(self, tokens: Sequence[int]) -> str:
        if not tokens:
            return ""
        return self.post(self.extras + "/detokenize", {"tokens": list(map(int, tokens)), "model": self.model})["text"]

    @property
    def eos_token_ids(self) -> frozenset[int]:
        if self._eos is None:
            ids = [self.tokenize(m) for m in END_MARKERS]
            self._eos = tuple(i[0] for i in ids if len(i) == 1 and self.detokenize(i) == "")
        return frozenset(self._eos)

    def next_token_logprobs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        tops = [self._top(self._text_of(s)) for s in sequences]
        width = max(self._width, *(max(t, default=0) + 1 for t in tops))
        rows = np.empty((len(tops), width))
        for row, top in zip(rows, tops):
            rest = max(1.0 - sum(math.exp(v) for v in top.values()), 1e-12)
            row[:] = math.log(rest / max(width - len(top), 1))
            row[list(top)] = list(top.values())
        return rows

    def _text_of(self, tokens: Sequence[int]) -> str:
        """The text of a sequence: the longest prefix that came from tokenizing a known text, then the rest
        detokenized (the server's detokenizer drops special tokens, which the prompt's chat frame has)."""
        tokens = tuple(tokens)
        for cut in range(len(tokens), 0, -1):
            head = self._texts.get(tokens[:cut])
            if head is not None:
                return head + self.detokenize(tokens[cut:])
        return self.detokenize(tokens)

    def _top(self, text: str) -> dict[int, float]:
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0.0, "logprobs": TOP_LOGPROBS,
                "logit_bias": {str(t): -100 for t in self.eos_token_ids}}
        choice = self.post("/completions", body)["choices"][0]
        tops = ((choice.get("logprobs") or {}).get("top_logprobs") or [None])[0]
        if not tops:
            raise Unsupported(f"the LM server at {self.base_url} returned no top log-probabilities for "
                              f"logprobs={TOP_LOGPROBS}; constrained decoding needs them (use plain decoding)")
        out: dict[int, float] = {}
        for key, value in tops.items():
            token = self._id_of(key)
            if token is not None and value is not None and value > out.get(token, -math.inf):
                out[token] = float(value)
        return out

    def _id_of(self, key: str) -> int | None:
        if key not in self._ids:
            if key == "":  # an end token's text: the first of the chat formats' markers (ChatML's, the frame's)
                self._ids[key] = self._eos[0] if self.eos_token_ids else None
            else:
                ids = self.tokenize(key)
                self._ids[key] = ids[0] if len(ids) == 1 else None
        return self._ids[key]


def _finish(choice: dict) -> str:
    return "length" if choice.get("finish_reason") == "length" else "stop"


def _said(response) -> str:
    try:
        error = response.json().get("error")
        return str(error.get("message") if isinstance(error, dict) else error)[:200]
    except ValueError:
        return response.text[:200]
