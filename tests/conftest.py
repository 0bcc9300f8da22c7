"""Shared fixtures: the published v1 files, small generated images, offline Hub settings."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# Built datasets and generation caches go to a throwaway folder, not the user's caches (set before
# `datasets` is imported: it reads the variable once).
_CACHE = tempfile.mkdtemp(prefix="prism-tests-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")
os.environ["PRISM_CACHE_DIR"] = os.path.join(_CACHE, "prism")

REPO = Path(__file__).resolve().parents[1]


def _find_v1() -> Path:
    env = os.environ.get("PRISM_V1_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data" / "prism-v1",
                   REPO / "tests" / "data" / "prism-v1"]
    for c in candidates:
        if (c / "posts.json").is_file():
            return c
    raise RuntimeError("PRISM v1 files not found: set PRISM_V1_DIR or place them in ../shared/data/prism-v1")


@pytest.fixture(scope="session")
def v1_dir() -> Path:
    """The published PRISM v1 folder (posts.json, target.json; no images)."""
    return _find_v1()


@pytest.fixture(scope="module")
def release(v1_dir, tmp_path_factory) -> Path:
    """A 6-user release folder with tiny JPEGs (a module may define its own ``release``)."""
    from release_factory import make_release
    return make_release(v1_dir, tmp_path_factory.mktemp("rel") / "release", n_users=6, images=True)
