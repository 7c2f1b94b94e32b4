"""Any OpenAI-compatible vision chat endpoint as the critic (a local llama.cpp/vLLM/Ollama server with a VLM,
or a hosted API): it answers the questions and writes the feedback.

One request per image: the numbered questions and the image as a data URL (the OpenAI chat format's
``image_url`` content part, which llama.cpp's server, vLLM, Ollama and LM Studio read), temperature 0. The
model is asked for one "yes" or "no" per line, then ``Feedback:`` (what is missing or wrong) and ``Remove:``
(phrases of the prompt that harm the image, or "none"). A yes is p(yes) 0.95, a no 0.05 (chat answers carry
no calibrated probability); a line it did not answer is 0.5, unknown. The feedback becomes the critique's
text, the removals its ``remove`` (the loop excludes them). Transport — timeouts, retries with backoff on
429/5xx, the message when the server is down — is the ``openai`` LM backend's.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence

from artdirector.critique.base import Critic, Critique
from artdirector.critique.questions import Question

YES, NO, UNKNOWN = 0.95, 0.05, 0.5
ASK = ("Look at the image{caption}. Answer each question with yes or no, one answer per line, numbered as the "
       "questions are. Then write one line 'Feedback: ' saying in one or two sentences what is missing or wrong, "
       "and one line 'Remove: ' listing, comma-separated, any words of the prompt that harm the image (or "
       "'none').\n\n{questions}")


class VLMCritic(Critic):
    name = "vlm"

    def __init__(self, client):
        self.client = client  # an lm.openai_backend.OpenAILM: its transport, URL and model name
        self._said: list[tuple[str, list[str]]] = []  # (feedback, removals) of the last images answered

    @classmethod
    def from_pretrained(cls, url: str, *, device: str | None = None, model: str | None = None,
                        api_key_env: str | None = None) -> VLMCritic:
        """``url`` is ``BASE_URL`` or ``BASE_URL#MODEL`` (the model name the server expects; default: the
        server's only model, as llama.cpp's server takes any name)."""
        from artdirector.lm.openai_backend import OpenAILM

        base, _, named = url.partition("#")
        return cls(OpenAILM.from_url(base, named or model or "default", api_key_env=api_key_env))

    def answer(self, questions: Sequence[Question], images: Sequence, *, idea: str = "") -> list[list[float]]:
        numbered = "\n".join(f"{i + 1}. {q.text}" for i, q in enumerate(questions))
        text = ASK.format(caption=f" made for the prompt {idea!r}" if idea else "", questions=numbered)
        rows, self._said = [], []
        for image in images:
            reply = ask_about_image(self.client, text, image, max_tokens=16 * len(questions) + 160)
            answers, feedback, remove = parse_reply(reply, len(questions))
            rows.append(answers)
            self._said.append((feedback, remove))
        return rows

    def critique(self, idea: str, parts: dict[str, list[str]], images: Sequence) -> Critique:
        verdict = super().critique(idea, parts, images)
        feedback = [f for f, _ in self._said if f]
        if feedback:
            verdict.feedback = " / ".join(dict.fromkeys(feedback))
        verdict.remove = list(dict.fromkeys(p for _, r in self._said for p in r))
        return verdict

    def close(self) -> None:
        self.client.close()


def parse_reply(reply: str, n: int) -> tuple[list[float], str, list[str]]:
    """The answers (numbered or in order), the feedback and the removals of a chat reply."""
    answers: dict[int, float] = {}
    order, feedback, remove = 0, "", []
    for line in reply.splitlines():
        line = line.strip()
        low = line.lower()
        if low.startswith("feedback:"):
            feedback = line.split(":", 1)[1].strip()
            continue
        if low.startswith("remove:"):
            value = line.split(":", 1)[1].strip()
            none = value.lower() in ("", "none", "nothing")
            remove = [] if none else [p.strip() for p in value.split(",") if p.strip()]
            continue
        m = re.match(r"^(?:(\d+)[.):\s]+)?\W*(yes|no)\b", low)
        if m:
            k = int(m.group(1)) - 1 if m.group(1) else order
            answers[k] = YES if m.group(2) == "yes" else NO
            order = k + 1
    return [answers.get(i, UNKNOWN) for i in range(n)], feedback, remove


def ask_about_image(client, text: str, image, *, max_tokens: int) -> str:
    """One chat turn, greedy: ``text`` and ``image`` (a PNG data URL) in, the reply's text out ("" for none).
    ``client`` is an ``lm.openai_backend.OpenAILM`` (the critic's and the ``vlm=`` captioner's transport)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = {"model": client.model, "temperature": 0.0, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text},
                                                      {"type": "image_url", "image_url": {"url": url}}]}]}
    return (client.post("/chat/completions", body)["choices"][0].get("message") or {}).get("content") or ""
