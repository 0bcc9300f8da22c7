"""The `synthetic` builder config: offline build, num_proc determinism, lazy streaming."""
from __future__ import annotations

import pytest

from prism_dataset.builder import PrismBuilder
from prism_dataset.schema import decode_attributes


def _rows(builder) -> list[dict]:
    ds = builder.as_dataset(split="train")
    return ds.with_format("arrow")[:].to_pylist()  # raw rows: image bytes, ClassLabel ints


@pytest.fixture(scope="module")
def build_one(tmp_path_factory):
    builder = PrismBuilder(config_name="synthetic", n_users=200, seed=0,
                           cache_dir=str(tmp_path_factory.mktemp("one")))
    builder.download_and_prepare()
    return builder


def test_200_users_build_offline_and_num_proc_2_equals_num_proc_1(build_one, tmp_path):
    two = PrismBuilder(config_name="synthetic", n_users=200, seed=0, cache_dir=str(tmp_path))
    two.download_and_prepare(num_proc=2)
    rows1, rows2 = _rows(build_one), _rows(two)
    assert len(rows1) == 200
    assert rows1 == rows2                       # every field, image bytes included
    assert [r["user_id"] for r in rows1] == [f"s0-u{i:06d}" for i in range(200)]
    images = [p["image"]["bytes"] for r in rows1 for p in r["posts"]]
    assert len(images) == 600 and all(b and b[:8] == b"\x89PNG\r\n\x1a\n" for b in images)


def test_built_rows_decode_to_canonical_attributes(build_one):
    ds = build_one.as_dataset(split="train")
    row = ds[0]
    attrs = decode_attributes(row["attributes"], ds.features)
    assert attrs["sex"] in ("male", "female") and isinstance(attrs["age"], int)
    assert row["provenance"]["source"] == "synthetic"
    assert row["posts"][0]["image"].size == (256, 256)   # decoded PIL image, default size
    assert ds.info.config_name == "synthetic"


def test_streaming_yields_the_first_user_without_generating_the_rest(monkeypatch, tmp_path):
    from prism_dataset.generation import workflow
    made = []
    real = workflow.profile_stage

    def counting(prior, settings, index):
        made.append(index)
        return real(prior, settings, index)

    monkeypatch.setattr(workflow, "profile_stage", counting)
    builder = PrismBuilder(config_name="synthetic", n_users=1000, seed=0, image_size=32,
                           cache_dir=str(tmp_path))
    stream = builder.as_streaming_dataset(split="train")
    first = next(iter(stream))
    assert first["user_id"] == "s0-u000000"
    assert made == [0]
    rows = list(stream.take(3))
    assert [r["user_id"] for r in rows] == ["s0-u000000", "s0-u000001", "s0-u000002"]


def test_streaming_and_built_rows_agree(build_one, tmp_path):
    stream = PrismBuilder(config_name="synthetic", n_users=200, seed=0,
                          cache_dir=str(tmp_path)).as_streaming_dataset(split="train")
    streamed = list(stream.take(2))
    built = build_one.as_dataset(split="train").select(range(2))
    for s, b in zip(streamed, built):
        assert s["user_id"] == b["user_id"] and s["attributes"] == b["attributes"]
        assert [p["text"] for p in s["posts"]] == [p["text"] for p in b["posts"]]
        assert s["leakage"] == b["leakage"]


def test_config_options_reach_the_generator(tmp_path):
    builder = PrismBuilder(config_name="synthetic", n_users=3, seed=5, posts_per_user=2,
                           image_backend="none", prior="v1", cache_dir=str(tmp_path))
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train")
    assert len(ds) == 3 and all(len(r["posts"]) == 2 for r in ds)
    assert ds[0]["provenance"]["prior"].startswith("v1@") and ds[0]["provenance"]["seed"] == 5
    assert all(p["image"] is None for r in ds for p in r["posts"])
