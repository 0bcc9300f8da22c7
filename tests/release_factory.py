"""Small PRISM release folders for tests: the first users of the shared v1 files, optional JPEGs."""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image


def make_release(v1_dir: Path, root: Path, n_users: int = 3, images: bool = False,
                 edit=None) -> Path:
    """A small release folder: the first ``n_users`` v1 users, optionally with tiny JPEGs.

    ``edit(posts, target)`` may change the JSON before it is written.
    """
    posts = json.loads((v1_dir / "posts.json").read_text())
    target = json.loads((v1_dir / "target.json").read_text())
    users = list(posts)[:n_users]
    posts, target = {u: posts[u] for u in users}, {u: target[u] for u in users}
    refs = [r for e in posts.values() for r in e["img_urls"] if r != "none"]  # before any edit
    if edit is not None:
        edit(posts, target)
    root.mkdir(parents=True, exist_ok=True)
    (root / "posts.json").write_text(json.dumps(posts))
    (root / "target.json").write_text(json.dumps(target))
    if images:
        (root / "images").mkdir()
        for i, ref in enumerate(refs):
            Image.new("RGB", (8, 8), (i * 40 % 256, 80, 160)).save(root / ref, "JPEG")
    return root


def release_dataset(root: Path):
    """(dataset, description) of a release folder, as ``prism evaluate --dataset v1`` loads it."""
    from prism_eval.datasets_io import load_users
    return load_users("v1", data_dir=str(root))
