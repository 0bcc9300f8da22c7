"""Fetching v1 from the Hub whatever the repository's layout, against a loopback fake Hub.

Every layout of tests/hub_layouts.py is published on one :class:`FakeHub` (``HF_ENDPOINT`` points
at it, offline mode is lifted), fetched once per session and built with ``PrismBuilder``: each must
give the 543 users and byte-identical images. Unreadable layouts give one line naming what the
repository holds; archive members that would leave the release folder are refused.
"""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from fake_hub import FakeHub
from hub_layouts import LAYOUTS, layout, v1_images, v1_text

from prism_dataset.builder import PrismBuilder
from prism_dataset.hub_release import (
    Entry,
    NoReleaseError,
    fetch_release,
    list_archive,
    plan_release,
)
from prism_dataset.release import Release, ReleaseError


def repo_of(name: str) -> str:
    return f"prism-test/{name.replace('.', '-')}"


@pytest.fixture(scope="session")
def v1_parts(v1_dir):
    return v1_text(v1_dir), v1_images(v1_dir)


@pytest.fixture(scope="session")
def fake_hub(v1_parts):
    text, images = v1_parts
    with FakeHub() as hub:
        for name in LAYOUTS:
            hub.add(repo_of(name), layout(name, text, images))
        yield hub


@pytest.fixture(scope="module")
def module_online(fake_hub, tmp_path_factory):
    """Online settings for this module's shared fetches (undone when the module ends, so other
    modules keep the offline defaults of conftest.py)."""
    import huggingface_hub.constants as hf_constants
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("hub-module")
    mp.setenv("HF_ENDPOINT", fake_hub.url)
    mp.setenv("PRISM_CACHE_DIR", str(root / "prism"))
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")
    mp.delenv("HF_TOKEN", raising=False)
    mp.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    mp.setattr(hf_constants, "HF_HUB_CACHE", str(root / "hub"))
    yield root
    mp.undo()


@pytest.fixture
def online(fake_hub, tmp_path, monkeypatch):
    """Online against the fake Hub, with an empty Hub cache and release cache of this test."""
    import huggingface_hub.constants as hf_constants
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setenv("PRISM_CACHE_DIR", str(tmp_path / "prism"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return fake_hub


def built_images(ds) -> dict[str, bytes]:
    """image_ref (normalised) -> stored bytes over every post of a built v1 dataset."""
    out = {}
    for row in ds.with_format("arrow")[:].to_pylist():
        for p in row["posts"]:
            if p["image"] is not None:
                out[p["image_ref"].removeprefix("./")] = p["image"]["bytes"]
    return out


@pytest.fixture(scope="module")
def built(module_online, fake_hub):
    """layout -> (release folder, built dataset, files downloaded), each built once on first use
    (so an xdist worker builds only the layouts it runs)."""
    cache: dict[str, tuple] = {}

    def get(name: str) -> tuple:
        if name not in cache:
            before = len(fake_hub.downloads())
            builder = PrismBuilder(config_name="v1", repo_id=repo_of(name),
                                   cache_dir=str(module_online / "datasets" / name))
            builder.download_and_prepare()
            downloads = fake_hub.downloads()[before:]
            root = fetch_release(repo_of(name))  # again: from the caches
            cache[name] = (root, builder.as_dataset(split="test"), downloads)
        return cache[name]
    return get


# ---------------------------------------------------------------- every layout, same release

@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_gives_543_users_and_identical_images(built, v1_parts, name):
    root, ds, _ = built(name)
    assert ds.num_rows == 543 and ds[0]["user_id"] == "person-001"
    assert built_images(ds) == v1_parts[1]  # all 1,537 images, byte for byte
    assert Release(root).image_counts() == {"referenced": 1537, "found": 1537, "missing": 0,
                                            "unreadable": 0}


@pytest.mark.parametrize("name, fetched", [
    ("root", 2 + 1537), ("subfolder", 2 + 1537), ("zip", 3),
    ("tar.gz", 1), ("parquet", 4), ("imagefolder", 3 + 1537)])
def test_only_what_is_needed_is_downloaded_once(built, name, fetched):
    _, _, downloads = built(name)
    assert len(downloads) == len(set(downloads)) == fetched
    assert "README.md" not in downloads and ".gitattributes" not in downloads


def test_root_layout_is_the_hub_snapshot_itself(built):
    root = built("root")[0]
    assert root.parent.name == "snapshots" and (root / "images" / "1.jpg").is_file()
    sub = built("subfolder")[0]
    assert sub.name == "v1" and sub.parent.name == "data"
    for name in ("zip", "tar.gz", "parquet", "imagefolder"):
        folder = built(name)[0]
        assert (folder / ".prism-release.json").is_file(), name
        assert sorted(p.name for p in folder.iterdir()) == [".prism-release.json", "images",
                                                            "posts.json", "target.json"], name


# ---------------------------------------------------------------- cache, offline, revision, token

def test_second_fetch_and_offline_fetch_download_nothing(online, v1_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants
    text = v1_text(v1_dir)
    images = dict(list(v1_images(v1_dir).items())[:6])
    online.add("prism-test/offline", layout("zip", text, images))
    first = fetch_release("prism-test/offline")
    n = len(online.requests)
    assert fetch_release("prism-test/offline") == first
    assert not [r for r in online.requests[n:] if "/resolve/" in r[1]]  # listing only
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    n = len(online.requests)
    assert fetch_release("prism-test/offline") == first
    assert len(online.requests) == n  # nothing asked of the Hub
    assert Release(first).image_counts()["found"] == 6
    import shutil
    shutil.rmtree(Path(hf_constants.HF_HUB_CACHE) / "datasets--prism-test--offline" / "snapshots")
    assert fetch_release("prism-test/offline") == first  # the materialised folder suffices
    shutil.rmtree(first)
    with pytest.raises(ReleaseError, match="not in the local cache"):
        fetch_release("prism-test/offline")


def test_offline_without_marker_rebuilds_from_the_cached_snapshot(online, v1_dir, monkeypatch):
    import huggingface_hub.constants as hf_constants
    text, images = v1_text(v1_dir), dict(list(v1_images(v1_dir).items())[:4])
    online.add("prism-test/offline2", layout("elsewhere", text, images))
    first = fetch_release("prism-test/offline2")
    (first / ".prism-release.json").unlink()
    for p in (first / "images").iterdir():
        p.unlink()
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    n = len(online.requests)
    again = fetch_release("prism-test/offline2")
    assert again == first and len(online.requests) == n
    assert Release(again).image_counts()["found"] == 4


def test_an_interrupted_fetch_resumes_with_what_is_missing(online, v1_dir):
    text, images = v1_text(v1_dir), dict(list(v1_images(v1_dir).items())[:8])
    online.add("prism-test/resume", layout("elsewhere", text, images))
    online.refuse = {"assets/photos/5.jpg"}
    with pytest.raises(ReleaseError) as err:
        fetch_release("prism-test/resume")
    assert "download interrupted" in str(err.value) and "run again to resume" in str(err.value)
    online.refuse = set()
    n = len(online.downloads())
    root = fetch_release("prism-test/resume")
    assert online.downloads()[n:] == ["assets/photos/5.jpg"]  # the rest came from the cache
    assert Release(root).image_counts()["found"] == 8


def test_revision_is_honoured(online, v1_dir):
    text, images = v1_text(v1_dir), dict(list(v1_images(v1_dir).items())[:3])
    old = online.add("prism-test/revisions", layout("zip", text, images), revision="v0")
    online.add("prism-test/revisions", layout("parquet", text, images))
    assert fetch_release("prism-test/revisions", revision="v0").name == old
    assert fetch_release("prism-test/revisions", revision=old).name == old
    newest = fetch_release("prism-test/revisions")
    assert newest.name != old and (newest / "images" / "1.jpg").is_file()
    with pytest.raises(ReleaseError, match="revision 'nope' not found"):
        fetch_release("prism-test/revisions", revision="nope")


def test_hf_token_reaches_a_private_repository(online, v1_dir, monkeypatch):
    text = v1_text(v1_dir)
    online.add("prism-test/private", {**text}, token="hf_secret")
    with pytest.raises(ReleaseError) as err:
        fetch_release("prism-test/private")
    assert "HF_TOKEN" in str(err.value) and "hf_secret" not in str(err.value)
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert (fetch_release("prism-test/private") / "posts.json").is_file()


def test_unknown_repository_is_one_line(online):
    with pytest.raises(ReleaseError) as err:
        fetch_release("prism-test/absent")
    assert "\n" not in str(err.value) and "repository not found" in str(err.value)


def test_text_only_fetch_skips_the_images(online, v1_dir):
    text, images = v1_text(v1_dir), dict(list(v1_images(v1_dir).items())[:5])
    online.add("prism-test/textonly", layout("root", text, images))
    n = len(online.downloads())
    root = fetch_release("prism-test/textonly", images=False)
    assert sorted(online.downloads()[n:]) == ["posts.json", "target.json"]
    assert (root / "target.json").is_file()


# ---------------------------------------------------------------- layouts that cannot be read

def test_images_in_an_unreadable_archive_is_one_line_naming_what_was_found(online, v1_dir):
    online.add("prism-test/sevenzip", {**v1_text(v1_dir), "images.7z": b"7z\xbc\xaf",
                                       "README.md": b"# x"})
    with pytest.raises(ReleaseError) as err:
        fetch_release("prism-test/sevenzip")
    message = str(err.value)
    assert "\n" not in message and message.startswith("file hf://datasets/prism-test/sevenzip@")
    assert "none of the 1537 images" in message
    assert "images.7z (not a zip/tar archive)" in message and "posts.json" in message


def test_no_release_files_is_one_line_naming_what_was_found(online):
    online.add("prism-test/csv", {"data/train.csv": b"a,b\n1,2\n", "README.md": b"# x"})
    with pytest.raises(NoReleaseError) as err:
        fetch_release("prism-test/csv")
    message = str(err.value)
    assert "\n" not in message and "no posts.json and target.json found" in message
    assert "README.md, data/ (1 file(s): 1 .csv)" in message


def test_missing_images_are_counted_not_hidden(online, v1_dir):
    text, images = v1_text(v1_dir), v1_images(v1_dir)
    partial = dict(list(images.items())[:10])
    online.add("prism-test/partial", layout("zip", text, partial))
    root = fetch_release("prism-test/partial")
    assert Release(root).image_counts() == {"referenced": 1537, "found": 10, "missing": 1527,
                                            "unreadable": 0}


# ---------------------------------------------------------------- archives are checked

def _zip_with(name: str, data: bytes = b"x", symlink: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (0o120777 << 16)
        z.writestr(info, data)
    return buf.getvalue()


def _tar_with(name: str, kind=tarfile.REGTYPE) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
            t.addfile(info)
        else:
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


@pytest.mark.parametrize("suffix, data, reason", [
    (".zip", _zip_with("../../evil.jpg"), "'..' component"),
    (".zip", _zip_with("/etc/evil.jpg"), "absolute path"),
    (".zip", _zip_with("C:/evil.jpg"), "absolute path"),
    (".zip", _zip_with("images/1.jpg", b"/etc/passwd", symlink=True), "symbolic link"),
    (".tar", _tar_with("images/../../evil.jpg"), "'..' component"),
    (".tar", _tar_with("/abs/evil.jpg"), "absolute path"),
    (".tar", _tar_with("images/1.jpg", tarfile.SYMTYPE), "a link"),
    (".tar", _tar_with("images/1.jpg", tarfile.CHRTYPE), "not a regular file"),
])
def test_unsafe_archive_members_are_refused(tmp_path, suffix, data, reason):
    path = tmp_path / f"images{suffix}"
    path.write_bytes(data)
    with pytest.raises(ReleaseError) as err:
        list_archive(path, f"images{suffix}")
    assert reason in str(err.value) and f"images{suffix}" in str(err.value)


def test_unsafe_archive_on_the_hub_writes_nothing_outside(online, v1_dir, tmp_path):
    online.add("prism-test/evil", {**v1_text(v1_dir), "images.zip": _zip_with("../../evil.jpg")})
    with pytest.raises(ReleaseError, match="not extracted"):
        fetch_release("prism-test/evil")
    assert not list(tmp_path.rglob("evil.jpg"))


# ---------------------------------------------------------------- the plan, pure

def test_plan_locates_text_and_matches_images_by_name():
    files = ["README.md", "v1/posts.json", "v1/target.json", "other/posts.json",
             "v1/pics/1.jpg", "v1/pics/2.JPG", "thumbs/1.jpg"]
    plan = plan_release(files, ["./images/1.jpg", "./images/2.jpg", "./images/3.jpg", "none"])
    assert plan.posts.path == "v1/posts.json" and plan.target.path == "v1/target.json"
    assert {r: e.file for r, e in plan.images.items()} == {"images/1.jpg": "v1/pics/1.jpg",
                                                            "images/2.jpg": "v1/pics/2.JPG"}
    assert plan.missing == ["images/3.jpg"] and plan.inspect == []
    assert plan.downloads() == ["v1/posts.json", "v1/target.json", "v1/pics/1.jpg",
                                "v1/pics/2.JPG"]


def test_plan_asks_to_inspect_archives_and_shards_only_when_images_are_missing():
    files = ["posts.json", "target.json", "images/1.jpg", "extra.zip", "data/x.parquet"]
    assert plan_release(files, ["images/1.jpg"]).inspect == []
    assert plan_release(files, ["images/1.jpg", "images/2.jpg"]).inspect == \
        ["data/x.parquet", "extra.zip"]
    done = plan_release(files, ["images/1.jpg", "images/2.jpg"],
                        inspected=["data/x.parquet", "extra.zip"])
    assert done.inspect == [] and done.missing == ["images/2.jpg"]
    assert plan_release(["a.tar.gz"]).inspect == ["a.tar.gz"]
    inside = [Entry("top/posts.json", "a.tar.gz", "tar", "top/posts.json"),
              Entry("top/target.json", "a.tar.gz", "tar", "top/target.json")]
    plan = plan_release(["a.tar.gz", *inside], inspected=["a.tar.gz"])
    assert plan.posts.kind == "tar" and plan.base == "top"


def test_plan_errors_are_one_line():
    with pytest.raises(NoReleaseError, match=r"holds: README.md, data/ \(2 file\(s\): 2 .parquet\)"):
        plan_release(["README.md", "data/a.parquet", "data/b.parquet"])
    with pytest.raises(ReleaseError, match="no target.json next to posts.json"):
        plan_release(["a/posts.json", "b/target.json", "c/target.json"])


def test_plan_tells_same_named_images_apart_by_their_folders():
    files = ["posts.json", "target.json", "x/a/1.jpg", "x/b/1.jpg"]
    plan = plan_release(files, ["./images/a/1.jpg", "./images/b/1.jpg"])
    assert {r: e.file for r, e in plan.images.items()} == {"images/a/1.jpg": "x/a/1.jpg",
                                                            "images/b/1.jpg": "x/b/1.jpg"}


def test_builder_repo_id_is_a_config_option(tmp_path):
    default = PrismBuilder(config_name="v1", cache_dir=str(tmp_path))
    other = PrismBuilder(config_name="v1", repo_id="someone/else", cache_dir=str(tmp_path))
    assert other.config.repo_id == "someone/else" and default.config.repo_id == "xaddh/multimodal-privacy"
    assert other.config_id != default.config_id  # two repositories never share a cache folder
