"""`prism stats`: the same numbers from a release folder, a built dataset, a saved one, Parquet."""
from __future__ import annotations

import json

import pytest
from release_factory import make_release

from prism_dataset.builder import PrismBuilder
from prism_dataset.schema import decode_attributes, user_features
from prism_dataset.stats import compute_stats, load_splits
from prism_eval.cli import main as prism

V1_COUNTS = {"users": 543, "posts": 1593, "image_references": 1596, "image_references_none": 59,
             "images_found": 0, "images_missing": 1537, "images_unreadable": 0,
             "posts_without_image": 59, "users_image_count_differs": 3}


@pytest.fixture(scope="module")
def v1_stats(v1_dir) -> dict:
    splits = load_splits(str(v1_dir))
    assert list(splits) == ["test"]
    return compute_stats(splits["test"])


@pytest.fixture(scope="module")
def v1_dataset(v1_dir, tmp_path_factory):
    builder = PrismBuilder(config_name="v1", data_dir=str(v1_dir),
                           cache_dir=str(tmp_path_factory.mktemp("cache")))
    builder.download_and_prepare()
    return builder.as_dataset()


def test_v1_counts(v1_stats):
    assert {k: v1_stats[k] for k in V1_COUNTS} == V1_COUNTS
    assert v1_stats["unfilled_topic_templates"] > 0
    assert 0 < v1_stats["users_with_unfilled_templates"] <= 543


def test_v1_attribute_summaries(v1_stats):
    a = v1_stats["attributes"]
    assert sum(a["sex"].values()) == 543 and set(a["sex"]) == {"male", "female"}
    assert sum(a["age"]["by_decade"].values()) == 543 and a["age"]["min"] >= 15
    assert a["age"]["max"] <= 75 and all(k.endswith("9") for k in a["age"]["by_decade"])
    assert 150 <= a["appearance"]["height_cm"]["min"] <= a["appearance"]["height_cm"]["max"] <= 210
    assert sum(a["income"]["brackets"].values()) == 543 and a["income"]["max"] is None
    assert sum(a["location"]["place_of_birth"].values()) == 543
    assert sum(a["location"]["travel_history"].values()) > 543  # counted per country
    assert len(a["religion"]) == 8 and len(a["health"]) == 5 and len(a["education"]) == 7
    assert all(sum(a[k].values()) == 543 for k in ("occupation", "shopping_habits", "relationship"))


def test_hobbies_counted_per_item(v1_dir, v1_stats):
    target = json.loads((v1_dir / "target.json").read_text())
    assert sum(v1_stats["attributes"]["hobbies"].values()) == sum(len(e["hobbies"]) for e in target.values())


def test_built_saved_and_parquet_datasets_give_identical_stats(v1_stats, v1_dataset, tmp_path):
    v1_dataset.save_to_disk(str(tmp_path / "dict"))
    v1_dataset["test"].save_to_disk(str(tmp_path / "single"))
    (tmp_path / "pq" / "data").mkdir(parents=True)
    v1_dataset["test"].to_parquet(str(tmp_path / "pq" / "data" / "test-00000-of-00001.parquet"))
    for folder in ("dict", "single", "pq"):
        splits = load_splits(str(tmp_path / folder), cache_dir=str(tmp_path / "hf"))
        assert list(splits) == ["test"], folder
        assert compute_stats(splits["test"]) == v1_stats, folder


def test_config_v1_through_the_builder(v1_dir, v1_stats, tmp_path, capsys):
    assert prism(["stats", "--config", "v1", "--data-dir", str(v1_dir), "--cache-dir",
                  str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["splits"]["test"] == v1_stats


def test_cli_text_output(v1_dir, capsys):
    assert prism(["stats", str(v1_dir)]) == 0
    out = capsys.readouterr().out
    for label, n in [("users", 543), ("posts (entries with text)", 1593),
                     ('image references (incl. "none")', 1596), ('of which "none"', 59),
                     ("users whose image count differs from post count", 3)]:
        line = next(l for l in out.splitlines() if l.strip().startswith(label))
        assert line.split()[-1] == str(n), line
    assert "by decade: 10-19 (" in out and "height: " in out and "hobbies (per item): " in out


def test_cli_json_output(v1_dir, v1_stats, capsys):
    assert prism(["stats", str(v1_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == str(v1_dir) and out["splits"] == {"test": v1_stats}


def test_images_are_counted_when_present(v1_dir, tmp_path):
    root = make_release(v1_dir, tmp_path / "rel", n_users=3, images=True)
    builder = PrismBuilder(config_name="v1", data_dir=str(root), cache_dir=str(tmp_path / "c"))
    builder.download_and_prepare()
    builder.as_dataset().save_to_disk(str(tmp_path / "saved"))
    built = compute_stats(load_splits(str(tmp_path / "saved"))["test"])
    assert built["images_found"] == built["image_references"] - built["image_references_none"] > 0
    assert built["images_missing"] == built["images_unreadable"] == 0
    assert compute_stats(load_splits(str(root))["test"]) == built  # the folder, read as the build


def test_missing_and_unreadable_images_are_told_apart(v1_dir, tmp_path, capsys):
    root = make_release(v1_dir, tmp_path / "rel", n_users=3, images=True)
    (root / "images" / "2.jpg").unlink()
    (root / "images" / "5.jpg").write_bytes(b"\xff\xd8 corrupt")
    stats = compute_stats(load_splits(str(root))["test"])
    assert (stats["images_found"], stats["images_missing"], stats["images_unreadable"]) == (7, 1, 1)
    from prism_dataset.release import Release
    assert Release(root).image_counts() == {"referenced": 9, "found": 7, "missing": 1,
                                            "unreadable": 1}
    assert prism(["stats", str(root)]) == 0
    out = capsys.readouterr().out
    assert [l.split()[-1] for l in out.splitlines() if l.strip().startswith("images ")] == \
        ["7", "1", "1"] and "measures nothing" not in out


def test_stats_say_when_no_image_is_present(v1_dir, capsys):
    assert prism(["stats", str(v1_dir)]) == 0
    out = capsys.readouterr().out
    assert "no referenced image is present: the image channel of a run on this data measures " \
           "nothing" in out


@pytest.mark.parametrize("args, message", [
    (["stats"], "give exactly one of PATH or --config"),
    (["stats", "{missing}"], "not found"),
    (["stats", "{empty}"], "not a release folder, a saved dataset or a Parquet folder"),
    (["stats", "{v1}", "--split", "train"], "only the split 'test'"),
])
def test_cli_errors_are_one_line(v1_dir, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "missing", "empty": tmp_path / "empty", "v1": v1_dir}
    args = [a.format(**paths) for a in args]
    assert prism(args + ["--cache-dir", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prism stats: error: ") and "\n" not in err and message in err


def test_decode_attributes():
    features = user_features()
    encoded = {"sex": 1, "education": 6, "religion": 2, "health": None, "age": 30,
               "relationship": "married"}
    assert decode_attributes(encoded, features) == {
        "sex": "female", "education": "PhD", "religion": "Islam", "health": None, "age": 30,
        "relationship": "married"}
    assert decode_attributes(encoded, features["attributes"]) == decode_attributes(encoded)
