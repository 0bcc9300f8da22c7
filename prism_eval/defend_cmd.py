"""`prism defend`: apply defences to a dataset split and write the defended split.

Examples::

    prism defend --defence redact --n-users 50 --out defended/redact
    prism defend --dataset v1 --data-dir prism-v1 --defence ner --out defended/v1-ner
    prism defend --defence 'rewrite[model=gpt-4o-mini]+blur-text' --out defended/rw
    prism audit --dataset defended/redact --variants posts-only      # audit the defended split

The split is a ``save_to_disk`` folder (``--dataset OUT`` reads it) with ``defence.json`` (the
spec, each step's options and library versions, the source, counts and the utility cost).
``prism audit --defence SPEC`` does defend-then-audit in one go, before and after, with the same
model, cache and users.
"""
from __future__ import annotations

import argparse

from .defences.base import REGISTRY
from .evaluate_cmd import DATASET_HELP

DEFENCE_HELP = ("defence spec: steps joined by '+', each NAME or NAME[KEY=VALUE,...] from "
                + ", ".join(REGISTRY) + " (e.g. redact, ner, 'rewrite[model=gpt-4o-mini]', "
                "'downscale[max_side=160,quality=40]', redact+blur-text)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", help=DATASET_HELP + " (default: synthetic)")
    p.add_argument("--data-dir", help="local v1 release folder (posts.json, target.json, images/)")
    p.add_argument("--split", help="dataset split (default: test for v1, train for synthetic)")
    p.add_argument("--n-users", type=int, help="synthetic: number of users (default 100)")
    p.add_argument("--seed", type=int, help="synthetic: generation seed")
    p.add_argument("--limit", type=int, help="defend only the first N users")
    p.add_argument("--defence", "--defense", required=True, help=DEFENCE_HELP)
    p.add_argument("--out", help="output folder (default: prism-defended/<dataset>+<defence>)")


def run(args) -> int:
    from .defences import defend
    split = defend(args.dataset, args.defence, out=args.out, data_dir=args.data_dir,
                   split=args.split, n_users=args.n_users, seed=args.seed, limit=args.limit)
    from .defences.tables import UTILITY_HEAD, utility_row
    u = split.utility
    print(f"defended {split.provenance['users']} users, {split.provenance['posts']} posts with "
          f"{split.provenance['spec']}: {split.path}")
    for name, value in zip(UTILITY_HEAD[1:], utility_row(u)):
        print(f"  {name}: {value}")
    print(f"provenance: {split.path / 'defence.json'}; audit it with: prism audit --dataset "
          f"{split.path}")
    return 0
