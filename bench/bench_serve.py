"""The HTTP API under load, on loopback: a real uvicorn server in this process around the default director.

Measures, in one run: the warm in-process direction time (``ArtDirector.direct`` called on the server's
director thread) and the same ideas sent one at a time to ``POST /v1/direct`` (p50 of each and their ratio:
what HTTP, JSON and the work queue add); then ``--requests`` distinct ideas at ``--concurrency`` clients:
p50/p95 latency, throughput, and how many answers were server errors (5xx other than 503), 503 (queue full) or
anything else. Ideas are validation prefixes (never test). Prints and saves ``bench/results/serve.json``.

    .venv/bin/python bench/bench_serve.py [--requests 500] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from report import publish  # bench/report.py: the script's own folder is on the path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warm", type=int, default=20, help="ideas for the one-at-a-time comparison")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "serve.json"))
    args = parser.parse_args()

    import requests
    import uvicorn

    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items, read_prompts
    from artdirector.serving.app import create_app
    from artdirector.serving.settings import ServeSettings
    from artdirector.serving.votes import VoteStore

    items = prefix_items(read_prompts(ROOT / "data" / "splits" / "validation.tsv"), limit=None, seed=0)[0]
    ideas = [it.idea for it in items]
    warm, load = ideas[: args.warm], ideas[args.warm: args.warm + args.requests]
    import tempfile

    director = ArtDirector.from_default()
    votes = VoteStore(Path(tempfile.mkdtemp()) / "votes.sqlite")
    app = create_app(director, settings=ServeSettings(queue=args.concurrency), votes=votes)
    # In process, on the server's own director thread: the only thread that may decode (serving.app.Worker)
    on_worker = app.state.worker.pool
    on_worker.submit(director.direct, "a lighthouse in a storm").result()
    in_process = []
    for idea in warm:
        start = time.perf_counter()
        on_worker.submit(director.direct, idea, seed=1).result()
        in_process.append(time.perf_counter() - start)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1/direct"
    session = requests.Session()
    over_http = []
    for idea in warm:  # the same ideas and seed as in process: the same work, now over HTTP
        start = time.perf_counter()
        session.post(url, json={"idea": idea, "seed": 1}).raise_for_status()
        over_http.append(time.perf_counter() - start)

    def call(idea):
        start = time.perf_counter()
        try:
            status = requests.post(url, json={"idea": idea}, timeout=600).status_code
        except requests.RequestException:
            status = -1
        return status, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        answers = list(pool.map(call, load))
    wall = time.perf_counter() - start
    server.should_exit = True
    ok = [s for code, s in answers if code == 200]
    report = {
        "warm_in_process_p50_s": statistics.median(in_process),
        "warm_http_p50_s": statistics.median(over_http),
        "http_over_in_process_p50": statistics.median(over_http) / statistics.median(in_process),
        "load": {"requests": len(load), "concurrency": args.concurrency, "ok": len(ok),
                 "server_errors": sum(500 <= c < 600 and c != 503 for c, _ in answers),
                 "busy_503": sum(c == 503 for c, _ in answers),
                 "other": sum(c not in (200, 503) and not 500 <= c < 600 for c, _ in answers),
                 "latency_p50_s": percentile(ok, 50) if ok else None,
                 "latency_p95_s": percentile(ok, 95) if ok else None,
                 "throughput_per_s": len(ok) / wall, "wall_s": wall},
    }
    publish(report, args.out)


if __name__ == "__main__":
    sys.exit(main())
