"""`prism push`: upload an exported folder (or build and export a config first) to the Hub.

    prism push --repo-id you/prism-synthetic --folder exported/
    prism push --repo-id you/prism-synthetic --config synthetic --n-users 1000 --seed 1

The token is read from HF_TOKEN (or a saved `hf auth login`); it is never printed.
"""
from __future__ import annotations

import tempfile

from .hub import (
    add_build_arguments,
    check_push_access,
    export_splits,
    push_folder,
    splits_from_args,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    parser.add_argument("--repo-id", required=True, help="dataset repository, e.g. user/prism")
    parser.add_argument("--folder", default=None,
                        help="an exported folder to upload (else --config is built and exported)")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--revision", default=None, help="branch to commit to")
    parser.add_argument("--message", default=None, help="commit message")
    add_build_arguments(parser)


def run(args) -> int:
    check_push_access()  # token and network first: no build is wasted on a push that cannot happen
    if args.folder:
        info = push_folder(args.folder, args.repo_id, private=args.private or None,
                           revision=args.revision, commit_message=args.message)
    else:
        splits, regenerate = splits_from_args(args)
        with tempfile.TemporaryDirectory(prefix="prism-push-") as tmp:
            export_splits(splits, tmp, args.config, regenerate=regenerate)
            info = push_folder(tmp, args.repo_id, private=args.private or None,
                               revision=args.revision, commit_message=args.message)
    url = getattr(info, "commit_url", None) or info
    print(f"pushed to dataset repository {args.repo_id}: {url}")
    return 0
