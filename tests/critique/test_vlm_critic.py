"""The ``vlm=URL`` critic against a real OpenAI-compatible vision chat server on loopback: FastAPI serving
``/v1/chat/completions`` in the OpenAI format (text and ``image_url`` data-URL parts), answered by a real
(tiny, random-weight) BLIP VQA model — no VLM weights can be fetched here."""

import base64
import io
import re

import pytest

from artdirector.critique import load_critic, parse_critic
from artdirector.critique.vlm_critic import parse_reply
from artdirector.errors import BadInput
from artdirector.imaging.toy import ToyImages
from artdirector.lm.openai_backend import ServerError


@pytest.fixture(scope="module")
def vision_server(tmp_path_factory, loopback):
    from fastapi import FastAPI
    from PIL import Image

    from artdirector.critique.questions import Question
    from artdirector.critique.vqa_critic import VQACritic
    from artdirector.imaging.testing import save_tiny_blip_vqa

    vqa = VQACritic.from_pretrained(str(save_tiny_blip_vqa(tmp_path_factory.mktemp("vqa") / "vqa")))
    app, seen = FastAPI(), []

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        content = body["messages"][-1]["content"]
        text = next(p["text"] for p in content if p["type"] == "text")
        url = next(p["image_url"]["url"] for p in content if p["type"] == "image_url")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        questions = [Question(i, q, q, "entity", q) for i, q in enumerate(re.findall(r"^\d+\. (.+)$", text, re.M))]
        seen.append((body["model"], image.size, len(questions)))
        answers = [f"{i + 1}. {'yes' if p >= 0.5 else 'no'}" for i, p in enumerate(vqa.answer(questions, [image])[0])]
        reply = "\n".join([*answers, "Feedback: the sphere is too small.", "Remove: 8k, blurry"])
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": "stop"}]}

    server = loopback.serve(app)
    yield f"{server.url}/v1", seen
    server.stop()


def test_the_vlm_critic_asks_the_server_and_reads_its_answers(vision_server):
    url, seen = vision_server
    critic = load_critic(f"vlm={url}#tiny-vlm")
    images = [ToyImages().draw("a red cube on a blue sphere"), ToyImages().draw("a green pyramid")]
    verdict = critic.critique("a red cube on a blue sphere", {"medium": ["oil painting"]}, images)
    assert seen[-2:] == [("tiny-vlm", (96, 64), 6)] * 2  # one request per image, every question, the image itself
    assert set(verdict.p_yes) <= {0.05, 0.5, 0.95} and len(verdict.p_yes) == 6
    assert verdict.feedback == "the sphere is too small." and verdict.remove == ["8k", "blurry"]
    critic.close()


def test_replies_are_parsed_numbered_or_in_order():
    assert parse_reply("1. Yes\n2) no\nFeedback: fine\nRemove: none", 3) == ([0.95, 0.05, 0.5], "fine", [])
    assert parse_reply("yes\nno\nyes", 3)[0] == [0.95, 0.05, 0.95]


def test_a_vlm_server_that_is_down_and_a_missing_url_are_named(loopback):
    with pytest.raises(BadInput, match="needs the server's URL"):
        parse_critic("vlm")
    with pytest.raises(ServerError, match="did not answer"):  # when it is opened, before any image is rendered
        load_critic(f"vlm=http://127.0.0.1:{loopback.free_port()}/v1")
