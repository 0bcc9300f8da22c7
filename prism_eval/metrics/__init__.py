"""`evaluate` metric modules shipped with prism (loaded by folder path; importing this is light)::

    import evaluate
    from prism_eval.metrics import metric_path
    metric = evaluate.load(metric_path())  # offline: a local folder, no Hub lookup

``evaluate.load("prism_privacy")`` by bare name only works from a directory that holds
``prism_privacy/prism_privacy.py``; the folder path above works from anywhere.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["metric_path", "METRICS_DIR"]

METRICS_DIR = Path(__file__).resolve().parent


def metric_path(name: str = "prism_privacy") -> str:
    """The folder of the metric module ``name``, for ``evaluate.load(metric_path())``."""
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        available = sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())
        raise FileNotFoundError(f"no metric module {name!r} in {METRICS_DIR} (available: {available})")
    return str(path)
