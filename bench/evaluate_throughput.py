"""End-to-end API throughput of `prism evaluate`: the real command against a loopback server.

The fake chat-completions server (tests/fake_openai.py, ``--reply varied``: valid predictions that
differ per request) runs in its own process and answers each request after 100 ms. The command
(``python -m prism_eval.cli evaluate``, chain variant) runs on 200 synthetic users (1 text, 3
image and 1 synthesis request each), and the script prints:

- server-side throughput at concurrency 16: requests per second between the first request's
  arrival and the last answer, as a share of concurrency / latency (target >= 80 %), with the
  mean number of requests in flight; beside it, the same for the bare backend (1,000 small
  requests in one ``generate`` call, no chain): the client's own ceiling on this machine;
- the whole command's time at concurrency 1 over its time at concurrency 16;
- kill -9 of the command midway (about half of its requests answered), then the same command
  again: how many requests the server had answered before the kill were sent again (must be 0),
  and whether the resumed results equal those of the uninterrupted run. An answer the server
  wrote in the last ``GRACE`` seconds before the kill may still have been in the socket, unread:
  no client can keep that one, so those are counted apart (in transit).

Usage::

    python bench/evaluate_throughput.py [--users 200] [--latency 0.1] [--concurrency 16]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRACE = 0.05  # seconds: an answer written this shortly before the kill may not have been read
BUILD = ("import sys\nfrom prism_eval.datasets_io import load_users\n"
         "load_users('synthetic', n_users=int(sys.argv[1]), seed=7)\n")


class Server:
    """tests/fake_openai.py in a child process; its request log read from GET /log."""

    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"),
                                      "--latency", str(latency), "--reply", "varied"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()

    def log(self, since: float = 0.0) -> list[dict]:
        url = self.base_url.removesuffix("/v1") + "/log"
        with urllib.request.urlopen(url, timeout=30) as r:
            return [e for e in json.loads(r.read())["log"] if e["arrived"] >= since]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def command(server: Server, users: int, concurrency: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "prism_eval.cli", "evaluate", "--dataset", "synthetic",
            "--n-users", str(users), "--seed", "7", "--model", "openai:bench-model",
            "--backend-option", f"base_url={server.base_url}",
            "--backend-option", "api_key_env=PRISM_BENCH_KEY",
            "--backend-option", f"concurrency={concurrency}", "--out", str(out), "--no-progress"]


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"command failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def served(log: list[dict]) -> tuple[int, float, float]:
    """(requests, seconds from the first arrival to the last answer, mean in flight)."""
    span = max(e["answered"] or e["arrived"] for e in log) - min(e["arrived"] for e in log)
    busy = sum((e["answered"] or e["arrived"]) - e["arrived"] for e in log)
    return len(log), span, busy / span


BARE = """
import os, sys
from prism_core.backends import ChatRequest, get_backend
b = get_backend("openai:bench-model", base_url=sys.argv[1], api_key_env="PRISM_BENCH_KEY",
                concurrency=int(sys.argv[2]))
b.generate([ChatRequest.from_prompt("warm-up", max_tokens=16)])
gens = b.generate([ChatRequest.from_prompt(f"request {i} " + "word " * 500, max_tokens=16)
                   for i in range(1000)])
assert all(g.ok for g in gens)
"""


def results(out: Path) -> list[dict]:
    from prism_eval.runner import read_results
    return [{k: v for k, v in r.items() if k != "cost"} for r in read_results(out)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1, help="server seconds per request")
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)
    server = Server(args.latency)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PRISM_BENCH_KEY": "bench-not-a-secret",
               "HF_DATASETS_CACHE": str(tmp / "hf"),
               "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        subprocess.run([sys.executable, "-c", BUILD, str(args.users)], env=env, check=True,
                       capture_output=True)  # the dataset is built once, outside the timings
        try:
            limit = args.concurrency / args.latency
            print(f"prism evaluate, chain, {args.users} synthetic users, "
                  f"{args.latency * 1000:.0f} ms per request")

            t0 = time.time()
            t_par = timed(command(server, args.users, args.concurrency, tmp / "par"), env)
            n, span, mean = served(server.log(t0))
            share = n / span / limit
            print(f"  concurrency {args.concurrency:>2}: {t_par:6.1f} s for the command; server saw "
                  f"{n} requests in {span:.2f} s = {n / span:.1f} req/s = {100 * share:.0f} % of "
                  f"{limit:.0f} req/s (target >= 80 %); {mean:.1f} of {args.concurrency} slots "
                  f"busy on average")
            ok &= share >= 0.8
            t0 = time.time()
            subprocess.run([sys.executable, "-c", BARE, server.base_url, str(args.concurrency)],
                           env=env, check=True, capture_output=True)
            bare = sorted(server.log(t0), key=lambda e: e["arrived"])[1:]  # not the warm-up
            nb, spanb, meanb = served(bare)
            print(f"  the bare backend, same concurrency: {nb / spanb:.1f} req/s = "
                  f"{100 * nb / spanb / limit:.0f} %, {meanb:.1f} slots busy (the client's ceiling "
                  f"here)")

            t0 = time.time()
            t_seq = timed(command(server, args.users, 1, tmp / "seq"), env)
            n1, span1, _ = served(server.log(t0))
            print(f"  concurrency  1: {t_seq:6.1f} s for the command ({n1} requests, "
                  f"{n1 / span1:.1f} req/s)")
            print(f"  whole command, concurrency 1 / concurrency {args.concurrency}: "
                  f"{t_seq / t_par:.1f}x")

            cmd = command(server, args.users, args.concurrency, tmp / "kill")
            t0 = time.time()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while proc.poll() is None and sum(
                    e["status"] == 200 for e in server.log(t0)) < n // 2:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = time.time()
            proc.wait()
            before = server.log(t0)
            answered = {e["key"]: e["answered"] for e in before if e["status"] == 200}
            t1 = time.time()
            t_resume = timed(cmd, env)
            again = {e["key"] for e in server.log(t1)}
            resent = [k for k in answered if k in again and answered[k] < killed_at - GRACE]
            transit = sorted(round(1000 * (killed_at - answered[k])) for k in answered
                             if k in again and answered[k] >= killed_at - GRACE)
            same = results(tmp / "kill") == results(tmp / "par")
            print(f"  kill -9 after {killed_at - t0:.1f} s ({len(answered)} requests answered, "
                  f"{len(before)} sent); the same command again: {t_resume:.1f} s, "
                  f"{len(again)} requests; re-sent after being answered: {len(resent)} (must be "
                  f"0; {len(transit)} more answered in the last {GRACE * 1000:.0f} ms, in "
                  f"transit: {transit} ms before the kill); results equal to the uninterrupted "
                  f"run: {same}")
            ok &= not resent and same
        finally:
            server.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
