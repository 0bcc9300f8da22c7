"""The v1 release reader: quirks kept faithfully, and every bad input named by file, user and field."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from release_factory import make_release

from prism_dataset.release import Release, ReleaseError, quirks, read_json
from prism_eval.cli import main as prism


def records(root: Path) -> list[dict]:
    return list(Release(root).records())


# ---------------------------------------------------------------- the published files

def test_v1_release_reads_all_users_and_keeps_quirks(v1_dir):
    release = Release(v1_dir, load_images=False)
    recs = list(release.records())
    assert len(recs) == 543 and len(release) == 543
    posts = [p for r in recs for p in r["posts"]]
    assert sum(p["text"] is not None for p in posts) == 1593
    assert sum(p["image_ref"] is not None for p in posts) == 1596
    assert sum(p["image_ref"] == "none" for p in posts) == 59
    extra = [r for r in recs if any(p["text"] is None for p in r["posts"])]
    assert len(extra) == 3  # users with more image references than posts
    for r in extra:
        post_ids = [p["post_id"] for p in r["posts"]]
        assert post_ids[-1].startswith("image") and r["posts"][-1]["image_ref"] is not None
    titles = [t for r in recs for topic in r["topics"] for t in topic["titles"]]
    assert "The Most Challenging Levels in [Favorite Game Name]" in titles  # kept as written
    assert all(p["image"] is None for p in posts)
    assert release.warnings == []


def test_missing_images_folder_gives_one_note_not_a_warning_per_image(v1_dir, caplog):
    release = Release(v1_dir)
    with caplog.at_level(logging.WARNING, logger="prism_dataset.release"):
        recs = list(release.records())
    assert len(recs) == 543
    assert release.warnings == [] and not caplog.records
    assert release.absent_folders == {"images": 1537}
    assert len(release.notes) == 1 and "1537" in release.notes[0] and "images" in release.notes[0]


def test_quirks_of_one_entry():
    entry = {"posts": {"post1": "a"}, "img_urls": ["./images/1.jpg", "none"],
             "topics": {"Games": ["Levels of [Favorite Game Name]", "Plain title"]}}
    assert quirks(entry) == {"no_image_posts": 1, "image_post_mismatch": True, "template_slots": 1}


def test_small_release_with_images_carries_image_bytes(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel", images=True)
    recs = records(root)
    first = recs[0]["posts"][0]
    assert first["image"]["bytes"][:2] == b"\xff\xd8"  # a JPEG
    assert first["image"]["path"] == "images/1.jpg"


# ---------------------------------------------------------------- bad JSON files

@pytest.mark.parametrize("name", ["posts.json", "target.json"])
def test_truncated_json_names_the_file(v1_dir, tmp_path, name):
    root = make_release(v1_dir, tmp_path / "rel")
    text = (root / name).read_text()
    (root / name).write_text(text[: len(text) // 2])
    with pytest.raises(ReleaseError) as err:
        Release(root)
    assert err.value.file == str(root / name)
    assert name in str(err.value) and "not valid JSON" in str(err.value)


@pytest.mark.parametrize("content, expect", [
    (b"this is not json", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'["person-001"]', "expected a JSON object"),
    (b'{"person-001": {}, "person-001": {}}', "duplicate key 'person-001'"),
])
def test_non_json_files(tmp_path, content, expect):
    path = tmp_path / "target.json"
    path.write_bytes(content)
    with pytest.raises(ReleaseError, match=expect) as err:
        read_json(path)
    assert str(path) in str(err.value)


def test_missing_file_and_missing_folder(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel")
    (root / "target.json").unlink()
    with pytest.raises(ReleaseError, match="target.json: file not found"):
        Release(root)
    with pytest.raises(ReleaseError, match="release folder not found"):
        Release(tmp_path / "nowhere")


# ---------------------------------------------------------------- users in one file only

def test_user_in_posts_missing_from_target(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel", edit=lambda p, t: t.pop("person-002"))
    with pytest.raises(ReleaseError) as err:
        Release(root)
    assert err.value.file.endswith("target.json") and err.value.user == "person-002"
    assert "missing from target.json" in str(err.value)


def test_user_in_target_missing_from_posts(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel", edit=lambda p, t: p.pop("person-003"))
    with pytest.raises(ReleaseError) as err:
        Release(root)
    assert err.value.file.endswith("posts.json") and err.value.user == "person-003"
    assert "missing from posts.json" in str(err.value)


# ---------------------------------------------------------------- bad attributes

def _set(path: str, value):
    """An edit that sets target['person-002'][path...] (value None deletes the key)."""
    keys = path.split("/")

    def edit(posts, target):
        obj = target["person-002"]
        for k in keys[:-1]:
            obj = obj[k]
        if value is None:
            del obj[keys[-1]]
        else:
            obj[keys[-1]] = value
    return edit


@pytest.mark.parametrize("path, value, field, message", [
    ("favourite colour", "blue", "favourite colour", "unknown attribute key"),
    ("religious belief", None, "religious belief", "missing attribute key"),
    ("age", "34", "age", "expected an integer"),
    ("age", 34.5, "age", "expected an integer"),
    ("age", True, "age", "expected an integer"),
    ("relationship state", "complicated", "relationship state", "is outside"),
    ("relationship state", "blue", "relationship state", "unknown value"),
    ("sex", 1, "sex", "expected text"),
    ("income", 50000, "income", "expected text"),
    ("income", "lots", "income", "cannot read"),
    ("appearance/height", None, "appearance.height", "missing key"),
    ("appearance/height", "tall", "appearance.height", "cannot read"),
    ("appearance/shoe size", "42", "appearance.shoe size", "unknown key"),
    ("location/travel history", "Japan", "location.travel history", "must be a list"),
    ("location/place of birth", None, "location.place of birth", "missing key"),
    ("hobbies", "chess", "hobbies", "expected a list"),
])
def test_bad_attribute_names_file_user_and_field(v1_dir, tmp_path, path, value, field, message):
    root = make_release(v1_dir, tmp_path / "rel", edit=_set(path, value))
    release = Release(root)
    assert release.record("person-001")["user_id"] == "person-001"  # the other users still read
    with pytest.raises(ReleaseError) as err:
        release.record("person-002")
    e = err.value
    assert (e.file, e.user, e.field) == (str(root / "target.json"), "person-002", field)
    assert message in str(e)
    assert str(e).startswith(f"file {root / 'target.json'}, user 'person-002', field '{field}': ")


def test_alias_of_a_closed_category_is_stored_as_its_class(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel", edit=_set("religious belief", "Muslim"))
    assert Release(root).record("person-002")["attributes"]["religion"] == "Islam"


# ---------------------------------------------------------------- bad posts entries

@pytest.mark.parametrize("mutate, field", [
    (lambda e: e.pop("img_urls"), "img_urls"),
    (lambda e: e.__setitem__("posts", ["a", "b"]), "posts"),
    (lambda e: e["posts"].__setitem__("post2", 7), "posts.post2"),
    (lambda e: e["topics"].__setitem__("Chess", "not a list"), "topics.Chess"),
    (lambda e: e["img_urls"].__setitem__(1, None), "img_urls[1]"),
])
def test_malformed_posts_entry(v1_dir, tmp_path, mutate, field):
    root = make_release(v1_dir, tmp_path / "rel", edit=lambda p, t: mutate(p["person-001"]))
    with pytest.raises(ReleaseError) as err:
        records(root)
    assert (err.value.file, err.value.user, err.value.field) == (
        str(root / "posts.json"), "person-001", field)


# ---------------------------------------------------------------- image paths and files

@pytest.mark.parametrize("ref, message", [
    ("../../etc/passwd", "escapes the release folder"),
    ("./images/../../secret.jpg", "escapes the release folder"),
    ("..\\..\\etc\\passwd", "escapes the release folder"),
    ("/etc/passwd", "absolute image path"),
    ("~/photo.jpg", "absolute image path"),
    ("C:\\Windows\\photo.jpg", "absolute image path"),
])
def test_image_path_escaping_the_folder_is_refused(v1_dir, tmp_path, ref, message):
    root = make_release(v1_dir, tmp_path / "rel", images=True,
                        edit=lambda p, t: p["person-002"]["img_urls"].__setitem__(0, ref))
    with pytest.raises(ReleaseError) as err:
        records(root)
    e = err.value
    assert (e.file, e.user, e.field) == (str(root / "posts.json"), "person-002", "img_urls[0]")
    assert message in str(e)


def test_symlinked_images_inside_the_release_are_read(v1_dir, tmp_path):
    """The Hub cache stores each file as a symlink to a blob outside the snapshot folder."""
    repo = tmp_path / "datasets--prism--v1"
    root = make_release(v1_dir, repo / "snapshots" / "0123abc", images=True)
    blob = repo / "blobs" / "abc"
    blob.parent.mkdir()
    shutil.move(root / "images" / "1.jpg", blob)
    (root / "images" / "1.jpg").symlink_to(blob)
    assert records(root)[0]["posts"][0]["image"]["bytes"] == blob.read_bytes()


def test_a_symlink_leaving_the_release_is_not_followed(v1_dir, tmp_path, caplog):
    root = make_release(v1_dir, tmp_path / "rel", images=True)
    secret = tmp_path / "outside" / "secret.jpg"
    secret.parent.mkdir()
    shutil.move(root / "images" / "1.jpg", secret)
    (root / "images" / "1.jpg").symlink_to(secret)
    release = Release(root)
    recs = list(release.records())
    assert recs[0]["posts"][0]["image"] is None
    assert len(release.warnings) == 1 and "outside the release folder" in release.warnings[0].message


@pytest.mark.parametrize("field, value", [("age", -5), ("age", 10 ** 30), ("height", "900 cm"),
                                          ("weight", "0 kg")])
def test_implausible_numbers_are_a_named_error(v1_dir, tmp_path, capsys, field, value):
    def edit(posts, target):
        if field == "age":
            target["person-002"]["age"] = value
        else:
            target["person-002"]["appearance"][field] = value
    root = make_release(v1_dir, tmp_path / "rel", edit=edit)
    with pytest.raises(ReleaseError, match="outside the plausible range"):
        records(root)
    assert prism(["stats", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "person-002" in err and "plausible range" in err


def _image_problem(v1_dir, tmp_path, damage):
    root = make_release(v1_dir, tmp_path / "rel", images=True)
    damage(root / "images" / "5.jpg")  # person-002's second image
    release = Release(root)
    recs = list(release.records())
    return root, release, recs


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.unlink(), "not found"),
    (lambda p: p.write_bytes(b"not a jpeg at all"), "not a recognised image format"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "unreadable"),  # truncated JPEG
    (lambda p: p.write_bytes(b""), "unreadable"),
])
def test_missing_or_corrupt_jpeg_keeps_the_record_and_warns_once(v1_dir, tmp_path, caplog,
                                                                damage, message):
    with caplog.at_level(logging.WARNING, logger="prism_dataset.release"):
        root, release, recs = _image_problem(v1_dir, tmp_path, damage)
    assert len(recs) == 3
    post = recs[1]["posts"][1]
    assert post["image"] is None and post["image_ref"] == "./images/5.jpg" and post["text"]
    assert all(p["image"] is not None for r in recs for p in r["posts"]
               if p["image_ref"] not in ("none", "./images/5.jpg"))
    assert len(release.warnings) == 1 and len(caplog.records) == 1
    w = release.warnings[0]
    assert (w.file, w.user, w.field) == (str(root / "images" / "5.jpg"), "person-002", "img_urls[1]")
    assert message in w.message and str(w) == caplog.records[0].getMessage()
    assert release.notes == []


def test_load_images_false_skips_files_but_still_checks_paths(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel")  # no images/ folder
    release = Release(root, load_images=False)
    assert len(list(release.records())) == 3 and not release.warnings and not release.notes


# ---------------------------------------------------------------- the command line shows one line

def test_cli_reports_a_bad_release_in_one_line(v1_dir, tmp_path, capsys):
    root = make_release(v1_dir, tmp_path / "rel", edit=_set("age", "thirty"))
    assert prism(["stats", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err == (f"prism stats: error: file {root / 'target.json'}, user 'person-002', "
                   f"field 'age': age: expected an integer, got 'thirty'")
