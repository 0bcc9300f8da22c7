"""A defence applied to a dataset split: a new split with the same users, its provenance and the
utility cost.

:func:`defend_dataset` reads user rows in their stored form (images as encoded bytes, closed
categories as ClassLabel ids), runs the pipeline's text steps over every post's text (in batches,
so that a model rewriting posts batches its calls) and its image steps over every image, and
builds a ``datasets`` Dataset with the same features, users and order. Attributes, leakage plan,
topics and everything else stay as they were: defences act on what the user posts (post text and
pictures), not on the topics a user follows. With ``out`` the split is written with
``save_to_disk`` (``--dataset OUT`` reads it back) beside ``defence.json``: the spec, each step's
options and versions, the source dataset, counts and the utility cost; the same provenance is
the split's ``info.description``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from prism_core.images import encoded_bytes

from .base import Pipeline, build_pipeline
from .utility import Utility

__all__ = ["DefendedSplit", "defend_dataset", "PROVENANCE"]

PROVENANCE = "defence.json"


@dataclass
class DefendedSplit:
    """The defended dataset, its provenance (what ``defence.json`` holds) and where it was written."""
    dataset: object
    provenance: dict
    path: Path | None = None
    info: dict = field(default_factory=dict)

    @property
    def utility(self) -> dict:
        return self.provenance["utility"]


def _defend_rows(rows: list[dict], pipeline: Pipeline, utility: Utility) -> None:
    posts = [p for r in rows for p in (r.get("posts") or [])]
    slots = [p for p in posts if isinstance(p.get("text"), str) and p["text"].strip()]
    originals = [p["text"] for p in slots]
    new = pipeline.texts(list(originals)) if pipeline.text_steps and originals else originals
    for p, original, text in zip(slots, originals, new):
        p["text"] = text
        utility.add_text(original, text)
    for p in posts:
        try:
            data = encoded_bytes(p.get("image"))
        except OSError:  # a missing file stays missing (the chain records it)
            data = None
        if data is None:
            continue
        if pipeline.image_steps:
            outcome = pipeline.image(data)
            p["image"] = None if outcome.data is None else {"bytes": outcome.data, "path": None}
            utility.add_image(data, outcome.data, outcome.obscured)
        else:
            utility.add_image(data, data, 0.0)


def defend_dataset(dataset, spec: str | Pipeline, *, limit: int | None = None,
                   source: dict | None = None, out: str | Path | None = None,
                   cache_path: str | Path | None = None, chunk: int = 64) -> DefendedSplit:
    """Apply the defence ``spec`` to the first ``limit`` users of ``dataset`` (see module doc).

    ``source``: what the dataset is (``load_users``' description); ``cache_path``: the response
    cache of defences that call a model (``rewrite``).
    """
    import datasets

    from ..datasets_io import dataset_image_counts, stored_rows
    pipeline = build_pipeline(spec, **({"cache_path": str(cache_path)} if cache_path else {}))
    utility = Utility()
    started = time.time()
    rows: list[dict] = []
    try:
        batch: list[dict] = []
        for _, row in stored_rows(dataset, stop=limit):
            batch.append(row)
            if len(batch) >= chunk:
                _defend_rows(batch, pipeline, utility)
                rows += batch
                batch = []
        if batch:
            _defend_rows(batch, pipeline, utility)
            rows += batch
        steps = pipeline.describe()
    finally:
        pipeline.close()
    features = getattr(dataset, "features", None)
    new = datasets.Dataset.from_list(rows, features=features)
    source = dict(source or {})
    provenance = {"format": 1, "spec": pipeline.spec, "steps": steps["steps"],
                  "source": source, "users": len(rows),
                  "posts": sum(len(r.get("posts") or []) for r in rows),
                  "utility": utility.as_dict(), "seconds": round(time.time() - started, 3),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "versions": _versions()}
    new.info.description = json.dumps({"prism_defence": provenance}, default=str)
    name = f"{source.get('dataset', 'dataset')}+{pipeline.spec}"
    info = {**{k: v for k, v in source.items() if k != "images"}, "dataset": name,
            "defence": pipeline.spec, "images": dataset_image_counts(new)}
    path = None
    if out is not None:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        was_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            new.save_to_disk(str(path))
        finally:
            if was_on:
                datasets.enable_progress_bars()
        (path / PROVENANCE).write_text(json.dumps(provenance, indent=2, default=str), "utf-8")
        new = datasets.load_from_disk(str(path))
    return DefendedSplit(new, provenance, path, info)


def _versions() -> dict:
    from importlib import metadata
    out = {}
    for pkg in ("prism-privacy", "datasets", "pillow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out
