"""The batch on Ray Data: the plan's chunks → ``map_batches`` over a pool of director actors → back, streamed.

Each chunk of ideas is one Ray item, so every actor call directs exactly the chunk the local runner would (the
same ideas batched together: identical greedy directions) and the driver journals each chunk as it arrives, in
whatever order the actors finish. An actor loads the director once (``ActorPoolStrategy``) and tells the decoder
to use its share of the CPUs (``cpu.ENV_THREADS``), so N actors on one machine do not each take every core.
``address``: ``None``/``"local"`` starts a private Ray instance on this machine; ``"auto"`` or
``ray://HOST:10001`` / ``HOST:6379`` joins a running cluster (``ray start --head`` on the head node).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence


class DirectorActor:
    """One director per actor; ``__call__`` takes a batch of chunks (JSON text) and returns them directed."""

    def __init__(self, job, load: Callable, threads: int):
        from artdirector.cpu import ENV_THREADS

        os.environ[ENV_THREADS] = str(threads)
        self.job, self.director = job, load()

    def __call__(self, batch: dict) -> dict:
        from artdirector.batch.run import direct_chunk

        done = [json.dumps(direct_chunk(self.director, json.loads(rows), self.job), ensure_ascii=False)
                for rows in batch["rows"]]
        return {"chunk": batch["chunk"], "rows": done}


class ImageActor:
    """One pipeline (and its scorers) per actor; a GPU each where the cluster has them, else its share of the
    CPUs, on as many threads."""

    def __init__(self, images, threads: int):
        from artdirector.batch.images import ImageWorker

        self.worker = ImageWorker(images, threads)

    def __call__(self, batch: dict) -> dict:
        done = [json.dumps(self.worker(json.loads(rows)), ensure_ascii=False) for rows in batch["rows"]]
        return {"chunk": batch["chunk"], "rows": done}


def _stream(actor, args: tuple, chunks: Sequence[list[dict]], actors: int, **resources) -> Iterable[list[dict]]:
    """``chunks`` through ``map_batches`` over a pool of ``actors`` ``actor(*args)``, each chunk one item; the
    finished chunks yielded as they arrive."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    items = [{"chunk": k, "rows": json.dumps(rows, ensure_ascii=False)} for k, rows in enumerate(chunks)]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    done = dataset.map_batches(actor, fn_constructor_args=args, batch_size=1, batch_format="numpy",
                               compute=ray.data.ActorPoolStrategy(size=actors), **resources)
    for batch in done.iter_batches(batch_size=1, batch_format="numpy"):
        for rows in batch["rows"]:
            yield json.loads(rows)


def _reachable(address: str) -> None:
    """Refuse at once an address nothing listens on (Ray itself retries for minutes)."""
    import socket

    from artdirector.errors import BadInput

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BadInput(f"--ray {address}: give HOST:PORT (the head's GCS, e.g. 10.0.0.1:6379), "
                       "ray://HOST:10001, auto, or nothing for a Ray instance on this machine")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise BadInput(f"no Ray cluster answers at {address} ({e.strerror or e}): start one with `ray start "
                       "--head` there, or check the address") from None


def connect(address: str | None) -> int:
    """Start or join Ray; the CPUs it has."""
    import ray

    if not ray.is_initialized():
        local = address in (None, "", "local")
        if not local and address != "auto":
            _reachable(address)
        try:
            ray.init(address=None if local else address, include_dashboard=False if local else None,
                     logging_level="ERROR", log_to_driver=True, ignore_reinit_error=True)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
            from artdirector.errors import BadInput

            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise BadInput(f"no Ray cluster at {address!r} ({first}): start one with `ray start --head`, give its "
                           "address, or use --ray alone for a Ray instance on this machine") from None
    return int(ray.cluster_resources().get("CPU", 1))


def make_runner(address: str | None = None, actors: int = 1, cpus_per_actor: int | None = None):
    """A ``run_batch`` runner on Ray with ``actors`` director actors."""

    def runner(job, chunks: Sequence[list[dict]], load: Callable) -> Iterable[list[dict]]:
        each = cpus_per_actor or max(1, connect(address) // actors)
        yield from _stream(DirectorActor, (job, load, each), chunks, actors, num_cpus=each)

    return runner


def make_renderer(address: str | None = None, actors: int | None = None):
    """A ``run_batch`` image stage on Ray: ``actors`` image actors (default: one per GPU, else one), each holding
    a GPU when the cluster has GPUs."""

    def render(images, chunks: Sequence[list[dict]]) -> Iterable[list[dict]]:
        import ray

        cpus = connect(address)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        pool = actors or max(gpus, 1)
        each = max(1, cpus // pool) if not gpus else 1  # on CPUs, each actor its share of the cores
        yield from _stream(ImageActor, (images, each), chunks, pool, num_gpus=1 if gpus else 0, num_cpus=each)

    return render
