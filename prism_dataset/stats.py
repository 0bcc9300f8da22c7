"""`prism stats`: users, posts, image references, v1 quirks and attribute value counts of a dataset.

The source is a release folder (posts.json, target.json), a dataset saved with
``Dataset.save_to_disk``, a Parquet folder that ``datasets.load_dataset(DIR)`` reads, or a
``PrismBuilder`` config (``--config v1 [--data-dir DIR]``). Each referenced image is counted as
found, missing or unreadable (:func:`prism_dataset.release.count_images`: decoded once, never
kept), so data without its images never passes for data with them. In a built dataset an image
the build could not read is already None, so it counts as missing there.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from prism_core.attributes import ATTRIBUTES

from .hub import build_splits
from .release import (
    IMAGE_STATUSES,
    NO_IMAGE,
    TEMPLATE_SLOT,
    Release,
    ReleaseError,
    add_image_counts,
)
from .schema import decode_attributes

__all__ = ["compute_stats", "load_splits", "format_stats", "add_arguments", "run"]

MISSING = "(missing)"
_REQUIRED_COLUMNS = ("user_id", "posts", "topics", "attributes")


# ---------------------------------------------------------------- reading a source

def _dataset_rows(ds, source: str) -> Iterator[dict]:
    """Rows of a `datasets.Dataset` as plain dicts, images left encoded, ClassLabels decoded."""
    missing = [c for c in _REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise ReleaseError(source, f"not a PRISM dataset: missing column(s) {missing}")
    for batch in ds.with_format("arrow").iter(batch_size=256):
        for row in batch.to_pylist():
            row["attributes"] = decode_attributes(row["attributes"], ds.features)
            yield row


def _from_dataset_object(obj, source: str, split: str | None) -> dict[str, Iterable[dict]]:
    splits = dict(obj) if hasattr(obj, "keys") else {str(obj.split or "all"): obj}
    if split is not None:
        if split not in splits:
            raise ReleaseError(source, f"no split {split!r} (has {sorted(splits)})")
        splits = {split: splits[split]}
    return {name: _dataset_rows(ds, source) for name, ds in splits.items()}


def load_splits(path: str | None = None, *, config: str | None = None, data_dir: str | None = None,
                cache_dir: str | None = None, split: str | None = None) -> dict[str, Iterable[dict]]:
    """Split name -> iterable of user records (attributes decoded to names) for any supported source."""
    if config is not None:
        return _from_dataset_object(build_splits(config, cache_dir=cache_dir, data_dir=data_dir),
                                    f"PrismBuilder config {config!r}", split)
    if path is None:
        raise ReleaseError(".", "give a PATH or --config")
    root = Path(path)
    if not root.is_dir():
        raise ReleaseError(root, "not found (expected a release folder, a saved dataset or a "
                                 "Parquet folder)")
    if (root / "posts.json").is_file() or (root / "target.json").is_file():
        if split not in (None, "test"):
            raise ReleaseError(root, f"a release folder has only the split 'test', not {split!r}")
        return {"test": Release(root).records(raw_images=True)}  # checked by compute_stats
    import datasets
    if any((root / f).is_file() for f in ("dataset_dict.json", "state.json", "dataset_info.json")):
        try:
            obj = datasets.load_from_disk(str(root))
        except FileNotFoundError:
            obj = None
        if obj is not None:
            return _from_dataset_object(obj, str(root), split)
    try:
        obj = datasets.load_dataset(str(root), cache_dir=cache_dir)
    except (FileNotFoundError, ValueError) as exc:  # datasets' "no (supported) data files" errors
        raise ReleaseError(root, f"not a release folder, a saved dataset or a Parquet folder ({exc})"
                           ) from None
    return _from_dataset_object(obj, str(root), split)


# ---------------------------------------------------------------- counting

def _counts(values: Iterable) -> dict:
    c = Counter(MISSING if v is None else v for v in values)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def _range(values: list) -> dict:
    present = [v for v in values if v is not None]
    if not present:
        return {"min": None, "max": None, "mean": None, "missing": len(values)}
    return {"min": min(present), "max": max(present), "mean": round(sum(present) / len(present), 1),
            "missing": len(values) - len(present)}


def _age(values: list) -> dict:
    decades = Counter(f"{v // 10 * 10}-{v // 10 * 10 + 9}" for v in values if v is not None)
    return {**_range(values), "by_decade": dict(sorted(decades.items(), key=lambda kv: int(kv[0].split("-")[0])))}


def _income(values: list) -> dict:
    present = [v for v in values if v is not None]
    return {"brackets": _counts(v["label"] for v in present) | (
                {MISSING: len(values) - len(present)} if len(present) < len(values) else {}),
            "min": min((v["min"] for v in present), default=None),
            "max": None if any(v["max"] is None for v in present)
            else max((v["max"] for v in present), default=None)}


def _location(values: list) -> dict:
    present = [v or {} for v in values]
    return {"place_of_birth": _counts(v.get("place_of_birth") for v in present),
            "travel_history": _counts(c for v in present for c in (v.get("travel_history") or []))}


def _appearance(values: list) -> dict:
    present = [v or {} for v in values]
    return {"height_cm": _range([v.get("height_cm") for v in present]),
            "weight_kg": _range([v.get("weight_kg") for v in present]),
            "hair_color": _counts(v.get("hair_color") for v in present),
            "eye_color": _counts(v.get("eye_color") for v in present)}


def _attribute_summary(key: str, values: list) -> dict:
    kind = ATTRIBUTES[key].kind
    if kind == "integer":
        return _age(values)
    if kind == "numeric bracket":
        return _income(values)
    if key == "location":
        return _location(values)
    if key == "appearance":
        return _appearance(values)
    if kind == "set":
        return _counts(item for v in values for item in (v or []))
    return _counts(values)


def compute_stats(records: Iterable[dict]) -> dict:
    """Counts over user records (canonical attributes; ClassLabels already decoded to names)."""
    users = posts = refs = none_refs = no_image = mismatch = slots = slot_users = 0
    images = dict.fromkeys(("referenced", *IMAGE_STATUSES), 0)
    values: dict[str, list] = {k: [] for k in ATTRIBUTES}
    for rec in records:
        users += 1
        entries = rec.get("posts") or []
        n_posts = sum(1 for p in entries if p.get("text") is not None)
        n_refs = sum(1 for p in entries if p.get("image_ref") is not None or p.get("image") is not None)
        posts += n_posts
        refs += n_refs
        none_refs += sum(1 for p in entries if p.get("image_ref") == NO_IMAGE)
        add_image_counts(images, rec)
        no_image += sum(1 for p in entries if p.get("text") is not None and p.get("image") is None
                        and p.get("image_ref") in (None, NO_IMAGE))
        mismatch += n_refs != n_posts
        n_slots = sum(1 for t in rec.get("topics") or [] for title in t.get("titles") or []
                      if TEMPLATE_SLOT.search(title))
        slots += n_slots
        slot_users += n_slots > 0
        attrs = rec.get("attributes") or {}
        for key in ATTRIBUTES:
            values[key].append(attrs.get(key))
    return {
        "users": users,
        "posts": posts,
        "image_references": refs,
        "image_references_none": none_refs,
        "images_found": images["found"],
        "images_missing": images["missing"],
        "images_unreadable": images["unreadable"],
        "posts_without_image": no_image,
        "users_image_count_differs": mismatch,
        "unfilled_topic_templates": slots,
        "users_with_unfilled_templates": slot_users,
        "attributes": {key: _attribute_summary(key, vals) for key, vals in values.items()},
    }


# ---------------------------------------------------------------- output

_LABELS = [
    ("users", "users"),
    ("posts", "posts (entries with text)"),
    ("image_references", 'image references (incl. "none")'),
    ("image_references_none", '  of which "none"'),
    ("images_found", "images found"),
    ("images_missing", "images missing"),
    ("images_unreadable", "images unreadable"),
    ("posts_without_image", "posts without image"),
    ("users_image_count_differs", "users whose image count differs from post count"),
    ("unfilled_topic_templates", "unfilled topic templates"),
    ("users_with_unfilled_templates", "  users with unfilled templates"),
]


def _fmt_counts(counts: dict) -> str:
    return "; ".join(f"{k} ({v})" for k, v in counts.items())  # values may contain commas


def _fmt_range(r: dict, unit: str = "") -> str:
    if r["min"] is None:
        return "none"
    text = f"{r['min']}-{r['max']}{unit}, mean {r['mean']}{unit}"
    return text + (f", {r['missing']} missing" if r["missing"] else "")


def _fmt_attribute(key: str, summary: dict) -> list[str]:
    if key == "age":
        return [f"age: {_fmt_range(summary)}", f"  by decade: {_fmt_counts(summary['by_decade'])}"]
    if key == "income":
        top = "open-ended" if summary["max"] is None else summary["max"]
        return [f"income: from {summary['min']} to {top}",
                f"  brackets: {_fmt_counts(summary['brackets'])}"]
    if key == "location":
        return ["location:", f"  place of birth: {_fmt_counts(summary['place_of_birth'])}",
                f"  travel history (per country): {_fmt_counts(summary['travel_history'])}"]
    if key == "appearance":
        return ["appearance:", f"  height: {_fmt_range(summary['height_cm'], ' cm')}",
                f"  weight: {_fmt_range(summary['weight_kg'], ' kg')}",
                f"  hair color: {_fmt_counts(summary['hair_color'])}",
                f"  eye color: {_fmt_counts(summary['eye_color'])}"]
    suffix = " (per item)" if ATTRIBUTES[key].kind == "set" else ""
    return [f"{key}{suffix}: {_fmt_counts(summary)}"]


def format_stats(stats: dict, split: str) -> str:
    """Human-readable report of one split's statistics."""
    width = max(len(label) for _, label in _LABELS) + 2
    lines = [f"split {split!r}"]
    lines += [f"  {label:<{width}}{stats[key]:>7}" for key, label in _LABELS]
    referenced = stats["image_references"] - stats["image_references_none"]
    if referenced and not stats["images_found"]:
        lines.append("  no referenced image is present: the image channel of a run on this "
                     "data measures nothing")
    lines.append("  attribute values:")
    for key, summary in stats["attributes"].items():
        lines += [f"    {line}" for line in _fmt_attribute(key, summary)]
    return "\n".join(lines)


# ---------------------------------------------------------------- command

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="release folder (posts.json, target.json), a "
                        "dataset saved with save_to_disk, or a Parquet folder")
    parser.add_argument("--config", help="build this PrismBuilder config instead (e.g. v1)")
    parser.add_argument("--data-dir", help="with --config v1: the release folder (default: fetch "
                        "xaddh/multimodal-privacy from the Hub)")
    parser.add_argument("--cache-dir", help="the datasets cache folder for --config builds and "
                        "Parquet folders (default: datasets' own)")
    parser.add_argument("--split", help="only this split (default: every split)")
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")


def run(args: argparse.Namespace) -> int:
    if (args.path is None) == (args.config is None):
        raise ReleaseError(args.path or ".", "give exactly one of PATH or --config")
    splits = load_splits(args.path, config=args.config, data_dir=args.data_dir,
                         cache_dir=args.cache_dir, split=args.split)
    result = {name: compute_stats(records) for name, records in splits.items()}
    source = args.path if args.config is None else f"config {args.config}"
    if args.json:
        print(json.dumps({"source": str(source), "splits": result}, indent=2, ensure_ascii=False))
    else:
        print(f"PRISM statistics of {source}")
        print("\n".join(format_stats(stats, name) for name, stats in result.items()))
    return 0
