"""`prism export`: build a config (v1 or synthetic) and write it as a Hub-ready Parquet folder.

    prism export --config synthetic --n-users 200 --seed 0 --out exported/
    prism export --config v1 --data-dir prism-v1/ --out exported/   # adds v1 to the same card
"""
from __future__ import annotations

from .hub import add_build_arguments, export_splits, splits_from_args

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    add_build_arguments(parser)
    parser.add_argument("--out", required=True, help="folder to write (README.md + Parquet)")
    parser.add_argument("--max-shard-mb", type=int, default=500, help="largest Parquet file")


def run(args) -> int:
    splits, regenerate = splits_from_args(args)
    out = export_splits(splits, args.out, args.config, max_shard_bytes=args.max_shard_mb * 2 ** 20,
                        regenerate=regenerate)
    sizes = ", ".join(f"{name}: {len(ds)} users" for name, ds in splits.items())
    print(f"exported config {args.config!r} ({sizes}) to {out}")
    return 0
