"""`PrismBuilder` config v1: local folder, images, streaming, the Hub path (offline), root builder.py."""
from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image
from release_factory import make_release

from prism_core.errors import PrismError
from prism_dataset.builder import HUB_REPO_ID, PrismBuilder, fetch_release
from prism_dataset.release import ReleaseError
from prism_dataset.schema import decode_attributes, user_features

REPO = Path(__file__).resolve().parents[1]


def build(cache: Path, builder_cls=PrismBuilder, **kwargs):
    builder = builder_cls(config_name="v1", cache_dir=str(cache), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset(split="test")


@pytest.fixture(scope="module")
def v1_built(v1_dir, tmp_path_factory):
    return build(tmp_path_factory.mktemp("cache"), data_dir=str(v1_dir))


def test_v1_builds_543_rows_with_declared_features(v1_built):
    builder, ds = v1_built
    assert ds.num_rows == 543 and list(builder.info.splits) == ["test"]
    assert ds.features == user_features()
    row = ds[0]
    assert row["user_id"] == "person-001" and len(row["posts"]) == 3
    assert decode_attributes(row["attributes"], ds.features)["education"] == "PhD"
    assert row["provenance"]["source"] == "prism-v1"
    assert all(p["image"] is None for p in row["posts"])  # the shared files ship no images


def test_streaming_gives_the_same_records(v1_built):
    builder, ds = v1_built
    stream = builder.as_streaming_dataset(split="test")
    streamed = list(stream)
    assert streamed[0] == ds[0]
    assert len(streamed) == 543 and streamed[-1] == ds[-1]


def test_images_absent_gives_one_note(v1_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="prism_dataset"):
        build(tmp_path / "cache", data_dir=str(v1_dir))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "1537 image reference(s)" in messages[0]


def test_images_absent_note_is_logged_once_at_info_level(v1_dir, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="prism_dataset"):
        build(tmp_path / "cache", data_dir=str(v1_dir))
    notes = [r for r in caplog.records if "is absent from" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.WARNING
    assert "1537 image reference(s)" in notes[0].getMessage()


def test_posts_carry_pil_images_and_streaming_agrees(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel", n_users=5, images=True,
                        edit=lambda p, t: p["person-003"]["img_urls"].__setitem__(2, "none"))
    builder, ds = build(tmp_path / "cache", data_dir=str(root))
    row = ds[0]
    images = [p["image"] for p in row["posts"]]
    assert all(isinstance(im, Image.Image) and im.size == (8, 8) for im in images)
    streamed = next(iter(builder.as_streaming_dataset(split="test")))
    assert [p["image"].tobytes() for p in streamed["posts"]] == [im.tobytes() for im in images]
    assert ds[2]["posts"][2]["image_ref"] == "none" and ds[2]["posts"][2]["image"] is None


def test_corrupt_image_does_not_abort_the_build(v1_dir, tmp_path, caplog):
    root = make_release(v1_dir, tmp_path / "rel", images=True)
    (root / "images" / "5.jpg").write_bytes(b"\xff\xd8 corrupt")
    with caplog.at_level(logging.WARNING, logger="prism_dataset"):
        _, ds = build(tmp_path / "cache", data_dir=str(root))
    assert ds.num_rows == 3
    assert ds[1]["posts"][1]["image"] is None and ds[1]["posts"][0]["image"] is not None
    per_image = [r.getMessage() for r in caplog.records if "5.jpg" in r.getMessage()]
    assert len(per_image) == 1
    assert "user 'person-002'" in per_image[0] and "field 'img_urls[1]'" in per_image[0]


def test_writer_batch_size_bounds_images_in_memory():
    assert PrismBuilder.DEFAULT_WRITER_BATCH_SIZE and PrismBuilder.DEFAULT_WRITER_BATCH_SIZE <= 100


# ---------------------------------------------------------------- the Hub path, without network

def _populate_hub_cache(hub: Path, v1_dir: Path, images_from: Path | None = None) -> Path:
    """The layout huggingface_hub writes: blobs/, refs/main, snapshots/<commit>/ with symlinks."""
    repo = hub / ("datasets--" + HUB_REPO_ID.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    files = {"posts.json": v1_dir / "posts.json", "target.json": v1_dir / "target.json"}
    if images_from is not None:
        files.update({f"images/{p.name}": p for p in (images_from / "images").iterdir()})
    for i, (name, src) in enumerate(sorted(files.items())):
        blob = repo / "blobs" / f"blob{i:05d}"
        blob.parent.mkdir(exist_ok=True)
        shutil.copyfile(src, blob)
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).symlink_to(blob)
    return snap


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline (constants are read at import, so patch them too)."""
    import huggingface_hub.constants as hf_constants
    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return hub


def test_hub_path_resolves_from_the_local_cache(v1_dir, tmp_path, hub_cache):
    small = make_release(v1_dir, tmp_path / "small", n_users=4, images=True)
    snap = _populate_hub_cache(hub_cache, small, images_from=small)
    assert fetch_release() == snap
    _, ds = build(tmp_path / "cache")  # no data_dir: fetched through huggingface_hub
    assert ds.num_rows == 4 and ds[0]["user_id"] == "person-001"
    assert isinstance(ds[0]["posts"][0]["image"], Image.Image)


def test_hub_path_builds_all_v1_users(v1_dir, tmp_path, hub_cache):
    _populate_hub_cache(hub_cache, v1_dir)
    _, ds = build(tmp_path / "cache")
    assert ds.num_rows == 543


def test_hub_path_offline_and_not_cached_is_a_clear_error(tmp_path, hub_cache):
    with pytest.raises(ReleaseError) as err:
        build(tmp_path / "cache")
    message = str(err.value)
    assert message.startswith(f"file hf://datasets/{HUB_REPO_ID}: ")
    assert "not in the local cache" in message and "data_dir" in message
    assert isinstance(err.value, PrismError)


# ---------------------------------------------------------------- the loading script at the root

def test_root_builder_py_exposes_the_same_builder(v1_dir, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("prism_root_builder", REPO / "builder.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # datasets re-imports the builder's module
    spec.loader.exec_module(module)
    assert issubclass(module.PrismBuilder, PrismBuilder)
    assert {c.name for c in module.PrismBuilder.BUILDER_CONFIGS} >= {"v1", "synthetic"}
    root = make_release(v1_dir, tmp_path / "rel", n_users=2)
    _, ds = build(tmp_path / "cache", module.PrismBuilder, data_dir=str(root))
    assert ds.num_rows == 2 and ds.features == user_features()
