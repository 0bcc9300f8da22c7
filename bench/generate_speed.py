"""Synthetic users per second with the template text backend, for num_proc 1 and 2, and the ratio.

Each build is ``PrismBuilder(config_name="synthetic", n_users=N).download_and_prepare(num_proc)``
into a fresh cache (placeholder images by default), timed end to end, so the numbers include
the datasets overhead a user sees. The ratio is only meaningful on a machine whose cores are
not busy with other work. Usage::

    python bench/generate_speed.py [--n-users 400] [--image-backend placeholder|none]
                                   [--image-size 256] [--repeats 1]
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time


def build_seconds(n_users: int, num_proc: int, image_backend: str, image_size: int) -> float:
    import datasets

    from prism_dataset.builder import PrismBuilder
    datasets.disable_progress_bars()
    cache = tempfile.mkdtemp(prefix="prism-bench-gen-")
    try:
        builder = PrismBuilder(config_name="synthetic", n_users=n_users, seed=0,
                               image_backend=image_backend, image_size=image_size,
                               cache_dir=cache)
        start = time.perf_counter()
        builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
        elapsed = time.perf_counter() - start
        assert builder.info.splits["train"].num_examples == n_users
        return elapsed
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-users", type=int, default=400)
    parser.add_argument("--image-backend", default="placeholder", choices=["placeholder", "none"])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    args = parser.parse_args()
    logging.getLogger("datasets").setLevel(logging.ERROR)
    build_seconds(20, 1, args.image_backend, args.image_size)   # warm imports and the prior
    rates = {}
    for num_proc in (1, 2):
        best = min(build_seconds(args.n_users, num_proc, args.image_backend, args.image_size)
                   for _ in range(args.repeats))
        rates[num_proc] = args.n_users / best
        print(f"num_proc={num_proc}: {args.n_users} users in {best:.2f} s = "
              f"{rates[num_proc]:.1f} users/s (template text, {args.image_backend} images "
              f"{args.image_size}px)")
    print(f"ratio num_proc=2 / num_proc=1: {rates[2] / rates[1]:.2f}x "
          f"({os.cpu_count()} CPUs visible; load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
