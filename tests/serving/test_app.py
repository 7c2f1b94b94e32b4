"""The HTTP API on a real uvicorn server on a loopback port, driven by real HTTP requests."""

import json
import socket
import threading
import time

import pytest
import requests

from artdirector.director import ArtDirector
from artdirector.errors import BadInput
from artdirector.lm.dummy import DummyLM
from artdirector.serving.app import create_app
from artdirector.serving.settings import ServeSettings, check_bind
from artdirector.serving.votes import VoteStore

TOKEN = "s3cret-token"
ANSWER = " oil painting, dramatic lighting, by greg rutkowski"


class HeldLM(DummyLM):
    """The dummy model, held inside ``generate`` until the test releases it: requests pile up for real."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.entered, self.release = threading.Semaphore(0), threading.Event()
        self.release.set()

    def generate(self, *args, **kw):
        self.entered.release()
        assert self.release.wait(30)
        return super().generate(*args, **kw)


@pytest.fixture
def serve(tmp_path, loopback):
    started = []

    def start(lm=None, **settings):
        director = ArtDirector(lm or DummyLM({}, default=ANSWER), tuned=True)
        app = create_app(director, settings=ServeSettings(**settings), votes=VoteStore(tmp_path / "votes.sqlite"))
        started.append(loopback.serve(app))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_direct_needs_the_token_and_answers_the_cli_object(serve):
    s = serve(token=TOKEN)
    assert requests.post(f"{s.url}/v1/direct", json={"idea": "a red fox in snow"}).status_code == 401
    wrong = requests.post(f"{s.url}/v1/direct", json={"idea": "a red fox in snow"}, headers=auth("nope"))
    assert wrong.status_code == 401 and "Bearer" in wrong.json()["error"]
    r = requests.post(f"{s.url}/v1/direct", json={"idea": "a red fox in snow", "seed": 3}, headers=auth())
    assert r.status_code == 200, r.text
    out = r.json()
    same = ArtDirector(DummyLM({}, default=ANSWER), tuned=True).direct("a red fox in snow", seed=3).to_json()
    assert {k: v for k, v in out.items() if k not in ("seconds", "timings")} == \
        {k: v for k, v in same.items() if k not in ("seconds", "timings")}
    # the model's answer, cut at its token limit (the double writes one token per character)
    assert out["prompt"] == "a red fox in snow, oil painting, dramatic lighting"
    assert requests.get(f"{s.url}/healthz").json()["status"] == "ok"  # health needs no token


def test_batch_and_constraints(serve):
    s = serve()
    r = requests.post(f"{s.url}/v1/direct/batch", json={"ideas": ["a cat", "a dog"], "exclude": ["8k"],
                                                        "constraints": {"style": ["ukiyo-e"]}})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["idea"] for x in results] == ["a cat", "a dog"]
    assert all("ukiyo-e" in x["prompt"] and "8k" not in x["prompt"] for x in results)
    assert all(c["satisfied"] for x in results for c in x["constraints"])


@pytest.mark.parametrize("body, message", [
    ({"idea": ""}, "idea"),
    ({"idea": "a cat", "n": 0}, "n:"),
    ({"idea": "a cat", "n": 1000}, "n:"),
    ({"idea": "a cat", "target": "dalle"}, "target"),
    ({"idea": "a cat", "colour": ["red"]}, "colour"),
    ({"idea": "a cat", "constraints": {"palette": ["red"]}}, "unknown constraint category 'palette'"),
    ({"idea": "a cat", "seed": -1}, "seed"),
    ({"ideas": []}, "ideas"),
])
def test_bad_fields_are_422_with_a_one_line_message(serve, body, message):
    s = serve()
    path = "/v1/direct/batch" if "ideas" in body else "/v1/direct"
    r = requests.post(s.url + path, json=body)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"] and "\n" not in r.json()["error"]


def test_bad_json_and_oversized_bodies(serve):
    s = serve(max_body=2048)
    bad = requests.post(f"{s.url}/v1/direct", data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and "error" in bad.json()
    big = json.dumps({"idea": "a cat " * 1000}).encode()
    assert requests.post(f"{s.url}/v1/direct", data=big).status_code == 413
    chunked = requests.post(f"{s.url}/v1/direct", data=iter([big[:1500], big[1500:]]))  # no Content-Length
    assert chunked.status_code == 413 and "2048 bytes" in chunked.json()["error"]
    assert requests.post(f"{s.url}/v1/direct", json={"idea": "a cat"}).status_code == 200  # still serving


def test_a_full_queue_answers_503_with_retry_after(serve):
    lm = HeldLM({}, default=ANSWER)
    s = serve(lm=lm, queue=1)
    lm.release.clear()
    answers = []

    def call():
        answers.append(requests.post(f"{s.url}/v1/direct", json={"idea": "a cat"}, timeout=60).status_code)

    first = threading.Thread(target=call)
    first.start()
    assert lm.entered.acquire(timeout=20)  # one request is running
    second = threading.Thread(target=call)
    second.start()
    deadline = time.time() + 20
    while requests.get(f"{s.url}/healthz").json()["waiting"] < 2 and time.time() < deadline:
        time.sleep(0.02)
    refused = requests.post(f"{s.url}/v1/direct", json={"idea": "a cat"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    lm.release.set()
    first.join(30)
    second.join(30)
    assert answers == [200, 200]


def test_a_client_that_leaves_mid_request_does_not_stop_the_server(serve):
    lm = HeldLM({}, default=ANSWER)
    s = serve(lm=lm)
    lm.release.clear()
    body = json.dumps({"idea": "a cat"}).encode()
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        sock.sendall(b"POST /v1/direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        assert lm.entered.acquire(timeout=20)
    lm.release.set()  # the direction of the client that left finishes, unread
    r = requests.post(f"{s.url}/v1/direct", json={"idea": "a dog"}, timeout=30)
    assert r.status_code == 200 and r.json()["idea"] == "a dog"


def test_votes_are_stored_and_exported_as_preference_pairs(serve, tmp_path):
    s = serve(token=TOKEN)
    vote = {"idea": "a cat", "candidates": ["a cat, oil painting", "a cat, 8k", "a cat, sketch"], "chosen": 2,
            "seed": 7}
    assert requests.post(f"{s.url}/v1/votes", json=vote).status_code == 401
    r = requests.post(f"{s.url}/v1/votes", json=vote, headers=auth())
    assert r.status_code == 200 and r.json()["votes"] == 1
    bad = requests.post(f"{s.url}/v1/votes", json={**vote, "chosen": 3}, headers=auth())
    assert bad.status_code == 422 and "chosen must index" in bad.json()["error"]
    alone = requests.post(f"{s.url}/v1/votes", json={**vote, "candidates": ["a cat"], "chosen": 0}, headers=auth())
    assert alone.status_code == 422 and "compares 2 to 16" in alone.json()["error"]
    lines = requests.get(f"{s.url}/v1/votes/pairs", headers=auth()).text.splitlines()
    pairs = [json.loads(x) for x in lines]
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("a cat, sketch", "a cat, oil painting"),
                                                             ("a cat, sketch", "a cat, 8k")]
    assert len(VoteStore(tmp_path / "votes.sqlite")) == 1  # on disk, readable by another process


def test_binding_beyond_loopback_needs_a_token():
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t")
    with pytest.raises(BadInput, match="give a token"):
        check_bind("0.0.0.0", None)


def test_render_an_edited_direction_and_the_studio_page(serve):
    s = serve(token=TOKEN)
    body = {"idea": "a cat", "target": "sd15", "parts": {"medium": ["oil painting"], "booster": ["8k", "sharp focus"]},
            "negative": ["blurry"]}
    assert requests.post(f"{s.url}/v1/render", json=body).status_code == 401
    r = requests.post(f"{s.url}/v1/render", json=body, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["prompt"] == "a cat, oil painting, 8k, sharp focus" and r.json()["negative_prompt"] == "blurry"
    bad = requests.post(f"{s.url}/v1/render", json={**body, "parts": {"palette": ["red"]}}, headers=auth())
    assert bad.status_code == 422 and "unknown categories" in bad.json()["error"]
    page = requests.get(s.url + "/")
    assert page.status_code == 200 and "artdirector studio" in page.text and "__CATEGORIES__" not in page.text
    vocab = requests.get(f"{s.url}/vocabulary/style").json()["phrases"]
    assert len(vocab) > 20 and "surrealism" in vocab
    assert requests.get(f"{s.url}/vocabulary/palette").status_code == 422


@pytest.fixture
def serve_images(tmp_path, tiny, loopback):
    """A server with the dummy director and a resident tiny image pipeline with a CLIP scorer."""
    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.pipeline import ImageJob, ImageStages

    started = []

    def start(critic=None, loras=(), **settings):
        job = ImageJob(tiny.sd, settings=GenerationSettings(steps=2, width=64, height=64), scorers={"clip": tiny.clip},
                       loras=loras)
        stages = ImageStages(job, resident=True)
        stages.load()
        app = create_app(ArtDirector(DummyLM({}, default=ANSWER), tuned=True), settings=ServeSettings(**settings),
                         votes=VoteStore(tmp_path / "votes.sqlite"), images=stages, images_dir=tmp_path / "served",
                         critic=critic)
        started.append((loopback.serve(app), stages))
        return started[-1]

    yield start
    for server, stages in started:
        server.stop()
        stages.close()


def test_generate_answers_image_urls_behind_the_token(serve_images, tmp_path):
    import io

    from PIL import Image

    s, stages = serve_images(token=TOKEN, kept_runs=1)
    # the folder's name, not where it lies on the server
    assert requests.get(f"{s.url}/healthz").json()["images"] == {"model": "sd", "target": "sd15", "scorers": ["clip"]}
    body = {"idea": "a red fox in snow", "seed": 5, "images_per_prompt": 2}
    assert requests.post(f"{s.url}/v1/generate", json=body).status_code == 401
    r = requests.post(f"{s.url}/v1/generate", json=body, headers=auth(), timeout=300)
    assert r.status_code == 200, r.text
    report = r.json()
    assert str(tmp_path) not in r.text and "out" not in report  # no server paths
    assert report["direction"]["prompt"].startswith("a red fox in snow, ") and report["target"] == "sd15"
    images = report["images"]
    assert sorted((im["source"], im["seed"]) for im in images) == [("directed", 5), ("directed", 6),
                                                                    ("original", 5), ("original", 6)]
    assert report["best"]["source"] == "directed" and report["side_by_side"]["directed_wins"] is not None
    for im in images:
        assert requests.get(s.url + im["url"]).status_code == 401
        got = requests.get(s.url + im["url"], headers=auth())
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        picture = Image.open(io.BytesIO(got.content))
        assert picture.size == (64, 64) and picture.text["parameters"].startswith(im["prompt"])
    generator = stages._generator
    again = requests.post(f"{s.url}/v1/generate", json={"idea": "a cat", "side_by_side": False}, headers=auth(),
                          timeout=300).json()
    assert stages._generator is generator and "kept loaded" in again["memory"][0]  # nothing reloaded
    assert [im["source"] for im in again["images"]] == ["directed"]
    gone = requests.get(s.url + images[0]["url"], headers=auth())  # kept_runs=1: the first run was deleted
    assert gone.status_code == 404 and "newest 1 runs" in gone.json()["error"]
    for path in ("/v1/images/..%2F..%2Fvotes.sqlite/x", f"/v1/images/{again['run']}/..", "/v1/images/.x/y.png"):
        assert requests.get(s.url + path, headers=auth()).status_code == 404
    bad = requests.post(f"{s.url}/v1/generate", json={"idea": "a cat", "images_per_prompt": 9}, headers=auth())
    assert bad.status_code == 422 and "images_per_prompt" in bad.json()["error"]


def test_a_served_lora_is_applied_and_its_trigger_words_lead_every_direction(serve_images, tiny, tmp_path):
    import io

    from PIL import Image

    from artdirector.imaging.lora import parse_lora
    from artdirector.imaging.testing import save_tiny_lora

    lora = save_tiny_lora(tmp_path / "pxl.safetensors", tiny.sd, metadata={"modelspec.trigger_phrase": "pxl style"})
    s, _ = serve_images(token=TOKEN, loras=(parse_lora(f"{lora}=0.7"),))
    r = requests.post(f"{s.url}/v1/generate", json={"idea": "a red fox in snow", "side_by_side": False},
                      headers=auth(), timeout=300)
    assert r.status_code == 200, r.text
    image = r.json()["images"][0]
    assert image["prompt"].startswith("a red fox in snow, pxl style")
    got = requests.get(s.url + image["url"], headers=auth())
    assert Image.open(io.BytesIO(got.content)).text["parameters"].startswith(image["prompt"] + " <lora:pxl:0.7>")
    plain = requests.post(f"{s.url}/v1/direct", json={"idea": "a red fox in snow"}, headers=auth(), timeout=300)
    assert "pxl style" not in plain.json()["prompt"]  # a direction without images needs no trigger


def test_refine_runs_the_critique_loop_with_the_servers_critic(serve_images, tmp_path):
    from artdirector.critique.toy import ToyCritic

    s, stages = serve_images(critic=ToyCritic(), token=TOKEN)
    body = {"idea": "a red cube on a blue sphere", "rounds": 2, "candidates": 2, "constraints": {"style": ["ukiyo-e"]}}
    assert requests.post(f"{s.url}/v1/refine", json=body).status_code == 401
    r = requests.post(f"{s.url}/v1/refine", json=body, headers=auth(), timeout=300)
    assert r.status_code == 200, r.text
    report = r.json()
    assert str(tmp_path) not in r.text and report["stopped"] in ("threshold", "rounds", "no gain")
    candidate = report["rounds"][0]["candidates"][0]
    assert "ukiyo-e" in candidate["prompt"] and candidate["questions"][0]["question"] == "Is there a cube?"
    got = requests.get(s.url + candidate["images"][0]["url"], headers=auth())  # a file one folder down
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert requests.get(s.url + report["best"]["url"], headers=auth()).ok
    assert stages._generator is not None  # the loop left the server's pipeline loaded
    bad = requests.post(f"{s.url}/v1/refine", json={**body, "n": 2}, headers=auth())
    assert bad.status_code == 422 and "candidates" in bad.json()["error"]
    assert requests.post(f"{s.url}/v1/refine", json={**body, "rounds": 9}, headers=auth()).status_code == 422


def test_generate_without_an_image_model_says_how_to_start_one(serve):
    s = serve()
    assert requests.get(f"{s.url}/healthz").json()["images"] is None
    r = requests.post(f"{s.url}/v1/generate", json={"idea": "a cat"})
    assert r.status_code == 422 and "--image-model" in r.json()["error"]
    r = requests.post(f"{s.url}/v1/refine", json={"idea": "a cat"})
    assert r.status_code == 422 and "--critic" in r.json()["error"]
    assert requests.get(f"{s.url}/v1/images/a/b.png").status_code == 404


def test_pruning_keeps_the_newest_runs_even_within_one_second(tmp_path):
    """Run ids made in the same second must sort by time, not by their random part (a race the image test hit)."""
    from artdirector.serving.app import _prune, _run_id

    made = [_run_id() for _ in range(50)]
    for run in made:
        (tmp_path / run).mkdir()
    _prune(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == made[-3:]
