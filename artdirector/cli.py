"""Command line: ``direct``, ``generate``, ``data split``, ``eval prefix``, ``library``, ``models``, ``train``.

The CLI parses, calls the Python API and prints; it holds no pipeline. Its choices (targets, backends,
decoders, scorers) are read from the registries that define them. Exit codes: 0 success, 2 bad input or usage
(click's own convention for usage errors), 1 internal error or something on disk to repair
(``errors.EXIT_CODES``). Only click and the light registries are imported at start-up; the model stack loads
inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
import time

import click

from artdirector.batch.run import BatchJob
from artdirector.config import default_of
from artdirector.critique import CRITICS
from artdirector.critique.loop import REVISIONS, RefineJob
from artdirector.decoding.dispatch import AUTO
from artdirector.decoding.dispatch import CHOICES as DECODING_CHOICES
from artdirector.evaluation.inversion import SYSTEMS as INVERT_SYSTEMS
from artdirector.evaluation.registry import ABLATIONS, BASE_SYSTEMS, SUITES
from artdirector.imaging.pipeline import OFFLOAD
from artdirector.inversion import MODES as INVERT_MODES
from artdirector.library.retrieval import VARIETY
from artdirector.lm import BACKENDS, SERVED
from artdirector.render import TARGETS
from artdirector.scoring import SCORERS
from artdirector.serving.settings import ServeSettings

BATCH_CHUNK = 32  # ideas per batched LM call in --batch mode
SEED = click.IntRange(min=0)  # NumPy's generators refuse negative seeds


class InputError(click.ClickException):
    exit_code = 2


def _fail_on_bad_input(fn):
    """Library errors become the CLI's exit codes with a one-line message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from artdirector.errors import EXIT_CODES

        try:
            return fn(*args, **kwargs)
        except tuple(cls for cls, _ in EXIT_CODES) as e:
            error = click.ClickException(str(e))
            error.exit_code = next(code for cls, code in EXIT_CODES if isinstance(e, cls))
            raise error from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="artdirector")
def main() -> None:
    """artdirector: an LLM art director for text-to-image and text-to-video prompts."""


# -- the director's options, shared by every command that directs ---------------------------------------

CONSTRAINT_FLAGS = (  # (flag, parameter, help); the categories come from decoding.constraints.FLAG_CATEGORIES
    ("--style", "style", "Require a style (repeatable; alternatives with '|')."),
    ("--artist", "artist", "Require an artist, e.g. 'hokusai|katsushika hokusai'."),
    ("--format", "format", "Require a medium/format, e.g. 'oil painting'."),
    ("--perspective", "perspective", "Require a composition/perspective, e.g. 'wide angle'."),
    ("--booster", "booster", "Require a quality booster, e.g. 'highly detailed'."),
    ("--vibe", "vibe", "Require a mood/vibe, e.g. 'serene'."),
    ("--lighting", "lighting", "Require a lighting phrase, e.g. 'golden hour'."),
    ("--color", "color", "Require a colour phrase, e.g. 'teal|turquoise'."),
)


def _stacked(options, fn):
    """``fn`` decorated with each click option, the first listed shown first in ``--help``."""
    return functools.reduce(lambda f, opt: opt(f), reversed(options), fn)


MODEL_OPTIONS = (
    click.option("--backend", type=click.Choice(tuple(BACKENDS)), default="llamacpp", show_default=True,
                 help="llama.cpp (fast CPU path), PyTorch/transformers, or an OpenAI-compatible server "
                      "(with --base-url, --model)."),
    click.option("--no-rag", is_flag=True, help="Do not ground the direction in retrieved human prompts."),
    click.option("--library", default="builtin", show_default=True, help="Prompt library to retrieve from."),
    click.option("--adapter", default="default", show_default=True,
                 help="Fine-tuned LoRA adapter: 'default' (shipped), 'none' (the plain model, few-shot) or a "
                      "folder."),
    click.option("--ranker", default="default", show_default=True,
                 help="What chooses the modifiers among the retrieved prompts' and the model's: 'default' (the "
                      "shipped learned ranker), 'consensus' (the set that agrees best with the closest human "
                      "prompts), 'vote' (the hand-set similarity vote) or a folder from 'train ranker'."),
    click.option("--variety", type=click.FloatRange(0, 2), default=VARIETY, show_default=True,
                 help="How strongly the ranker holds generic phrases ('highly detailed', '8k') back for specific "
                      "ones: 0 ranks by likelihood alone."),
    click.option("--base-url", default=None, metavar="URL",
                 help="With --backend openai: the server's OpenAI-compatible base, e.g. http://127.0.0.1:8080/v1."),
    click.option("--model", "served_model", default=None, metavar="NAME", help="With --backend openai: the model."),
    click.option("--api-key-env", default=None, metavar="VAR",
                 help="With --backend openai: the environment variable holding the API key."),
)


def model_options(fn):
    """Which director to load (``serve``; ``direction_options`` include them)."""
    return _stacked(MODEL_OPTIONS, fn)


def direction_options(fn):
    """Grounding, model and constraint options of the director (``direct``, ``generate``)."""
    options = [
        click.option("--n", "n", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Number of candidate directions (the first is greedy, the others sampled)."),
        click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for few-shot choice, sampling "
                     "and images."),
        *MODEL_OPTIONS,
        *[click.option(flag, param, multiple=True, help=text) for flag, param, text in CONSTRAINT_FLAGS],
        click.option("--include", multiple=True, help="Require a phrase in any part (repeatable)."),
        click.option("--exclude", multiple=True, help="Forbid a phrase (repeatable); it also joins the negative "
                     "prompt."),
        click.option("--style-image", default=None, type=click.Path(dir_okay=False, exists=True),
                     help="Require the medium, style, artist, lighting and colour this image shows (read by "
                          "--clip); the idea stays the subject, and a category you set yourself wins."),
        click.option("--clip", "style_clip", default=None, metavar="PATH|HUB_ID",
                     help="With --style-image: the CLIP model that reads it, e.g. openai/clip-vit-large-patch14."),
        click.option("--grammar", "grammar_file", default=None, type=click.Path(dir_okay=False, exists=True),
                     help="Decode under this Lark grammar (llguidance dialect); 'start' is the text after the "
                          "idea."),
        click.option("--decoding", type=click.Choice(DECODING_CHOICES), default=AUTO, show_default=True,
                     help="auto: NeuroLogic with constraints, grammar with --grammar, SMC with both, else greedy."),
        click.option("--steer", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="NATS",
                     help="Bias decoding toward the expert vocabulary by NATS per token (Fooocus-style; try 2)."),
        click.option("--details", is_flag=True, help="Let the director add scene details the idea does not name "
                     "(by default it adds only how the picture looks)."),
    ]
    return _stacked(options, fn)


def _direction(kw: dict) -> tuple[dict, callable]:
    """The director's options from the parsed flags (checked now, before any model loads), and a function
    that loads the director. Pops what it reads from ``kw``."""
    from artdirector.decoding import dispatch
    from artdirector.decoding.constraints import FLAG_CATEGORIES, Constraints
    from artdirector.decoding.grammar import Grammar

    categories = {FLAG_CATEGORIES[p]: list(kw.pop(p)) for _, p, _ in CONSTRAINT_FLAGS}
    for category, phrases in _style_image(kw.pop("style_image"), kw.pop("style_clip")).items():
        if not categories.get(category):  # what the user set for a category wins over the image
            categories[category] = phrases
    constraints = Constraints.build(include=list(kw.pop("include")), exclude=list(kw.pop("exclude")), **categories)
    grammar_file = kw.pop("grammar_file")
    grammar = Grammar.from_file(grammar_file) if grammar_file else None
    decoding = kw.pop("decoding")
    dispatch.choose(constraints, grammar, decoding)
    options = {"n": kw.pop("n"), "seed": kw.pop("seed"), "constraints": constraints or None, "grammar": grammar,
               "decoding": decoding, "steer": kw.pop("steer"), "details": kw.pop("details")}
    return options, _loader(kw)


def _style_image(path: str | None, clip: str | None) -> dict[str, list[str]]:
    """The look of ``--style-image``, read by ``--clip`` (before the director loads; CLIP is released after)."""
    if clip and not path:
        raise InputError("--clip reads a --style-image: add one (or use invert to turn an image into a prompt)")
    if not path:
        return {}
    if not clip:
        raise InputError("--style-image needs --clip MODEL, the CLIP model that reads its style")
    from pathlib import Path

    from artdirector.inversion.interrogate import style_of
    from artdirector.inversion.invert import open_image
    from artdirector.scoring.base import ClipEncoder

    image = open_image(Path(path))
    encoder = ClipEncoder.from_pretrained(clip, scorer="clip")
    found = style_of(image, encoder)
    encoder.close()
    click.echo("style image: " + (", ".join(f"{c} '{p[0]}'" for c, p in found.items()) or "nothing close enough in "
                                  "the vocabularies"), err=True)
    return found


def _loader(kw: dict):
    """A function that loads the director the ``MODEL_OPTIONS`` name. Pops what it reads from ``kw``."""
    backend, rag, library, adapter = kw.pop("backend"), not kw.pop("no_rag"), kw.pop("library"), kw.pop("adapter")
    ranker, variety = kw.pop("ranker"), kw.pop("variety")
    server = {"base_url": kw.pop("base_url"), "model": kw.pop("served_model"), "api_key_env": kw.pop("api_key_env")}
    if backend not in SERVED and (server["base_url"] or server["model"]):
        raise InputError("--base-url and --model name a served model: add --backend openai")

    def load():
        from artdirector.director import ArtDirector

        return ArtDirector.from_default(backend=backend, rag=rag, collection=library,
                                        adapter=None if adapter.lower() == "none" else adapter,
                                        ranker="vote" if ranker.lower() == "vote" else ranker, variety=variety,
                                        progress=lambda msg: click.echo(msg, err=True),
                                        server=server if backend in SERVED else None)

    return load


def _idea(words: tuple[str, ...], example: str):
    from artdirector.brief import check_idea

    if not words:
        raise InputError(f"no idea given: {example}")
    checked = check_idea(" ".join(words))  # bad input is refused before the model loads
    for note in checked.notes:
        click.echo(f"note: {note}", err=True)
    return checked


TEMPLATE_OPTIONS = (  # direct --template, batch --templates
    click.option("--count", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Templates: random expansions of each (with --combinatorial: at most this many)."),
    click.option("--combinatorial", is_flag=True, help="Templates: every combination, in order."),
    click.option("--wildcards", "wildcards_dir", default=None, type=click.Path(file_okay=False),
                 help="Templates: the wildcard folder (default: 'wildcards' in the user directory)."),
)


@main.command()
@click.argument("idea", nargs=-1)
@click.option("--target", type=click.Choice(tuple(TARGETS)), default="sd15", show_default=True,
              help="The model family the prompt is written for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (JSON Lines with --batch).")
@click.option("--batch", "batch", type=click.Path(dir_okay=False, exists=True),
              help="A file of ideas: one per line, or a TSV/CSV/JSONL/Parquet 'prompt' column; prints JSON Lines.")
@click.option("--list-vocab", "list_vocab", default=None, metavar="CATEGORY",
              help="Print the shipped vocabulary of CATEGORY, most used first, and exit.")
@click.option("--template", default=None, metavar="TEMPLATE",
              help="A dynamicprompts template, e.g. 'a {red|blue} car in __place__': each expansion is directed "
                   "(JSON Lines with --json); a missing wildcard is written by the director and kept.")
@functools.partial(_stacked, TEMPLATE_OPTIONS)
@direction_options
@_fail_on_bad_input
def direct(idea, target, as_json, batch, list_vocab, template, count, combinatorial, wildcards_dir, **kw) -> None:
    """Turn IDEA into a structured, model-ready prompt.

    Constraint flags are hard: the decoder (NeuroLogic beam search) must write them; what it cannot write in
    the token limit is added and said in the notes; excluded phrases never appear."""
    if list_vocab:
        _list_vocab(list_vocab)
        return
    if sum(map(bool, (batch, idea, template))) > 1:
        raise InputError("give one of an IDEA, --batch FILE or --template TEMPLATE")
    if not template and (combinatorial or wildcards_dir or count != 1):
        raise InputError("--count, --combinatorial and --wildcards apply with --template")
    options, load = _direction(kw)
    if batch:
        sys.exit(_direct_batch(batch, target, load, options))
    if template:
        _direct_template(template, target, load, options, count=count, combinatorial=combinatorial,
                         wildcards=wildcards_dir, as_json=as_json)
        return
    checked = _idea(idea, "artdirector direct \"a lighthouse in a storm\" (or --batch FILE)")
    start = time.perf_counter()
    director = load()
    loaded = time.perf_counter() - start
    result = director.direct(checked.text, target=target, **options)
    result.notes[:0] = [x for x in checked.notes if x not in result.notes]
    result.timings = {"load": loaded, **result.timings}
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _show(result)


def _direct_template(template: str, target: str, load, options: dict, *, count: int, combinatorial: bool,
                     wildcards: str | None, as_json: bool) -> None:
    from artdirector.templates import ArtDirectorGenerator

    options = dict(options)
    generator = ArtDirectorGenerator(load(), target=target, combinatorial=combinatorial, seed=options.pop("seed"),
                                     wildcards=wildcards, **options)
    generator.generate(template, count)
    for result in generator.results:
        if as_json:
            click.echo(json.dumps({"template": template, **result.to_json()}, ensure_ascii=False))
        else:
            _show(result)


def _list_vocab(category: str) -> None:
    from artdirector.decoding.constraints import FLAG_CATEGORIES
    from artdirector.vocab import category_vocab

    entries = category_vocab(FLAG_CATEGORIES.get(category, category))
    if not entries:
        raise InputError(f"no vocabulary for {category!r}; categories: {', '.join(FLAG_CATEGORIES)}")
    for e in entries:
        click.echo(e.phrase)


def _direct_batch(path: str, target: str, load, options: dict) -> int:
    """Every readable idea of ``path``, directed in chunks with the model loaded once; a bad line prints an
    error object in its place and the others still run."""
    from artdirector.brief import check_idea
    from artdirector.errors import BadInput
    from artdirector.readers import read_rows

    rows = []
    for line, text, error in read_rows(path):
        if error is None:
            try:
                text = check_idea(text).text
            except BadInput as e:
                error = str(e)
        rows.append((line, text, f"line {line}: {error}" if error else None))
    good = [(line, idea) for line, idea, err in rows if err is None]
    results = {}
    if good:
        director = load()
        for begin in range(0, len(good), BATCH_CHUNK):
            chunk = good[begin: begin + BATCH_CHUNK]
            for (line, _), res in zip(chunk, director.direct_many([i for _, i in chunk], target=target, **options)):
                results[line] = res.to_json()
    for line, _idea, err in rows:
        if err is not None:
            click.echo(f"error: {err}", err=True)
            click.echo(json.dumps({"line": line, "error": err}, ensure_ascii=False))
        else:
            click.echo(json.dumps({"line": line, **results[line]}, ensure_ascii=False))
    return 2 if len(good) < len(rows) else 0


def _show(result) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

    console = Console()
    for i, res in enumerate(result.candidates or [result]):
        body = Text()
        body.append(res.prompt + "\n", style="bold")
        if res.rendered.negative_prompt:
            body.append("negative: ", style="dim")
            body.append(res.rendered.negative_prompt + "\n")
        body.append("\n")
        body.append(f"idea  {res.idea}\n", style="dim")
        for category, phrases in res.direction.parts.items():
            for phrase in phrases:
                style, mark = ("red", "-") if phrase in res.rendered.dropped else ("green", "+")
                body.append(f"{mark} {phrase}", style=style)
                body.append(f"  ({category})\n", style="dim")
        for note in [*res.notes, *res.rendered.notes]:
            body.append(f"note: {note}\n", style="yellow")
        title = f"{res.target} · {res.rendered.tokens}/{res.rendered.budget} tokens · {res.model}"
        if result.candidates:
            title = f"candidate {i + 1} · " + title
        console.print(Panel(body, title=title, subtitle=f"{result.seconds:.2f}s"))


def _scorer_specs(specs: tuple[str, ...]) -> dict[str, str | None]:
    """``--score NAME[=MODEL]`` → {name: model or None (the scorer's default)}, in the order given."""
    out: dict[str, str | None] = {}
    for spec in specs:
        name, _, model = spec.partition("=")
        name = name.strip().lower()
        if name not in SCORERS:
            raise InputError(f"--score {spec!r}: unknown scorer {name!r}; valid: {', '.join(SCORERS)}")
        if name in out:
            raise InputError(f"--score {name} given twice")
        out[name] = model.strip() or None
    return out


def _image_default(name: str):
    """The declared default of an image option (``imaging.pipeline.ImageJob`` or ``GenerationSettings``)."""
    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.pipeline import ImageJob

    return default_of(ImageJob if name in ImageJob.__dataclass_fields__ else GenerationSettings, name)


IMAGE_MODEL_HELP = ("A diffusers text-to-image pipeline (a local folder or a hub id), or the http(s) URL of an "
                    "AUTOMATIC1111-compatible server (A1111, Forge, SD.Next) started with --api.")
IMAGE_OPTION = {  # by parameter name, so that a command can take a subset (eval invert)
    "motion_adapter": click.option(
        "--motion-adapter", default=None, metavar="PATH|HUB_ID",
        help="An AnimateDiff motion adapter: make clips (GIF + MP4) instead of images."),
    "images_per_prompt": click.option(
        "--images-per-prompt", type=click.IntRange(min=1), default=_image_default("images_per_prompt"),
        show_default=True, help="Seeds per candidate prompt: seed, seed+1, ..."),
    "steps": click.option("--steps", type=click.IntRange(min=1), default=_image_default("steps"), show_default=True),
    "guidance": click.option("--guidance", type=click.FloatRange(min=0), default=_image_default("guidance"),
                             show_default=True, help="Classifier-free guidance scale."),
    "width": click.option("--width", type=click.IntRange(min=8), default=None,
                          help="Pixels, a multiple of 8 (default: the model's own)."),
    "height": click.option("--height", type=click.IntRange(min=8), default=None,
                           help="Pixels, a multiple of 8 (default: the model's own)."),
    "frames": click.option("--frames", type=click.IntRange(min=1), default=_image_default("frames"),
                           show_default=True, help="Frames per clip."),
    "fps": click.option("--fps", type=click.IntRange(min=1), default=_image_default("fps"), show_default=True,
                        help="Frames per second of clips."),
    "scores": click.option("--score", "scores", multiple=True, metavar="NAME[=MODEL]",
                           help=f"Score images ({', '.join(SCORERS)}), MODEL a folder or hub id; repeatable."),
    "rank_by": click.option("--rank-by", default=None,
                            help="The scorer that picks the best image (default: the first)."),
    "device": click.option("--device", default=None, help="cuda, mps or cpu (default: the best available)."),
    "dtype": click.option("--dtype", default=None, help="float32, float16 or bfloat16 (default: by device and model)."),
    "offload": click.option("--offload", type=click.Choice(OFFLOAD), default=_image_default("offload"),
                            show_default=True, help="GPU memory saving for the image pipeline (see README: memory)."),
    "batch_size": click.option("--batch-size", type=click.IntRange(min=1), default=_image_default("batch_size"),
                               show_default=True, help="Images per pipeline call."),
    "no_safety_checker": click.option("--no-safety-checker", is_flag=True,
                                      help="Turn off the pipeline's NSFW safety checker."),
    "loras": click.option("--lora", "loras", multiple=True, metavar="PATH[=WEIGHT]",
                          help="An image-model LoRA (.safetensors, diffusers or kohya layout, or a folder) and its "
                               "weight (default 1); repeatable. On an A1111 server: NAME[=WEIGHT]."),
    "lora_dir": click.option("--lora-dir", default=None, type=click.Path(file_okay=False),
                             help="Where <lora:NAME:WEIGHT> tags in the idea are looked up (default: 'loras' in "
                                  "the user directory)."),
}
IMAGE_OPTIONS = tuple(IMAGE_OPTION.values())


def image_options(fn):
    """The image pipeline and its scorers (``generate``, ``serve``), all but the model itself."""
    return _stacked(IMAGE_OPTIONS, fn)


IMAGE_PARAMS = tuple(IMAGE_OPTION)


def _image_job(image_model: str, kw: dict, **job):
    """The ``ImageJob`` the ``IMAGE_OPTIONS`` describe (checked now, before any model loads). Pops what it reads."""
    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.pipeline import ImageJob

    settings = GenerationSettings(**{k: kw.pop(k) for k in ("steps", "guidance", "width", "height", "frames", "fps")
                                     if k in kw})  # a command with a subset of the options: the rest as declared
    specs, rank_by = _scorer_specs(kw.pop("scores", ())), kw.pop("rank_by", None)
    if rank_by is not None and rank_by not in specs:
        raise InputError(f"--rank-by {rank_by!r} is not among the --score names ({', '.join(specs) or 'none given'})")
    if "loras" in kw:  # a command without an idea (serve): the --lora files only
        job.setdefault("loras", tuple(_loras_of(image_model, kw, ())[1]))
    given = {k: kw.pop(k) for k in ("motion_adapter", "images_per_prompt", "device", "dtype", "offload", "batch_size")
             if k in kw}
    if "no_safety_checker" in kw:
        given["safety_checker"] = not kw.pop("no_safety_checker")
    return ImageJob(image_model=image_model, settings=settings, scorers=specs, rank_by=rank_by, **given, **job)


def _loras_of(image_model: str, kw: dict, words) -> tuple[tuple[str, ...], list]:
    """The idea's words without their ``<lora:NAME:WEIGHT>`` tags, and every LoRA (``--lora`` first). Pops the
    LoRA options from ``kw``."""
    from artdirector.imaging.a1111_backend import is_server_url
    from artdirector.imaging.lora import combine, parse_lora, split_tags

    local = not is_server_url(image_model)
    given = [parse_lora(spec, local=local) for spec in kw.pop("loras")]
    text, tagged = split_tags(" ".join(words), kw.pop("lora_dir"), local=local)
    return (tuple(text.split()) if tagged else tuple(words)), combine(given, tagged)  # untagged: as typed


def _require_triggers(kw: dict, loras) -> tuple[str, ...]:
    """The LoRAs' trigger words, made required phrases of the direction (``--include``); returned so that they
    are also rendered first after the idea."""
    from artdirector.imaging.lora import trigger_words

    words = tuple(dict.fromkeys(w for lora in loras for w in trigger_words(lora)))
    if words:
        kw["include"] = (*kw["include"], *words)
        click.echo("LoRA trigger words (required, placed first): " + ", ".join(words), err=True)
    return words


@main.command()
@click.argument("idea", nargs=-1)
@click.option("--image-model", required=True, metavar="PATH|HUB_ID|URL", help=IMAGE_MODEL_HELP)
@image_options
@click.option("--side-by-side", is_flag=True, help="Also render the idea as typed, same seeds, and compare.")
@click.option("--target", type=click.Choice(tuple(TARGETS)), default=None,
              help="Prompt style (default: from the pipeline: sd15, sdxl, flux, sd3, or video with a motion "
                   "adapter).")
@click.option("--out", "out_dir", default=_image_default("out_dir"), show_default=True,
              type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@direction_options
@_fail_on_bad_input
def generate(idea, image_model, side_by_side, target, out_dir, as_json, **kw) -> None:
    """Direct IDEA, render it with an image model, score the images and pick the best.

    Takes every grounding and constraint option of ``direct``. Stages hand memory over: the director's LM is
    released before the pipeline loads, the pipeline before the scorers, and each scorer after it runs."""
    from artdirector.imaging.pipeline import run_images

    idea, loras = _loras_of(image_model, kw, idea)
    checked = _idea(idea, "artdirector generate \"a red fox in snow\" --image-model DIR")
    job = _image_job(image_model, kw, side_by_side=side_by_side, out_dir=out_dir, loras=tuple(loras))
    early = _require_triggers(kw, loras)
    options, load = _direction(kw)
    report = run_images(checked.text, job, load, target=target, early=early, **options)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        _show_images(report)


@main.command("refine")
@click.argument("idea", nargs=-1)
@click.option("--image-model", required=True, metavar="PATH|HUB_ID|URL", help=IMAGE_MODEL_HELP)
@click.option("--critic", "critic_spec", required=True, metavar="NAME[=MODEL]",
              help=f"Who judges the images: {', '.join(CRITICS)}, MODEL a folder or hub id (e.g. "
                   "vqa=Salesforce/blip-vqa-base, clip=openai/clip-vit-large-patch14).")
@click.option("--rounds", type=click.IntRange(min=1), default=default_of(RefineJob, "rounds"), show_default=True)
@click.option("--candidates", type=click.IntRange(min=1), default=default_of(RefineJob, "candidates"),
              show_default=True, help="Directions tried per round (the same seeds for all).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=default_of(RefineJob, "threshold"),
              show_default=True, help="Stop once the critic's DSG score reaches this.")
@click.option("--revise", type=click.Choice(REVISIONS), default=default_of(RefineJob, "revise"), show_default=True,
              help="constraints: what the images miss becomes required phrases placed early; append: the seed "
                   "system's baseline, appended at the end.")
@click.option("--keep-loaded", is_flag=True, help="Keep the pipeline and the critic both loaded between rounds "
              "(faster where memory allows).")
@click.option("--target", type=click.Choice(tuple(TARGETS)), default=None,
              help="Prompt style (default: from the pipeline).")
@click.option("--out", "out_dir", default=default_of(RefineJob, "out_dir"), show_default=True,
              type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (also written to OUT/refine.json).")
@image_options
@direction_options
@_fail_on_bad_input
def refine_command(idea, image_model, critic_spec, rounds, candidates, threshold, revise, keep_loaded, target,
                   out_dir, as_json, **kw) -> None:
    """Direct IDEA, render it, let a critic judge the images, and revise the prompt round after round.

    Takes every grounding and constraint option of ``direct`` (they stay hard in every round) and every image
    option of ``generate``. What the images miss becomes required phrases placed early; the best prompt so far
    is kept; it stops at the threshold, after the rounds, or when a round brings no gain."""
    from artdirector.critique import load_critic, parse_critic
    from artdirector.critique.loop import refine
    from artdirector.imaging.pipeline import open_image_model

    idea, loras = _loras_of(image_model, kw, idea)
    checked = _idea(idea, "artdirector refine \"a red cube on a blue sphere\" --image-model DIR --critic vqa")
    parse_critic(critic_spec)
    job = _image_job(image_model, kw, loras=tuple(loras))
    early = _require_triggers(kw, loras)
    if job.scorers:
        raise InputError("--score is for generate: refine judges the images with its --critic")
    options, load = _direction(kw)
    if options.pop("n") != 1:
        raise InputError("refine tries --candidates directions per round; --n is for direct")
    loop = RefineJob(rounds=rounds, candidates=candidates, images_per_prompt=job.images_per_prompt,
                     threshold=threshold, revise=revise, out_dir=out_dir, keep_loaded=keep_loaded)
    load_generator, native_target = open_image_model(job)
    report = refine(checked.text, load(), load_generator, lambda: load_critic(critic_spec, device=job.device), loop,
                    target=target or native_target, settings=job.settings, early=early, **options)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        for rd in report["rounds"]:
            for k, c in enumerate(rd["candidates"]):
                star = "★" if k == rd["best"] else " "
                click.echo(f"round {rd['round']} {star} {c['score']:.3f}  {c['prompt']}\n      {c['critique']}")
        if report["best"]:
            click.echo(f"best: round {report['best']['round']}, {report['best']['score']:.3f}: "
                       f"{report['best']['prompt']} ({report['best']['path']}); stopped: {report['stopped']}")
    if report.get("error"):
        click.echo(f"error: {report['error']} (the rounds done are in {out_dir}/refine.json)", err=True)
        sys.exit(1)


@main.command("invert")
@click.argument("images", nargs=-1)
@click.option("--folder", default=None, type=click.Path(file_okay=False), help="Every image in this folder too.")
@click.option("--clip", "clip_model", required=True, metavar="PATH|HUB_ID",
              help="The CLIP model that ranks the vocabularies, e.g. openai/clip-vit-large-patch14.")
@click.option("--captioner", default=None, metavar="PATH|HUB_ID|vlm=URL",
              help="A BLIP captioning model for the idea, e.g. Salesforce/blip-image-captioning-large, or "
                   "vlm=http://HOST:PORT/v1[#MODEL]: an OpenAI-compatible vision chat server.")
@click.option("--target", type=click.Choice(tuple(TARGETS)), default="sd15", show_default=True)
@click.option("--mode", type=click.Choice(INVERT_MODES), default="fast", show_default=True,
              help="fast: the best phrase per category; best: a greedy chain while the similarity rises.")
@click.option("--top", type=click.IntRange(min=1), default=6, show_default=True,
              help="best mode: at most this many phrases.")
@click.option("--tuner", default=None, type=click.Path(file_okay=False, exists=True),
              help="A visual prompt tuner (train tuner): the tuned LM writes the prompt.")
@click.option("--device", default=None, help="cuda, mps or cpu (default: the best available).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image (JSON Lines).")
@_fail_on_bad_input
def invert_command(images, folder, clip_model, captioner, target, mode, top, tuner, device, as_json) -> None:
    """Turn images into prompts: a caption, then each category's vocabulary ranked by CLIP against the image.

    An image that cannot be read is reported on its own line (exit 2 at the end); the others still run."""
    from artdirector.inversion.invert import image_files, invert

    results = invert(image_files(images, folder), clip=clip_model, captioner=captioner, mode=mode, top=top,
                     target=target, device=device, tuner=tuner)
    for r in results:
        if "error" in r:
            click.echo(f"error: {r['error']}", err=True)
        if as_json:
            click.echo(json.dumps(r, ensure_ascii=False))
        elif "error" not in r:
            click.echo(f"{r['image']}\n  {r['prompt']}\n  negative: {r['negative_prompt']}")
    if any("error" in r for r in results):
        sys.exit(2)


def _show_images(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    names = list(report["images"][0]["scores"]) if report["images"] else []
    table = Table(title=f"{report['idea']} · {report['image_model']} · best by {report['rank_by'] or '-'}")
    for col in ("", "source", "seed", *names, "file", "prompt"):
        table.add_column(col, overflow="fold")
    best = report["best"]["path"] if report["best"] else None
    for im in report["images"]:
        table.add_row("★" if im["path"] == best else "", im["source"], str(im["seed"]),
                      *[f"{im['scores'][n]:.3f}" for n in names], im["path"], im["prompt"])
    console.print(table)
    if report["side_by_side"]:
        console.print(f"side by side (mean): {report['side_by_side']}")
    for note in report["memory"]:
        console.print(f"memory: {note}", style="dim")


@main.group()
def data() -> None:
    """Data preparation."""


@data.command("split")
@click.argument("source", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", type=click.Path(file_okay=False), default="data/splits", show_default=True)
def data_split(source: str, out: str) -> None:
    """Split a DiffusionDB-style TSV into train/validation/test by the documented rule."""
    from pathlib import Path

    from artdirector.corpus import read_tsv, split_corpus, write_tsv

    splits = split_corpus(read_tsv(source))
    for name, rows in splits.items():
        n = write_tsv(rows, Path(out) / f"{name}.tsv")
        click.echo(f"{name}: {n} prompts, {len({r.prefix for r in rows})} distinct prefixes")


@data.command("lexicon")
@click.argument("source", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", type=click.Path(file_okay=False), default="artdirector/data/vocab", show_default=True)
def data_lexicon(source: str, out: str) -> None:
    """Count word roles and modifier phrases over a prompt TSV (the 1.07M Discord prompts, gzipped)."""
    from artdirector.lexicon import build

    for name, rows in build(source, out).items():
        click.echo(f"{name}: {rows} rows")


@data.command("associations")
@click.argument("source", type=click.Path(dir_okay=False, exists=True))
@click.option("--exclude", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Prompt files (repeatable) whose near-copies are left out: the splits anything learns or is "
                   "measured on.")
@click.option("--out", type=click.Path(file_okay=False), default="artdirector/data/vocab", show_default=True)
def data_associations(source: str, exclude: tuple[str, ...], out: str) -> None:
    """Count which modifier phrases go with which idea words (after 'data lexicon', over the same SOURCE)."""
    from artdirector.lexicon import ASSOCIATIONS, build_associations

    click.echo(f"{ASSOCIATIONS}: {build_associations(source, out, exclude=exclude)} pairs")


@main.group("eval")
def eval_group() -> None:
    """Measure direction quality."""


def eval_options(fn):
    options = [
        click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True),
        click.option("--systems", "system_names", default=None,
                     help=f"Comma-separated systems (default: the base set): {', '.join(BASE_SYSTEMS + ABLATIONS)}, "
                          "artdirector@MODEL, artdirector+ADAPTER."),
        click.option("--suite", type=click.Choice(sorted(SUITES)), default=None,
                     help="A preset list of systems for one of the seed papers' experiments."),
        click.option("--n", "n", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Samples per idea (diversity metrics need 2 or more)."),
        click.option("--seed", type=SEED, default=0, show_default=True),
        click.option("--out", type=click.Path(file_okay=False), default="eval-out", show_default=True),
        click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout."),
    ]
    return _stacked(options, fn)


def _evaluate(protocol: str, data_file: str, items, skipped: int, limit, system_names, suite, n, seed, out,
              as_json) -> None:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from artdirector.evaluation.harness import evaluate

    if system_names and suite:
        raise InputError("give --systems or --suite, not both")
    names = [x.strip() for x in (system_names or SUITES[suite or "base"]).split(",") if x.strip()]
    config = {"protocol": protocol, "data": str(data_file), "limit": limit, "systems": names, "n": n, "seed": seed}
    if protocol == "prefix":
        config.pop("protocol")  # as runs written before the ideas protocol recorded it: they resume
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        tasks = {}

        def progress(name, done, total):
            tasks.setdefault(name, bar.add_task(name, total=total))
            bar.update(tasks[name], completed=done)

        report = evaluate(items, names, out=Path(out), n=n, seed=seed, config=config, skipped=skipped,
                          progress=progress)
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo((Path(out) / "report.md").read_text().split("## Examples")[0])


@eval_group.command("prefix")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="TSV/CSV/JSONL with a 'prompt' column (use a validation or test split).")
@eval_options
@_fail_on_bad_input
def eval_prefix(data_file, limit, system_names, suite, n, seed, out, as_json) -> None:
    """NeuroPrompts' prefix protocol: the idea is a human prompt's prefix; compare modifiers."""
    from artdirector.evaluation.harness import prefix_items, read_prompts

    items, skipped = prefix_items(read_prompts(data_file), limit=limit, seed=seed)
    if not items:
        raise InputError(f"no usable ideas in {data_file} (need prefixes of >= 3 words and >= 2 modifiers)")
    _evaluate("prefix", data_file, items, skipped, limit, system_names, suite, n, seed, out, as_json)


@eval_group.command("ideas")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Ideas as typed: one per line, or a TSV/CSV/JSONL/Parquet column (--column).")
@click.option("--column", default="prompt", show_default=True, help="The column of a table that holds the ideas.")
@eval_options
@_fail_on_bad_input
def eval_ideas(data_file, column, limit, system_names, suite, n, seed, out, as_json) -> None:
    """Ideas without a human prompt (benchmark sentences, everyday ideas): trust, fidelity and diversity."""
    from artdirector.evaluation.harness import idea_items
    from artdirector.readers import read_texts

    items, skipped = idea_items(read_texts(data_file, column), limit=limit, seed=seed)
    if not items:
        raise InputError(f"no ideas in {data_file}")
    _evaluate("ideas", data_file, items, skipped, limit, system_names, suite, n, seed, out, as_json)


def _refuse_image_options(names) -> None:
    """Image options given to a command without --image-model: said, not ignored."""
    from click.core import ParameterSource

    context = click.get_current_context()
    given = [p.opts[0] for p in context.command.params
             if p.name in names and context.get_parameter_source(p.name) is not ParameterSource.DEFAULT]
    if given:
        raise InputError(f"{given[0]} sets up images: add --image-model")


BATCH_IMAGE_PARAMS = ("images_per_prompt", "steps", "guidance", "width", "height", "scores", "rank_by", "device",
                      "dtype", "offload", "batch_size", "no_safety_checker", "loras", "lora_dir")
BATCH_IMAGE_OPTIONS = tuple(IMAGE_OPTION[k] for k in BATCH_IMAGE_PARAMS)


@main.command("batch")
@click.argument("source", metavar="IN", type=click.Path(dir_okay=False, exists=True))
@click.argument("out", metavar="OUT", type=click.Path(dir_okay=False))
@click.option("--ray", "ray_address", default=None, is_flag=False, flag_value="local", metavar="[ADDRESS]",
              help="Run on Ray Data: alone, a Ray instance started on this machine; 'auto' or an address joins a "
                   "cluster (ray start --head).")
@click.option("--actors", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --ray: director actors (each loads the model once).")
@click.option("--cpus-per-actor", type=click.IntRange(min=1), default=None,
              help="With --ray: CPUs each actor reserves and decodes with (default: the cluster's CPUs / actors).")
@click.option("--column", default=default_of(BatchJob, "column"), show_default=True,
              help="The ideas' column in a table (falls back to 'prompt'); plain text is one idea per line.")
@click.option("--chunk", type=click.IntRange(min=1), default=default_of(BatchJob, "chunk"), show_default=True,
              help="Ideas per batched LM call (and per Ray task).")
@click.option("--target", type=click.Choice(tuple(TARGETS)), default=None,
              help="Prompt style (default: sd15, or the image model's own).")
@click.option("--image-model", default=None, metavar="PATH|HUB_ID|URL",
              help="Also render every directed row (and score it with --score): " + IMAGE_MODEL_HELP)
@functools.partial(_stacked, BATCH_IMAGE_OPTIONS)
@click.option("--images-dir", default=None, type=click.Path(file_okay=False),
              help="With --image-model: where the images go (default: OUT's name + '-images'; on a cluster, a "
                   "folder every node can write).")
@click.option("--image-actors", type=click.IntRange(min=1), default=None,
              help="With --ray and --image-model: image actors (default: one per GPU, else one).")
@click.option("--templates", is_flag=True, help="Each row is a dynamicprompts template: one output row per "
              "expansion (direct --template).")
@functools.partial(_stacked, TEMPLATE_OPTIONS)
@direction_options
@_fail_on_bad_input
def batch_command(source, out, ray_address, actors, cpus_per_actor, column, chunk, target, image_model, images_dir,
                  image_actors, templates, count, combinatorial, wildcards_dir, **kw) -> None:
    """Direct every idea of IN (text, CSV, TSV, JSONL or Parquet) into OUT (any of those, by extension), the
    other columns carried through; with --image-model render and score each too. Resumable: a re-run skips the
    rows already done. A bad row becomes an error row (exit 2 at the end); the others still run."""
    from pathlib import Path

    from artdirector.batch.run import run_batch

    if ray_address is None and (actors != 1 or cpus_per_actor or image_actors):
        raise InputError("--actors, --cpus-per-actor and --image-actors apply with --ray")
    images = None
    if image_model:
        from artdirector.batch.images import ImageBatch
        from artdirector.imaging.pipeline import open_image_model

        _, loras = _loras_of(image_model, kw, ())
        job = _image_job(image_model, kw, loras=tuple(loras))
        target = target or open_image_model(job)[1]
        kw["include"] = (*kw["include"], *_require_triggers(kw, loras))
        images = ImageBatch(job, images_dir or str(Path(out).with_suffix("")) + "-images", seed=kw["seed"])
    else:
        _refuse_image_options((*BATCH_IMAGE_PARAMS, "images_dir", "image_actors"))
    for k in BATCH_IMAGE_PARAMS:
        kw.pop(k, None)
    if not templates and (combinatorial or wildcards_dir or count != 1):
        raise InputError("--count, --combinatorial and --wildcards apply with --templates")
    expanding = {"count": count, "combinatorial": combinatorial, "seed": kw["seed"], "wildcards": wildcards_dir}
    director = {k: kw[k] for k in ("backend", "no_rag", "library", "adapter", "ranker", "variety", "base_url",
                                   "served_model")}
    options, load = _direction(kw)
    job = BatchJob(source=source, out=out, target=target or "sd15", column=column, chunk=chunk, options=options,
                   director=director, images=images, templates=expanding if templates else None)
    runner = render = None
    if ray_address is not None:
        from artdirector.batch.ray_runner import make_renderer, make_runner

        runner, render = make_runner(ray_address, actors, cpus_per_actor), make_renderer(ray_address, image_actors)
    report = run_batch(job, load, runner=runner, render=render,
                       progress=lambda done, total: click.echo(f"{done}/{total}", err=True))
    click.echo(json.dumps(report))
    if report["errors"]:
        sys.exit(2)


EVAL_IMAGE_OPTIONS = tuple(IMAGE_OPTION[k] for k in ("steps", "guidance", "width", "height", "device", "dtype",
                                                     "offload", "batch_size", "no_safety_checker"))


@eval_group.command("invert")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="JSON Lines of {\"image\", \"prompt\"}: each image and the prompt (or caption) that describes it.")
@click.option("--clip", "clip_model", required=True, metavar="PATH|HUB_ID",
              help="The CLIP model that ranks and scores.")
@click.option("--captioner", default=None, metavar="PATH|HUB_ID|vlm=URL",
              help="A captioning model, as invert --captioner.")
@click.option("--tuner", default=None, type=click.Path(file_okay=False, exists=True),
              help="A visual prompt tuner (train tuner): adds the tuner system.")
@click.option("--image-model", default=None, metavar="PATH|HUB_ID|URL",
              help="Regenerate every prompt with this model and compare the images: " + IMAGE_MODEL_HELP)
@functools.partial(_stacked, EVAL_IMAGE_OPTIONS)
@click.option("--systems", "system_names", default=None,
              help="Comma-separated (default: every one the models given allow): " + ", ".join(INVERT_SYSTEMS))
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=6, show_default=True, help="invert-best: at most this many "
              "phrases.")
@click.option("--target", type=click.Choice(tuple(TARGETS)), default="sd15", show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="The one seed every regenerated image uses.")
@click.option("--out", type=click.Path(file_okay=False), default="eval-invert", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout.")
@_fail_on_bad_input
def eval_invert(data_file, clip_model, captioner, tuner, image_model, system_names, limit, top, target, seed, out,
                as_json, **image_kw) -> None:
    """Image → prompt: CLIP similarity, regenerate-and-compare (with --image-model) and BLEU/CIDEr against the
    reference, for invert's systems with the caption-only and interrogator-only baselines beside them."""
    from pathlib import Path

    from artdirector.critique.feedback import read_triples
    from artdirector.evaluation.inversion import check_systems, evaluate_inversion

    pairs = read_triples(data_file, limit, keys=("image", "prompt"))
    names = [x.strip() for x in system_names.split(",") if x.strip()] if system_names is not None else None
    names = check_systems(names, captioner=captioner, tuner=tuner)
    generator, settings, device = None, None, image_kw["device"]
    if image_model:
        from artdirector.imaging.pipeline import ImageStages

        job = _image_job(image_model, image_kw, out_dir=out)
        generator, settings = ImageStages(job).generator, job.settings
    config = {"data": str(data_file), "limit": limit, "clip": clip_model, "captioner": captioner, "tuner": tuner,
              "image_model": image_model, "settings": settings.to_json() if settings else None, "systems": names,
              "top": top, "target": target, "seed": seed}
    report = evaluate_inversion(pairs, clip=clip_model, out=Path(out), captioner=captioner, tuner=tuner,
                                generator=generator, settings=settings, systems=names, top=top, target=target,
                                seed=seed, device=device, config=config)
    for problem in report["skipped"]:
        click.echo(f"skipped: {problem}", err=True)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo((Path(out) / "report.md").read_text().split("## Examples")[0])


@main.group()
def library() -> None:
    """The prompt library: ingest collections of prompts and search them."""


def _open_library():
    from artdirector.library.library import PromptLibrary

    return PromptLibrary.default()


@library.command("ingest")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--library", "name", default="mine", show_default=True, help="Collection to add to.")
@click.option("--allow-unsafe", is_flag=True, help="Keep prompts the safety word list flags (marked unsafe).")
@click.option("--json", "as_json", is_flag=True)
@_fail_on_bad_input
def library_ingest(file, name, allow_unsafe, as_json) -> None:
    """Add the prompts of FILE (TSV/CSV/JSONL/Parquet with a 'prompt' column). Safe to re-run."""
    from rich.console import Console
    from rich.progress import Progress

    from artdirector.library.library import SHIPPED

    if name in SHIPPED:
        raise InputError(f"{name!r} is a shipped library; choose another --library name")
    lib = _open_library()
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("embedding", total=None)
        report = lib.ingest(file, name, allow_unsafe=allow_unsafe,
                            progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(f"{name}: added {report.added}, duplicates {report.duplicate}, near-duplicates "
                   f"{report.near_duplicate}, unsafe {report.unsafe}, bad rows {report.bad} "
                   f"({report.seconds:.1f}s)")
        for line in report.bad_lines:
            click.echo(f"  {line}", err=True)


@library.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "k", type=click.IntRange(min=1, max=1000), default=10, show_default=True)
@click.option("--mode", type=click.Choice(("vector", "keyword", "hybrid")), default="hybrid", show_default=True)
@click.option("--library", "name", default="builtin", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_fail_on_bad_input
def library_search(query, k, mode, name, as_json) -> None:
    """Find prompts by meaning (vector), words (keyword) or both (hybrid, reciprocal-rank fusion)."""
    text = " ".join(query)
    from artdirector.library.library import SHIPPED

    lib = _open_library()
    if name in SHIPPED:
        lib.ensure_builtin()
    start = time.perf_counter()
    if mode != "keyword":
        lib.embedder  # noqa: B018 - loaded apart, so "seconds" is the search alone
    loaded = time.perf_counter() - start
    hits = lib.search(text, k=k, mode=mode, collection=name)
    searched = time.perf_counter() - start - loaded
    out = {"query": text, "results": [h.to_json() for h in hits], "seconds": round(searched, 4),
           "timings": {"load": round(loaded, 4), "search": round(searched, 4)}}
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        for h in hits:
            click.echo(f"{h.score:7.3f}  {h.prompt}")


@library.command("stats")
@_fail_on_bad_input
def library_stats() -> None:
    """Rows per collection and source, unsafe rows, disk use."""
    click.echo(json.dumps(_open_library().stats(), indent=2))


@library.command("list")
@_fail_on_bad_input
def library_list() -> None:
    """Collections and their sizes."""
    for name, n in _open_library().collections().items():
        click.echo(f"{name}\t{n}")


@library.command("remove")
@click.argument("name")
@_fail_on_bad_input
def library_remove(name) -> None:
    """Delete a collection and its index."""
    lib = _open_library()
    if not lib.has(name):
        raise InputError(f"no library named {name!r}; libraries: {', '.join(lib.collections()) or 'none'}")
    click.echo(f"removed {lib.remove(name)} prompts from {name}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything beyond this machine needs --token.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--token", envvar="ARTDIRECTOR_TOKEN", default=None,
              help="Bearer token every /v1 call must carry (or ARTDIRECTOR_TOKEN).")
@click.option("--queue", type=click.IntRange(min=1), default=default_of(ServeSettings, "queue"), show_default=True,
              help="Requests that may wait for the director; one more is answered 503 with Retry-After.")
@model_options
@click.option("--image-model", default=None, metavar="PATH|HUB_ID|URL",
              help=IMAGE_MODEL_HELP + " Serves POST /v1/generate and images in the studio.")
@image_options
@click.option("--critic", "critic_spec", default=None, metavar="NAME[=MODEL]",
              help="With --image-model: the critic of POST /v1/refine (see refine --critic).")
@click.option("--images-dir", default=None, type=click.Path(file_okay=False),
              help="Where served images are kept (default: the user directory's served-images).")
@click.option("--kept-runs", type=click.IntRange(min=1), default=default_of(ServeSettings, "kept_runs"),
              show_default=True, help="Image runs kept on disk; older ones are deleted.")
@_fail_on_bad_input
def serve(host, port, token, queue, image_model, critic_spec, images_dir, kept_runs, **kw) -> None:
    """Serve the director over HTTP (FastAPI; API docs at /docs) with the model kept loaded; with --image-model
    the image pipeline and scorers too."""
    from artdirector.serving.app import create_app
    from artdirector.serving.settings import check_bind

    check_bind(host, token)
    settings = ServeSettings(token=token or None, queue=queue, kept_runs=kept_runs)
    if not image_model:
        _refuse_image_options(IMAGE_PARAMS)
    if critic_spec and not image_model:
        raise InputError("--critic judges images: add --image-model")
    if critic_spec:
        from artdirector.critique import parse_critic

        parse_critic(critic_spec)
    job = _image_job(image_model, kw) if image_model else None
    load = _loader(kw)
    images = None
    if job is not None:
        from artdirector.imaging.pipeline import ImageStages

        images = ImageStages(job, resident=True)
    director = load()
    critic = None
    if images is not None:
        click.echo(f"loading the image model {image_model}", err=True)
        images.load()
    if critic_spec:
        from artdirector.critique import load_critic

        critic = load_critic(critic_spec, device=job.device)
    import uvicorn

    app = create_app(director, settings=settings, images=images, images_dir=images_dir, critic=critic)
    click.echo(f"serving on http://{host}:{port} (API docs at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.group()
def models() -> None:
    """The embedded model, and reward-model checkpoints converted for --score."""


@models.command("prepare")
def models_prepare() -> None:
    """Convert the embedded GGUF for PyTorch, export the embedder for ONNX Runtime and index the built-in prompt
    library (each done once)."""
    from artdirector.embedding.onnx_backend import ensure_exported
    from artdirector.library.library import BUILTIN, SHIPPED, PromptLibrary
    from artdirector.lm.embedded import ensure_converted

    say = lambda msg: click.echo(msg, err=True)  # noqa: E731
    click.echo(f"model: {ensure_converted(say)}")
    click.echo(f"embedder: {ensure_exported(say)}")  # before the library, which it indexes
    lib = PromptLibrary.default()
    click.echo("indexing the built-in prompt library (once)", err=True)
    lib.ensure_builtin()
    counts = lib.collections()
    click.echo(f"library: {lib.location(BUILTIN)} ("
               + ", ".join(f"{name} {counts.get(name, 0)} prompts" for name in SHIPPED) + ")")
    from artdirector.director import default_adapter

    if default_adapter() is not None:  # its llama.cpp form is written on first load; do it now, not then
        from artdirector.lm.llamacpp_backend import LlamaCppLM

        LlamaCppLM.from_embedded(n_slots=1, n_ctx=256, adapter=default_adapter()).close()
        click.echo(f"adapter: {default_adapter().name}")


@models.command("convert")
@click.argument("kind", type=click.Choice(("hps", "imagereward")))
@click.argument("checkpoint", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write; then use --score KIND=FOLDER.")
@click.option("--base", default=None, metavar="PATH|HUB_ID",
              help="The transformers model the checkpoint was fine-tuned from (default: the authors' base).")
@_fail_on_bad_input
def models_convert(kind, checkpoint, out_dir, base) -> None:
    """Convert an HPS v2 (OpenCLIP) or ImageReward (BLIP) checkpoint into the folder --score reads."""
    from pathlib import Path

    from artdirector.scoring import convert

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; give --out a new folder")
    run, default = {"hps": (convert.convert_hps, convert.HPS_BASE),
                    "imagereward": (convert.convert_imagereward, convert.IMAGEREWARD_BASE)}[kind]
    click.echo(f"wrote {run(checkpoint, out, base=base or default)}: use --score {kind}={out}")


@main.group()
def train() -> None:
    """Fine-tune the director's language model, its critic and tuner, or an image-model LoRA."""


def _train_default(kind: str, name: str):
    from artdirector.training import settings

    return default_of({"sft": settings.SFTSettings, "rl": settings.RLSettings, "critic": settings.CriticSettings,
                       "tuner": settings.TunerSettings, "image-lora": settings.ImageLoraSettings,
                       "ranker": settings.RankerSettings}[kind], name)


def _train_options(kind: str, *names: str):
    """The options several ``train`` commands share, each with its kind's declared default."""
    flags = {"batch_size": ("--batch-size", click.IntRange(min=1)),
             "learning_rate": ("--learning-rate", click.FloatRange(min=0, min_open=True)),
             "lora_r": ("--lora-r", click.IntRange(min=1)), "save_steps": ("--save-steps", click.IntRange(min=1)),
             "seed": ("--seed", SEED)}
    return functools.partial(_stacked, [click.option(flags[n][0], type=flags[n][1], default=_train_default(kind, n),
                                                     show_default=True) for n in names])


def _image_lm_options(kind: str, rows: str):
    """The options ``train tuner`` and ``train critic`` share (the image-reading LM of ``critique.feedback``)."""
    return [
        click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
                     help=f"JSON Lines of {{{rows}}}; image paths relative to the file."),
        click.option("--vision", required=True, metavar="PATH|HUB_ID",
                     help="A CLIP model whose vision tower encodes the images, e.g. openai/clip-vit-large-patch14."),
        click.option("--out", default=_train_default(kind, "out"), show_default=True,
                     type=click.Path(file_okay=False), help=f"Folder for checkpoints and the {kind}; a run there is "
                     "resumed."),
        click.option("--steps", type=click.IntRange(min=1), default=_train_default(kind, "steps"), show_default=True),
    ]


@train.command("tuner")
@functools.partial(_stacked, _image_lm_options("tuner", "image, prompt"))
@click.option("--align-steps", type=click.IntRange(min=0), default=_train_default("tuner", "align_steps"),
              show_default=True, help="Stage 1: contrastive alignment of the projection alone.")
@_train_options("tuner", "batch_size", "learning_rate", "save_steps", "seed")
@_fail_on_bad_input
def train_tuner_command(data_file, vision, out, steps, align_steps, batch_size, learning_rate, save_steps,
                        seed) -> None:
    """Train VDPO's visual prompt tuner for ``invert --tuner``: image vectors projected into the director's LM,
    first aligned with the prompts' embeddings (InfoNCE), then the LM (LoRA) writes the prompts, short first."""
    from artdirector.inversion.tuner import train_tuner
    from artdirector.training.settings import TunerSettings

    settings = TunerSettings(data=data_file, vision=vision, out=out, steps=steps, align_steps=align_steps,
                             batch_size=batch_size, learning_rate=learning_rate, save_steps=save_steps, seed=seed)
    click.echo(json.dumps(train_tuner(settings, progress=lambda msg: click.echo(msg, err=True)), ensure_ascii=False))


@train.command("critic")
@functools.partial(_stacked, _image_lm_options("critic", "caption, image, feedback"))
@_train_options("critic", "batch_size", "learning_rate", "lora_r", "save_steps", "seed")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use at most this many triples.")
@_fail_on_bad_input
def train_critic_command(data_file, vision, out, steps, batch_size, learning_rate, lora_r, save_steps, seed,
                         limit) -> None:
    """Train the feedback critic of ``refine --critic feedback=OUT``: the director's LM reading a projected image
    embedding, with LoRA, on (caption, generated image, feedback) triples; the loss on the feedback only."""
    from artdirector.critique.feedback import train_critic
    from artdirector.training.settings import CriticSettings

    settings = CriticSettings(data=data_file, vision=vision, out=out, steps=steps, batch_size=batch_size,
                              learning_rate=learning_rate, lora_r=lora_r, save_steps=save_steps, seed=seed,
                              limit=limit)
    report = train_critic(settings, progress=lambda msg: click.echo(msg, err=True))
    click.echo(json.dumps(report, ensure_ascii=False))



@train.command("image-lora")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="A folder of images; captions in metadata.jsonl ({file_name, text}) or NAME.txt beside each.")
@click.option("--base", required=True, metavar="PATH|HUB_ID", help="The Stable Diffusion pipeline (1.x/2.x).")
@click.option("--out", default=_train_default("image-lora", "out"), show_default=True,
              type=click.Path(file_okay=False), help="Folder for checkpoints and the LoRA; a run there is resumed.")
@click.option("--max-steps", type=click.IntRange(min=1), default=_train_default("image-lora", "max_steps"),
              show_default=True)
@click.option("--resolution", type=click.IntRange(min=8), default=_train_default("image-lora", "resolution"),
              show_default=True, help="Square training size in pixels (a multiple of 8).")
@_train_options("image-lora", "batch_size", "learning_rate", "lora_r")
@click.option("--text-encoder", is_flag=True, help="Also train a LoRA on the text encoder.")
@_train_options("image-lora", "save_steps", "seed")
@click.option("--trigger", default=None, help="Trigger words (comma-separated) for generate --lora to require.")
@click.option("--caption-clip", default=None, metavar="PATH|HUB_ID",
              help="Write missing captions with invert, this CLIP ranking the vocabularies.")
@click.option("--captioner", default=None, metavar="PATH|HUB_ID|vlm=URL", help="With --caption-clip: the captioner.")
@click.option("--device", default=None, help="cuda, mps or cpu (default: the best available).")
@_fail_on_bad_input
def train_image_lora_command(data_dir, base, out, max_steps, resolution, batch_size, learning_rate, lora_r,
                             text_encoder, save_steps, seed, trigger, caption_clip, captioner, device) -> None:
    """Train a LoRA for an image model's UNet (and text encoder) on (image, caption) pairs: diffusers'
    text-to-image LoRA recipe with PEFT; resumable; the result loads with generate --lora OUT."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from artdirector.training.image_lora import train_image_lora
    from artdirector.training.settings import ImageLoraSettings

    settings = ImageLoraSettings(data=data_dir, base=base, out=out, max_steps=max_steps, resolution=resolution,
                                 batch_size=batch_size, learning_rate=learning_rate, lora_r=lora_r,
                                 text_encoder=text_encoder, save_steps=save_steps, seed=seed, trigger=trigger,
                                 caption_clip=caption_clip, captioner=captioner, device=device)
    columns = (TextColumn("image LoRA"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("steps", total=max_steps, loss="-")

        def progress(*event):
            if len(event) == 1:  # a message
                bar.console.print(event[0])
            else:
                bar.update(task, completed=event[0], loss=f"{event[2]:.4f}")

        report = train_image_lora(settings, progress=progress)
    click.echo(json.dumps(report, ensure_ascii=False))


@train.command("sft")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="TSV/CSV/JSONL/Parquet with a 'prompt' column (your training split only).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for checkpoints and the adapter; a run there is resumed.")
@click.option("--base", default=None, help="Base model directory or hub id (default: the embedded SmolLM2).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use at most this many examples.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=_train_default("sft", "epochs"),
              show_default=True)
@click.option("--max-steps", type=int, default=_train_default("sft", "max_steps"), show_default=True,
              help="Stop after this many steps (-1: epochs).")
@click.option("--batch-size", type=click.IntRange(min=1), default=_train_default("sft", "batch_size"),
              show_default=True, help="Halved automatically on out-of-memory; the size used is reported.")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True),
              default=_train_default("sft", "learning_rate"), show_default=True)
@click.option("--lora-r", type=click.IntRange(min=1), default=_train_default("sft", "lora_r"), show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--save-steps", type=click.IntRange(min=1), default=_train_default("sft", "save_steps"),
              show_default=True)
@click.option("--log-steps", type=click.IntRange(min=1), default=_train_default("sft", "logging_steps"),
              show_default=True)
@click.option("--neighbours", type=click.IntRange(min=0), default=_train_default("sft", "neighbours"),
              show_default=True, help="Retrieval-augmented: show this many retrieved prompts (the target's own "
                                      "near-copies left out) before each target; the adapter reads them at use.")
@click.option("--max-length", type=click.IntRange(min=1), default=_train_default("sft", "max_length"),
              show_default=True, help="Tokens of frame + prompt (raise it with --neighbours).")
@click.option("--from-adapter", default=None, help="Continue this PEFT adapter's LoRA ('default': the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_fail_on_bad_input
def train_sft_command(data_file, out, base, limit, epochs, max_steps, batch_size, learning_rate, lora_r, seed,
                      save_steps, log_steps, neighbours, max_length, from_adapter, as_json) -> None:
    """Supervised fine-tuning (LoRA, TRL) on prefix-extracted human prompts."""
    from artdirector.training.settings import SFTSettings

    settings = SFTSettings(data=data_file, out=out, base=base, limit=limit, epochs=epochs, max_steps=max_steps,
                           batch_size=batch_size, learning_rate=learning_rate, lora_r=lora_r, seed=seed,
                           save_steps=save_steps, logging_steps=log_steps, neighbours=neighbours,
                           max_length=max_length, from_adapter=from_adapter)
    from artdirector.training.sft import train_sft

    summary = train_sft(settings, progress=not as_json)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        skipped = sum(summary["data"]["skipped"].values())
        click.echo(f"adapter: {summary['out']} ({summary['steps']} steps, batch {summary['batch_size']}, "
                   f"loss {summary['train_loss']:.3f}); {summary['data']['used']} examples, {skipped} rows skipped")


def _reward_weights(specs: tuple[str, ...]) -> dict[str, float] | None:
    """``--reward NAME=WEIGHT`` (repeatable) → {name: weight}; none given: the defaults."""
    if not specs:
        return None
    weights = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        try:
            weights[name.strip()] = float(value) if value else 1.0
        except ValueError:
            raise InputError(f"--reward {spec!r}: write NAME=WEIGHT, e.g. fidelity=1.0") from None
    return weights


@train.command("ranker")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="TSV/CSV/JSONL/Parquet with a 'prompt' column of real prompts (the shipped ranker: "
                   "artdirector/data/prompts/train.tsv); each idea's near-copies are left out of its pool.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for the ranker; the model's answers are journalled there and a run there is resumed.")
@click.option("--limit", type=click.IntRange(min=1), default=_train_default("ranker", "limit"), show_default=True,
              help="Ideas drawn from the file (one per prompt prefix).")
@click.option("--trees", type=click.IntRange(min=1), default=_train_default("ranker", "trees"), show_default=True)
@_train_options("ranker", "learning_rate", "seed")
@functools.partial(_stacked, MODEL_OPTIONS)
@_fail_on_bad_input
def train_ranker_command(data_file, out, limit, trees, learning_rate, seed, **kw) -> None:
    """Train the phrase ranker that chooses a direction's modifiers (LightGBM on real prompts): the director
    retrieves and writes for each idea as it would for a user, and learns which phrases the human used. A model
    that memorised the file's prompts would write them back: check before training on its own training data."""
    from artdirector.training.ranker import train_ranker
    from artdirector.training.settings import RankerSettings

    settings = RankerSettings(data=data_file, out=out, limit=limit, trees=trees, learning_rate=learning_rate,
                              seed=seed)
    if kw["ranker"] != "default":
        raise InputError("train ranker learns from every candidate phrase, not from another ranker's choice: "
                         "leave --ranker out")
    kw["ranker"] = "vote"
    director = _loader(kw)()
    click.echo(json.dumps(train_ranker(settings, director, progress=lambda msg: click.echo(msg, err=True))))


@train.command("rl")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Prompts whose prefixes are the ideas to practise on (your training split only).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--sft-adapter", default="default", show_default=True,
              help="The SFT adapter to start from and stay close to: 'default', 'none' or a folder.")
@click.option("--max-steps", type=click.IntRange(min=1), default=_train_default("rl", "max_steps"), show_default=True)
@click.option("--ideas-per-step", type=click.IntRange(min=1), default=_train_default("rl", "ideas_per_step"),
              show_default=True)
@click.option("--generations", type=click.IntRange(min=2), default=_train_default("rl", "num_generations"),
              show_default=True, help="Completions per idea (the GRPO group).")
@click.option("--beta", type=click.FloatRange(min=0), default=_train_default("rl", "beta"), show_default=True,
              help="KL weight to the SFT policy.")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True),
              default=_train_default("rl", "learning_rate"), show_default=True)
@click.option("--reward", "rewards", multiple=True, metavar="NAME=WEIGHT",
              help="Reward weights (repeatable): " + ", ".join(f"{k}={v:g}" for k, v in
                                                             _train_default("rl", "weights").items())
              + " by default.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_fail_on_bad_input
def train_rl_command(data_file, out, sft_adapter, max_steps, ideas_per_step, generations, beta, learning_rate,
                     rewards, seed, as_json) -> None:
    """Reinforcement learning (GRPO, TRL) with weighted text rewards, KL-tied to the SFT adapter."""
    from artdirector.training.settings import RLSettings

    weights = _reward_weights(rewards)
    settings = RLSettings(data=data_file, out=out, sft_adapter=None if sft_adapter == "none" else sft_adapter,
                          max_steps=max_steps, ideas_per_step=ideas_per_step, num_generations=generations,
                          beta=beta, learning_rate=learning_rate, seed=seed,
                          **({"weights": weights} if weights else {}))
    from artdirector.training.rl import train_rl

    summary = train_rl(settings, progress=not as_json)
    click.echo(json.dumps(summary) if as_json else
               f"adapter: {summary['out']} ({summary['steps']} steps); reward {summary['reward_first3']:.3f} -> "
               f"{summary['reward_last3']:.3f}; curves: {summary['curves']}")


if __name__ == "__main__":
    main()
