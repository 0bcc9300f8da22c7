"""API concurrency and cache benchmark against the local fake chat-completions server: the bare
backend (``generate`` on a list); bench/evaluate_throughput.py measures the whole `prism evaluate`.

The server (tests/fake_openai.py) runs in its own process, as a real one would, and answers
each request after 100 ms. 200 requests: once with concurrency 16, once with
concurrency 1 (prints both times and the ratio; expect at least 10x), then the concurrency-16 run
again through the response cache, twice: the first cached run fills the cache, the second must
make zero requests (prints the server's request count). Usage::

    python bench/api_concurrency.py [--requests 200] [--latency 0.1] [--concurrency 16]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prism_core.backends import ChatRequest, get_backend
from prism_core.cache import CachedBackend, ResponseCache

REPO = Path(__file__).resolve().parents[1]


class ServerProcess:
    """tests/fake_openai.py in a child process; counts read from its GET /stats."""

    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"),
                                      "--latency", str(latency)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()

    def stats(self) -> dict:
        url = self.base_url.removesuffix("/v1") + "/stats"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())

    @property
    def requests(self) -> int:
        return self.stats()["requests"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(10)


def timed_run(server, requests, concurrency: int, cache: ResponseCache | None = None):
    backend = get_backend("openai:bench-model", base_url=server.base_url,
                          api_key_env="PRISM_BENCH_KEY", concurrency=concurrency, timeout=30)
    if cache is not None:
        backend = CachedBackend(backend, cache)
    before = server.requests
    start = time.perf_counter()
    gens = backend.generate(requests)
    elapsed = time.perf_counter() - start
    failed = sum(not g.ok for g in gens)
    return elapsed, server.requests - before, failed, backend


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1, help="server seconds per request")
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)
    os.environ.setdefault("PRISM_BENCH_KEY", "bench-not-a-secret")
    requests = [ChatRequest.from_prompt(f"request {i}", max_tokens=16)
                for i in range(args.requests)]
    with ServerProcess(args.latency) as server:
        timed_run(server, requests[:2], 2)  # warm-up: imports and first connections
        t_par, n_par, f_par, _ = timed_run(server, requests, args.concurrency)
        peak = server.stats()["max_in_flight"]
        t_seq, n_seq, f_seq, _ = timed_run(server, requests, 1)
        print(f"{args.requests} requests, {args.latency * 1000:.0f} ms each")
        print(f"  concurrency {args.concurrency:>2}: {t_par:6.2f} s  ({n_par} requests, "
              f"{f_par} failed, at most {peak} in flight)")
        print(f"  concurrency  1: {t_seq:6.2f} s  ({n_seq} requests, {f_seq} failed)")
        print(f"  speed-up: {t_seq / t_par:.1f}x (expected >= 10x)")
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResponseCache(Path(tmp) / "responses.sqlite")
            t_fill, n_fill, _, _ = timed_run(server, requests, args.concurrency, cache)
            t_hit, n_hit, f_hit, cached = timed_run(server, requests, args.concurrency, cache)
            print(f"cache: first run {t_fill:.2f} s with {n_fill} requests; identical second run "
                  f"{t_hit:.3f} s with {n_hit} requests to the server "
                  f"({cached.hits} hits, {cached.misses} misses, {f_hit} failed)")
            cache.close()
    ok = t_seq / t_par >= 10 and n_hit == 0 and not (f_par or f_seq or f_hit)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
