"""prism_eval: the PRISM evaluation side — chain, parsing, scoring, runs, reports, the metric.

``from prism_eval import audit, evaluate`` is the main job's Python API (:mod:`prism_eval.api`).
Importing this package stays light (no torch, no datasets): the API loads when first used.
"""
__version__ = "0.1.0"
__all__ = ["audit", "evaluate", "RunOptions", "RunResult", "AuditResult"]


def __getattr__(name):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'prism_eval' has no attribute {name!r}")
