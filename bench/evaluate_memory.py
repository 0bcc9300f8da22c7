"""Peak memory of a lexicon `prism evaluate` on synthetic users: flat in the number of users.

Each size runs in a fresh process (the dataset is built first, in its own process, so only the
evaluation is measured). Results stream to disk: the peak at 5,000 users must be at most 20 %
above the peak at 1,000. Usage::

    python bench/evaluate_memory.py [--sizes 1000,5000]
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
import json, resource, sys, time
t = time.time()
from prism_eval.datasets_io import load_users
from prism_eval.runner import evaluate
ds, info = load_users("synthetic", n_users=int(sys.argv[1]), seed=7)
s = evaluate(ds, "lexicon", sys.argv[2], dataset_info=info, progress=False, overwrite=True)
print(json.dumps({"users": s["users"], "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": round(time.time() - t, 1), "torch": "torch" in sys.modules}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        env.setdefault("HF_DATASETS_CACHE", os.path.join(tmp, "hf"))
        for n in [int(x) for x in args.sizes.split(",")]:
            subprocess.run([sys.executable, "-c", BUILD, str(n)], env=env, check=True,
                           capture_output=True)
            out = subprocess.run([sys.executable, "-c", RUN, str(n), os.path.join(tmp, f"run{n}")],
                                 env=env, check=True, capture_output=True, text=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            peaks[n] = res["peak_mb"]
            print(f"{n:>6} users: peak {res['peak_mb']:.0f} MB, {res['seconds']} s, "
                  f"torch imported: {res['torch']}")
    sizes = sorted(peaks)
    if len(sizes) > 1:
        ratio = peaks[sizes[-1]] / peaks[sizes[0]]
        print(f"peak ratio {sizes[-1]}/{sizes[0]}: {ratio:.2f} (limit 1.20)")
        return 0 if ratio <= 1.2 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
