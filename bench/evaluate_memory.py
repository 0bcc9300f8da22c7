"""Peak memory of a lexicon `prism evaluate` on synthetic users: flat in the number of users.

Each size runs in a fresh process (the dataset is built first, in its own process, so only the
evaluation is measured). Results stream to disk and the dataset is read as a stream of record
batches from its Arrow file (not paged in through a memory map), so both peaks must stay within
20 % from 1,000 to 5,000 users: the memory the process allocates (anonymous RSS: Python objects,
Arrow buffers, SQLite; sampled from /proc/self/status) and the whole RSS (adding file-backed
pages: shared libraries, and any memory-mapped file). OCR is off by default
(``--ocr auto`` turns it on): Tesseract runs in subprocesses whose memory is not the run's, and
it makes 5,000 users take an hour. Usage::

    python bench/evaluate_memory.py [--sizes 1000,5000] [--ocr off|auto]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BUILD = """
import sys
from prism_eval.datasets_io import load_users
load_users("synthetic", n_users=int(sys.argv[1]), seed=7)
"""

RUN = """
import json, resource, sys, threading, time
peak = {"RssAnon": 0.0, "RssFile": 0.0}

def sample():  # the peaks of anonymous and file-backed RSS, in MB (Linux)
    while True:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in peak:
                        peak[key] = max(peak[key], int(value.split()[0]) / 1024)
        except OSError:
            return
        time.sleep(0.02)

threading.Thread(target=sample, daemon=True).start()
t = time.time()
from prism_eval.datasets_io import load_users
from prism_eval.runner import evaluate
ds, info = load_users("synthetic", n_users=int(sys.argv[1]), seed=7)
s = evaluate(ds, "lexicon", sys.argv[2], dataset_info=info, progress=False, overwrite=True)
time.sleep(0.1)
print(json.dumps({"users": s["users"], "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "anon_mb": peak["RssAnon"] or None, "file_mb": peak["RssFile"] or None,
                  "seconds": round(time.time() - t, 1), "torch": "torch" in sys.modules}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--ocr", choices=("off", "auto"), default="off",
                    help="the lexicon's OCR of images (default off, see above)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PRISM_OCR": args.ocr}
    peaks, whole = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        env.setdefault("HF_DATASETS_CACHE", os.path.join(tmp, "hf"))
        for n in [int(x) for x in args.sizes.split(",")]:
            subprocess.run([sys.executable, "-c", BUILD, str(n)], env=env, check=True,
                           capture_output=True)
            out = subprocess.run([sys.executable, "-c", RUN, str(n), os.path.join(tmp, f"run{n}")],
                                 env=env, check=True, capture_output=True, text=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            peaks[n] = res["anon_mb"] or res["peak_mb"]  # no /proc: the whole RSS
            whole[n] = res["peak_mb"]
            anon = (f"allocated (anonymous) {res['anon_mb']:.0f} MB, mapped files "
                    f"{res['file_mb']:.0f} MB, " if res["anon_mb"] else "")
            print(f"{n:>6} users: peak {anon}whole RSS {res['peak_mb']:.0f} MB; "
                  f"{res['seconds']} s, torch imported: {res['torch']}")
    sizes = sorted(peaks)
    if len(sizes) > 1:
        ratio = peaks[sizes[-1]] / peaks[sizes[0]]
        ratio_rss = whole[sizes[-1]] / whole[sizes[0]]
        print(f"peak ratio {sizes[-1]}/{sizes[0]}: allocated {ratio:.2f}, whole RSS "
              f"{ratio_rss:.2f} (limit 1.20)")
        return 0 if max(ratio, ratio_rss) <= 1.2 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
