"""Defences: transform a dataset split so that less can be inferred, and measure what it costs.

``prism defend`` and :func:`defend` apply a defence spec (``redact``, ``ner``, ``rewrite[model=...]``,
``strip-metadata``, ``blur-text``, ``pixelate-text``, ``downscale``, ``remove-image``; composed with
``+``, see :mod:`.base`) to a split and write a new one with provenance (:mod:`.apply`);
``prism audit --defence SPEC`` runs the same model over the split before and after each
defence, with the same cache and users, and tabulates top-1 per attribute and channel with the
utility cost (:mod:`.compare`). Heavy libraries (Presidio, spaCy) load only when their defence is
built.
"""
from __future__ import annotations

from .apply import DefendedSplit, defend_dataset
from .base import REGISTRY, Defence, ImageOutcome, Pipeline, build_pipeline, parse_spec, slug

__all__ = ["Defence", "ImageOutcome", "Pipeline", "REGISTRY", "build_pipeline", "parse_spec",
           "slug", "defend_dataset", "DefendedSplit", "defend", "defence_audit"]


def defend(dataset: str = "synthetic", defence: str = "redact", *, out=None, **load_options):
    """Load ``dataset`` (as ``prism audit --dataset`` does; ``load_options``: data_dir, n_users,
    seed, split, limit), apply ``defence`` and write the split to ``out`` (default
    prism-defended/<dataset>+<defence>); -> :class:`DefendedSplit`."""
    from pathlib import Path

    from ..datasets_io import load_users
    limit = load_options.pop("limit", None)
    ds, info = load_users(dataset, **load_options)
    name = Path(str(info.get("dataset", dataset)).rstrip("/")).name
    out = Path(out) if out else Path("prism-defended") / slug(f"{name}+{defence}")
    out.mkdir(parents=True, exist_ok=True)
    return defend_dataset(ds, defence, limit=limit, source=info, out=out,
                          cache_path=out / "cache.sqlite")


def defence_audit(*args, **kwargs):
    """See :func:`prism_eval.defences.compare.defence_audit`."""
    from .compare import defence_audit as run
    return run(*args, **kwargs)
