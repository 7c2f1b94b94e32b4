"""The HTTP API: the director kept loaded in one process, behind FastAPI (OpenAPI docs at ``/docs``).

Endpoints: ``POST /v1/direct`` (the ``direct --json`` object), ``POST /v1/direct/batch``, ``POST /v1/render``
(a direction edited by hand, rendered again), ``POST /v1/votes``, ``GET /v1/votes/pairs`` (JSON Lines for
preference training), ``GET /healthz``, and the studio: ``GET /`` (``studio.html``) with the shipped
vocabularies at ``GET /vocabulary/{category}``. Request fields are those of
``ArtDirector.direct`` (defaults read from ``director.Request``, declared once there).

With an image model (``create_app(images=ImageStages(job, resident=True))``, ``serve --image-model``):
``POST /v1/refine`` runs the critique loop (``critique.loop``) with the server's critic (``serve --critic``),
its report's files as URLs like ``/v1/generate``'s;
``POST /v1/generate`` is the ``generate --json`` report with each image's file as a URL under
``GET /v1/images/{run}/{file}`` (the run id and file names are the server's own; nothing the client names is
a path), the idea as typed rendered beside the direction with the same seeds by default. The LM, the pipeline
and the scorers stay loaded between requests; the newest ``ServeSettings.kept_runs`` runs stay on disk.

Guards a public endpoint needs, all tested: with a token every ``/v1`` call needs ``Authorization: Bearer
TOKEN`` (compared in constant time); bodies over ``ServeSettings.max_body`` bytes get 413 before they are
read whole; ``n``, batch size and idea length are bounded (422 with the CLI's one-line message); the
director runs one request at a time (its llama.cpp context is not thread-safe) and at most ``queue``
requests wait: the next gets 503 with ``Retry-After`` instead of piling up; no endpoint takes a path. A
client that goes away mid-request does not stop the server: its direction finishes and is dropped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from artdirector.brief import MAX_IDEA_CHARS
from artdirector.config import default_of
from artdirector.critique.loop import RefineJob
from artdirector.decoding.constraints import FLAG_CATEGORIES
from artdirector.director import Request as Direction
from artdirector.errors import EXIT_CODES, BadInput
from artdirector.serving.settings import ServeSettings
from artdirector.serving.votes import KINDS, MAX_CANDIDATES, VoteStore, default_path

MAX_N = 8
MAX_BATCH = 64
MAX_IMAGES_PER_PROMPT = 4
MAX_ROUNDS = 5
SERVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")  # a run id or file name this server wrote
VOCABULARY_SHOWN = 300  # phrases of a category the studio suggests


def _studio() -> str:
    """The studio page: plain HTML and JavaScript over this API (no build step, no extra dependency, nothing
    fetched from elsewhere), with the categories and targets filled in from their one definition."""
    from importlib import resources

    from artdirector.render import TARGETS

    page = resources.files("artdirector.serving").joinpath("studio.html").read_text(encoding="utf-8")
    return (page.replace("__CATEGORIES__", json.dumps(FLAG_CATEGORIES))
            .replace("__TARGETS__", json.dumps(list(TARGETS))))


STUDIO = _studio()


class Busy(Exception):
    """The work queue is full."""


class Worker:
    """All of the director's work runs on this one thread, one request at a time (its llama.cpp context is
    not thread-safe), and at most ``queue`` requests wait: one more is refused at once, so a burst costs the
    clients a retry, not the server its memory. One thread, not the server's pool: llama.cpp's OpenMP team
    belongs to the thread that calls it, and a second calling thread (a second team: more threads than
    cores) makes libgomp stop spinning at its barriers, so every decoding step sleeps and wakes — measured
    0.33 s -> 0.62 s a direction here. So nothing else in the process should decode either."""

    def __init__(self, queue: int):
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="director")
        self.queue, self.pending = queue, 0
        self._count = threading.Lock()

    async def run(self, fn, *args):
        import asyncio

        with self._count:
            if self.pending >= self.queue + 1:  # the one running and those waiting
                raise Busy
            self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        finally:
            with self._count:
                self.pending -= 1


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes gets 413, by its declared length before it is read, or
    while it is read when it declares none (chunked), so no body is ever held whole past the limit. (The app
    is then told the client left, and whatever it would answer is dropped.)"""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(scope, receive, send)
        seen, refused = 0, False

        async def counted():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def sending(message):
            if not refused:
                await send(message)

        await self.app(scope, counted, sending)

    async def _refuse(self, scope, receive, send):
        await error(413, f"the request body is over {self.limit} bytes")(scope, receive, send)


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    """Every error the API answers: ``{"error": one line}``, the CLI's message."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def default(name: str):
    return default_of(Direction, name)


class DirectOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = default("target")
    n: int = Field(default("n"), ge=1, le=MAX_N)
    seed: int = Field(default("seed"), ge=0)
    include: list[str] = Field(default_factory=list, max_length=32)
    exclude: list[str] = Field(default_factory=list, max_length=32)
    constraints: dict[str, list[str]] = Field(
        default_factory=dict, description=f"required phrases per category: {', '.join(FLAG_CATEGORIES)}")
    grammar: str | None = Field(None, max_length=20_000, description="a Lark grammar (llguidance dialect)")
    decoding: str = default("decoding")
    steer: float = Field(default("steer"), ge=0)
    details: bool = default("details")

    def direct_kwargs(self, required: Sequence[str] = ()) -> dict:
        """The director's options; ``required``: phrases the server adds to every direction, rendered first
        after the idea (the trigger words of the image model's LoRAs)."""
        from artdirector.decoding.constraints import Constraints
        from artdirector.decoding.grammar import Grammar

        unknown = set(self.constraints) - set(FLAG_CATEGORIES)
        if unknown:
            raise BadInput(f"unknown constraint category {sorted(unknown)[0]!r}; valid: "
                           f"{', '.join(FLAG_CATEGORIES)}")
        constraints = Constraints.build(include=[*self.include, *required], exclude=self.exclude,
                                        **{FLAG_CATEGORIES[k]: v for k, v in self.constraints.items()})
        grammar = Grammar(self.grammar, source="the request's grammar") if self.grammar else None
        return {"target": self.target, "n": self.n, "seed": self.seed, "constraints": constraints or None,
                "grammar": grammar, "decoding": self.decoding, "steer": self.steer, "details": self.details,
                **({"early": tuple(required)} if required else {})}


class DirectBody(DirectOptions):
    idea: str = Field(max_length=MAX_IDEA_CHARS)


class BatchBody(DirectOptions):
    ideas: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class ImageBody(DirectBody):
    """A direction that is rendered: the fields ``/v1/generate`` and ``/v1/refine`` share."""

    target: str | None = Field(None, description="default: the image model's own")
    images_per_prompt: int = Field(1, ge=1, le=MAX_IMAGES_PER_PROMPT, description="seeds seed, seed+1, ...")


class GenerateBody(ImageBody):
    side_by_side: bool = Field(True, description="also render the idea as typed, with the same seeds")


class RefineBody(ImageBody):
    rounds: int = Field(default_of(RefineJob, "rounds"), ge=1, le=MAX_ROUNDS)
    candidates: int = Field(default_of(RefineJob, "candidates"), ge=1, le=MAX_N)
    threshold: float = Field(default_of(RefineJob, "threshold"), gt=0, le=1)
    revise: str = Field(default_of(RefineJob, "revise"), description="constraints | append")


class RenderBody(BaseModel):
    """A direction edited by hand (the studio turns phrases off) to render again."""

    model_config = ConfigDict(extra="forbid")
    idea: str = Field(max_length=MAX_IDEA_CHARS)
    target: str = default("target")
    parts: dict[str, list[str]] = Field(default_factory=dict)
    negative: list[str] = Field(default_factory=list, max_length=256)


class VoteBody(BaseModel):
    """Bounds and kinds are checked by ``VoteStore.add`` (one definition, one message)."""

    model_config = ConfigDict(extra="forbid")
    idea: str = Field(max_length=MAX_IDEA_CHARS)
    candidates: list[str] = Field(max_length=MAX_CANDIDATES)
    chosen: int
    kind: str = KINDS[0]
    seed: int | None = None
    meta: dict = Field(default_factory=dict)


def published(report: dict, run: str, root: Path) -> dict:
    """A report as the API answers it: every file under the run's folder as a URL under ``/v1/images`` (a
    ``path`` becomes a ``url``), no server paths."""
    prefix = str(root / run) + os.sep

    def url(value):
        if isinstance(value, str) and value.startswith(prefix):
            return f"/v1/images/{run}/" + value[len(prefix):].replace(os.sep, "/")
        return value

    def walk(x):
        if isinstance(x, dict):
            return {("url" if k == "path" else k): (url(v) if k == "path" else walk(v)) for k, v in x.items()
                    if k != "out"}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return url(x)

    return {**walk(report), "run": run}


def _shown(image_model: str) -> str:
    """The image model as an unauthenticated page may name it: a hub id, a folder's name, not a server path
    or an internal URL."""
    from artdirector.imaging.a1111_backend import is_server_url

    if is_server_url(image_model):
        return "an AUTOMATIC1111-compatible server"
    return Path(image_model).name if Path(image_model).exists() else image_model


def _run_id() -> str:
    """A run's folder name: sorts by time to the nanosecond (pruning keeps the newest; two runs within one
    second must not sort by their random part), and unguessable."""
    now = time.time_ns()
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now // 10**9))}-{now % 10**9:09d}-{secrets.token_hex(4)}"


def _prune(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` runs (run ids sort by time)."""
    runs = sorted(p for p in root.iterdir() if p.is_dir() and SERVED_NAME.fullmatch(p.name))
    for old in runs[:max(len(runs) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def create_app(director, *, settings: ServeSettings | None = None, votes: VoteStore | None = None,
               images=None, images_dir: str | Path | None = None, critic=None) -> FastAPI:
    """A FastAPI app serving ``director`` (an ``ArtDirector``) under ``settings`` (default: no token);
    ``votes`` a ``VoteStore`` (default: the user directory's); ``images`` an ``imaging.pipeline.ImageStages``
    kept resident, its runs written under ``images_dir`` (default: the user directory's ``served-images``);
    ``critic`` a loaded ``critique.base.Critic`` for ``/v1/refine``."""
    settings = settings or ServeSettings()
    images_root, triggers = None, ()
    if images is not None:
        from artdirector.config import user_dir
        from artdirector.imaging.lora import trigger_words

        triggers = tuple(dict.fromkeys(w for lora in images.job.loras for w in trigger_words(lora)))

        images_root = Path(images_dir) if images_dir else user_dir() / "served-images"
        images_root.mkdir(parents=True, exist_ok=True)
    worker = Worker(settings.queue)
    votes = votes if votes is not None else VoteStore(default_path())
    app = FastAPI(title="artdirector", summary="An LLM art director: ideas in, model-ready prompts out.")

    app.add_middleware(BodyLimit, limit=settings.max_body)
    app.state.worker = worker  # the thread the director runs on (benchmarks time it there)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error(422, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    for cls, _code in EXIT_CODES:
        @app.exception_handler(cls)
        async def known(_request, exc, _cls=cls):
            return error(422 if isinstance(exc, BadInput) else 500, str(exc))

    @app.exception_handler(Busy)
    async def busy(_request, _exc):
        return error(503, "the director is busy; retry shortly", {"Retry-After": str(settings.retry_after)})

    def authorised(request: Request) -> None:
        if settings.token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.encode(), settings.token.encode()):
            raise HTTPException(401, "a valid 'Authorization: Bearer TOKEN' header is required",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(401)
    async def unauthorised(_request, exc):
        return error(401, exc.detail, exc.headers)

    @app.get("/healthz")
    def healthz() -> dict:
        shown = None if images is None else {"model": _shown(images.job.image_model), "target": images.target,
                                             "scorers": list(images.job.scorers)}
        return {"status": "ok", "model": director.lm.name, "waiting": worker.pending, "queue": settings.queue,
                "images": shown}

    @app.post("/v1/direct", dependencies=[Depends(authorised)])
    async def direct(body: DirectBody) -> dict:
        options = body.direct_kwargs()
        return await worker.run(lambda: director.direct(body.idea, **options).to_json())

    @app.post("/v1/direct/batch", dependencies=[Depends(authorised)])
    async def direct_batch(body: BatchBody) -> dict:
        options = body.direct_kwargs()
        return await worker.run(lambda: {"results": [r.to_json() for r in director.direct_many(body.ideas, **options)]})

    @app.post("/v1/generate", dependencies=[Depends(authorised)])
    async def generate(body: GenerateBody) -> dict:
        if images is None:
            raise BadInput("this server has no image model: start it with --image-model PATH|HUB_ID|URL")
        options = {**body.direct_kwargs(triggers), "target": body.target or images.target}
        run = _run_id()

        def work() -> dict:
            start = time.perf_counter()
            result = director.direct(body.idea, **options)
            seconds = {"direct": round(time.perf_counter() - start, 3)}
            report = images.run(result.idea, result, body.seed, out_dir=images_root / run, seconds=seconds,
                                images_per_prompt=body.images_per_prompt, side_by_side=body.side_by_side,
                                memory=["director LM, image pipeline and scorers kept loaded between requests"])
            _prune(images_root, settings.kept_runs)
            return published(report, run, images_root)

        return await worker.run(work)

    @app.post("/v1/refine", dependencies=[Depends(authorised)])
    async def refine_endpoint(body: RefineBody) -> dict:
        from artdirector.critique.loop import RefineJob, refine

        if images is None or critic is None:
            raise BadInput("this server has no image model and critic: start it with --image-model and --critic")
        options = body.direct_kwargs(triggers)
        if options.pop("n") != 1:
            raise BadInput("refine tries 'candidates' directions per round; 'n' is for /v1/direct")
        run = _run_id()
        job = RefineJob(rounds=body.rounds, candidates=body.candidates, images_per_prompt=body.images_per_prompt,
                        threshold=body.threshold, revise=body.revise, out_dir=str(images_root / run),
                        keep_loaded=True)

        def work() -> dict:
            report = refine(body.idea, director, images.generator, lambda: critic, job,
                            **{**options, "target": body.target or images.target}, settings=images.job.settings)
            _prune(images_root, settings.kept_runs)
            return published(report, run, images_root)

        return await worker.run(work)

    @app.get("/v1/images/{run}/{name:path}", dependencies=[Depends(authorised)])
    def image_file(run: str, name: str):
        parts = name.split("/")
        named = images_root is not None and all(SERVED_NAME.fullmatch(p) for p in [run, *parts]) and len(parts) <= 2
        path = images_root.joinpath(run, *parts) if named else None
        if path is None or not path.is_file():
            return error(404, f"no image {run}/{name} on this server (the newest {settings.kept_runs} runs are kept)")
        return FileResponse(path)

    @app.post("/v1/render", dependencies=[Depends(authorised)])
    def render_direction(body: RenderBody) -> dict:
        from dataclasses import asdict

        from artdirector.brief import Direction, check_idea
        from artdirector.render import render

        try:
            direction = Direction(check_idea(body.idea).text, {k: list(v) for k, v in body.parts.items()},
                                  list(body.negative))
        except ValueError as e:  # an unknown category
            raise BadInput(str(e)) from None
        return asdict(render(direction, body.target))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def studio() -> str:
        return STUDIO

    @app.get("/vocabulary/{flag}")
    def vocabulary(flag: str) -> dict:
        """The shipped phrases of a constraint category, most used first (what the studio offers)."""
        from artdirector.vocab import category_vocab

        if flag not in FLAG_CATEGORIES:
            raise BadInput(f"unknown category {flag!r}; valid: {', '.join(FLAG_CATEGORIES)}")
        return {"flag": flag, "phrases": [e.phrase for e in category_vocab(FLAG_CATEGORIES[flag])[:VOCABULARY_SHOWN]]}

    @app.post("/v1/votes", dependencies=[Depends(authorised)])
    def vote(body: VoteBody) -> dict:
        return {"id": votes.add(body.idea, body.candidates, body.chosen, kind=body.kind, seed=body.seed,
                                meta=body.meta), "votes": len(votes)}

    @app.get("/v1/votes/pairs", dependencies=[Depends(authorised)], response_class=PlainTextResponse)
    def vote_pairs() -> str:
        return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in votes.pairs())

    return app
