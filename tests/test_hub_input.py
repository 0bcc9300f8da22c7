"""Hub repositories and foreign Datasets as evaluation input: ``--dataset hub:REPO``,
``from_dataset(load_dataset(...))`` with its columns mapped, and the image counts a run records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_hub import FakeHub
from hub_layouts import layout, v1_images, v1_text

from prism_core.errors import PrismError
from prism_dataset.mapping import SchemaError, as_prism, is_prism_dataset
from prism_dataset.release import Release
from prism_eval.cli import main as prism
from prism_eval.datasets_io import from_dataset, iter_users, load_users


def small_text(v1_dir: Path, n: int = 4) -> dict[str, bytes]:
    """posts.json/target.json of the first ``n`` v1 users."""
    out = {}
    for name, data in v1_text(v1_dir).items():
        obj = json.loads(data)
        out[name] = json.dumps({u: obj[u] for u in list(obj)[:n]}).encode()
    return out


def small_images(v1_dir: Path, text: dict[str, bytes]) -> dict[str, bytes]:
    refs = {r.removeprefix("./") for e in json.loads(text["posts.json"]).values()
            for r in e["img_urls"] if r != "none"}
    return {r: d for r, d in v1_images(v1_dir).items() if r in refs}


@pytest.fixture
def hub(tmp_path, monkeypatch, v1_dir):
    import huggingface_hub.constants as hf_constants
    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("PRISM_CACHE_DIR", str(tmp_path / "prism"))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
        yield fake


# ---------------------------------------------------------------- --dataset hub:REPO

def test_evaluate_hub_repo_records_its_image_counts(hub, v1_dir, tmp_path):
    text = small_text(v1_dir)
    images = small_images(v1_dir, text)
    hub.add("prism-test/small", layout("elsewhere", text, images))
    out = tmp_path / "run"
    assert prism(["evaluate", "--dataset", "hub:prism-test/small", "--model", "dummy",
                  "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["users"] == 4
    dataset = summary["config"]["dataset"]
    assert dataset["repo_id"] == "prism-test/small" and dataset["dataset"] == "hub:prism-test/small"
    n = len(images)
    assert dataset["images"] == {"referenced": n, "found": n, "missing": 0, "unreadable": 0}
    from prism_eval.report import load_runs
    [run] = load_runs([str(out)])
    assert run.images == f"{n} of {n}"


def test_hub_repo_without_its_images_says_so(hub, v1_dir):
    text = small_text(v1_dir)
    hub.add("prism-test/textonly", dict(text))
    ds, info = load_users("hub:prism-test/textonly@main")
    assert info["revision"] == "main"
    counts = info["images"]
    assert counts["found"] == 0 and counts["missing"] == counts["referenced"] > 0
    assert sum(1 for _ in iter_users(ds)) == 4


def test_hub_repo_without_release_files_is_read_with_load_dataset(hub, v1_dir, monkeypatch):
    import datasets
    hub.add("prism-test/table", {"data/users.parquet": b"PAR1", "README.md": b"# x"})
    rows = v1_rows(v1_dir, 3)
    calls = []

    def fake_load_dataset(repo, revision=None, cache_dir=None):
        calls.append((repo, revision))
        return datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)})
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds, info = load_users("hub:prism-test/table")
    assert calls == [("prism-test/table", None)] and info["split"] == "train"
    users = list(iter_users(ds))
    assert [u.user_id for u in users] == ["person-001", "person-002", "person-003"]
    assert users[0].attributes["education"] == "PhD"


def test_a_repo_neither_reads_says_what_it_holds_and_why_datasets_failed(hub, monkeypatch):
    import datasets
    hub.add("prism-test/rar", {"release.rar": b"Rar!", "README.md": b"# x", "docs/a.pdf": b"%PDF"})

    def fake_load_dataset(repo, revision=None, cache_dir=None):
        return datasets.DatasetDict({"train": datasets.Dataset.from_list([{"pdf": "a.pdf"}])})
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    with pytest.raises(PrismError) as err:
        load_users("hub:prism-test/rar")
    message = str(err.value)
    assert "\n" not in message and "release.rar" in message and "pdf" in message


def test_bad_hub_spec_is_one_line():
    with pytest.raises(PrismError, match="expected hub:OWNER/NAME"):
        load_users("hub:just-a-name")


# ---------------------------------------------------------------- mapping a Dataset's columns

def v1_rows(v1_dir: Path, n: int) -> list[dict]:
    """One row per user, the v1 files' objects as columns (a repo's JSON-lines rendering)."""
    posts = json.loads((v1_dir / "posts.json").read_text())
    target = json.loads((v1_dir / "target.json").read_text())
    return [{"person": u, **posts[u], "target": target[u]} for u in list(posts)[:n]]


def _compare_with_release(records, v1_dir, n):
    expected = [r for _, r in zip(range(n), Release(v1_dir, load_images=False).records())]
    assert [r["user_id"] for r in records] == [r["user_id"] for r in expected]
    for got, want in zip(records, expected):
        assert got["attributes"] == want["attributes"]
        assert got["topics"] == want["topics"]
        assert [(p["post_id"], p["text"], p["image_ref"]) for p in got["posts"]] == \
            [(p["post_id"], p["text"], p["image_ref"]) for p in want["posts"]]


def test_json_rows_as_load_dataset_reads_them_map_onto_the_release(v1_dir, tmp_path):
    import datasets
    rows = v1_rows(v1_dir, 543)
    path = tmp_path / "users.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    ds = datasets.load_dataset("json", data_files=str(path), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert not is_prism_dataset(ds)
    mapped = as_prism(ds, source="users.jsonl")
    records = list(mapped.decode(False))
    assert len(records) == 543
    from prism_dataset.schema import decode_attributes
    for r in records:
        r["attributes"] = decode_attributes(r["attributes"])
    _compare_with_release(records, v1_dir, 543)


def test_attribute_columns_and_image_lists_are_mapped(v1_dir, tmp_path):
    import datasets

    from prism_core.attributes import from_v1
    text = small_text(v1_dir, 2)
    images = small_images(v1_dir, text)
    posts = json.loads(text["posts.json"])
    target = json.loads(text["target.json"])
    rows = []
    for u, e in posts.items():
        attrs = from_v1(target[u])
        rows.append({"user_id": u, "posts": list(e["posts"].values()),
                     "images": [{"bytes": images.get(r.removeprefix("./")), "path": None}
                                for r in e["img_urls"]], "img_urls": e["img_urls"],
                     **attrs})  # one column per canonical attribute
    features = datasets.Dataset.from_list(rows).features
    features["images"] = [datasets.Image()]
    ds = datasets.Dataset.from_list(rows, features=features)
    users = list(iter_users(from_dataset(ds, source="table")))
    assert [u.user_id for u in users] == ["person-001", "person-002"]
    assert users[0].attributes == from_v1(target["person-001"])
    assert [p.image for p in users[0].posts] == [images[r.removeprefix("./")]
                                                for r in posts["person-001"]["img_urls"]]


def test_prism_rows_pass_unchanged(v1_dir, tmp_path):
    from prism_dataset.builder import PrismBuilder
    builder = PrismBuilder(config_name="v1", data_dir=str(v1_dir), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    ds = builder.as_dataset(split="test")
    assert is_prism_dataset(ds) and as_prism(ds) is ds and from_dataset(ds) is ds


def test_an_imagefolder_dataset_names_the_missing_columns(v1_dir, tmp_path):
    import datasets
    text = small_text(v1_dir, 2)
    root = tmp_path / "repo"
    for path, data in layout("root", text, small_images(v1_dir, text)).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    ds = datasets.load_dataset(str(root), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.column_names == ["image"]  # what datasets infers from this layout
    with pytest.raises(SchemaError) as err:
        as_prism(ds, source="xaddh/multimodal-privacy")
    message = str(err.value)
    assert "\n" not in message and "column(s) ['image']" in message
    assert "missing a user id" in message and "posts" in message and "attributes" in message
    assert "hub:REPO" in message  # points at the reader that pairs images with the JSON files
    with pytest.raises(PrismError, match="not PRISM user records"):
        from_dataset(ds)
