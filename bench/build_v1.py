"""Build PRISM v1 with 1,600 generated 512x512 JPEGs; print build time and peak memory.

The images are streamed into Arrow a writer batch at a time (PrismBuilder.DEFAULT_WRITER_BATCH_SIZE
users), never all held in memory: peak RSS must stay under 1.5 GB. Each build runs in a fresh
process so its peak RSS is its own. Usage: ``python bench/build_v1.py [--v1-dir DIR] [--keep DIR]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT_MB = 1536
N_IMAGES, SIZE = 1600, 512


def make_release(v1_dir: Path, out: Path) -> int:
    """Copy posts.json/target.json and write images/1.jpg .. images/1600.jpg; returns total bytes."""
    import numpy as np
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for name in ("posts.json", "target.json"):
        shutil.copyfile(v1_dir / name, out / name)
    refs = {r for e in json.loads((v1_dir / "posts.json").read_text()).values()
            for r in e["img_urls"] if r != "none"}
    names = {f"./images/{i}.jpg" for i in range(1, N_IMAGES + 1)}
    assert refs <= names, f"references outside images/1..{N_IMAGES}.jpg: {sorted(refs - names)[:5]}"
    (out / "images").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    noise = [rng.normal(0, 18, size=(SIZE, SIZE, 3)).astype(np.float32) for _ in range(8)]
    total = 0
    for i in range(1, N_IMAGES + 1):  # a photo-like mix of gradients and noise (~90 KB each)
        c = rng.uniform(0, 255, size=(3, 3)).astype(np.float32)
        base = np.stack([c[k, 0] * xx + c[k, 1] * yy + c[k, 2] * (1 - xx) for k in range(3)], -1)
        pixels = np.clip(base / 2 + noise[i % 8], 0, 255).astype(np.uint8)
        path = out / "images" / f"{i}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=85)
        total += path.stat().st_size
    return total


def build(data_dir: str, cache_dir: str, writer_batch_size: int | None) -> dict:
    """One build in this process: rows, images, seconds, peak RSS (MB)."""
    from prism_dataset.builder import PrismBuilder

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    builder = PrismBuilder(config_name="v1", data_dir=data_dir, cache_dir=cache_dir,
                           writer_batch_size=writer_batch_size)
    builder.download_and_prepare()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import pyarrow.compute as pc
    ds = builder.as_dataset(split="test")
    images = 0
    for batch in ds.select_columns(["posts"]).with_format("arrow").iter(batch_size=32):
        posts = pc.list_flatten(batch["posts"])  # counted in Arrow, never decoded
        images += len(posts) - pc.struct_field(posts, "image").null_count
    return {"rows": ds.num_rows, "images": images, "seconds": round(seconds, 2),
            "writer_batch_size": builder._writer_batch_size,
            "baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(peak, 1),
            "arrow_mb": round(sum(f.stat().st_size for f in Path(cache_dir).rglob("*.arrow")) / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--v1-dir", default=str(REPO.parent / "shared" / "data" / "prism-v1"))
    parser.add_argument("--keep", help="write the generated release here (default: a temp dir)")
    parser.add_argument("--_build", nargs=3, metavar=("DATA_DIR", "CACHE_DIR", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build:
        data_dir, cache_dir, batch = args._build
        print(json.dumps(build(data_dir, cache_dir, int(batch) or None)))
        return 0

    work = Path(args.keep or tempfile.mkdtemp(prefix="prism-bench-"))
    try:
        t0 = time.perf_counter()
        image_bytes = make_release(Path(args.v1_dir), work / "release")
        print(f"generated {N_IMAGES} {SIZE}x{SIZE} JPEGs ({image_bytes / 2**20:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
        results = {}
        for label, batch in [("PrismBuilder default", 0), ("datasets default (1000)", 1000)]:
            cache = work / f"cache-{batch}"
            proc = subprocess.run([sys.executable, __file__, "--_build", str(work / "release"),
                                   str(cache), str(batch)], capture_output=True, text=True,
                                  env={**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"})
            if proc.returncode:
                sys.stderr.write(proc.stderr)
                return proc.returncode
            r = results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{label:<24} writer batch {r['writer_batch_size']:>4} users: {r['rows']} rows, "
                  f"{r['images']} images, build {r['seconds']:.1f} s, peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB (after imports {r['baseline_rss_mb']:.0f} MB), "
                  f"Arrow {r['arrow_mb']:.0f} MB")
        ours, theirs = results["PrismBuilder default"], results["datasets default (1000)"]
        print(f"peak RSS / image bytes on disk: {ours['peak_rss_mb'] * 2**20 / image_bytes:.2f}; "
              f"peak RSS vs. datasets' default batch: {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}x")
        ok = ours["peak_rss_mb"] < LIMIT_MB and ours["images"] == 1537 and ours["rows"] == 543
        print(("PASS" if ok else "FAIL") + f": peak RSS {ours['peak_rss_mb']:.0f} MB "
              f"(limit {LIMIT_MB} MB), {ours['images']} images in {ours['rows']} rows")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
