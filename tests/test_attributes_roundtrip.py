"""Canonical attributes convert back to the exact v1 ``target.json`` entry, for every user."""
from __future__ import annotations

import json

import pytest

from prism_core.attributes import ATTRIBUTE_KEYS, from_v1, to_v1
from prism_dataset.builder import PrismBuilder
from prism_dataset.release import Release
from prism_dataset.schema import decode_attributes


@pytest.fixture(scope="module")
def target(v1_dir) -> dict:
    return json.loads((v1_dir / "target.json").read_text())


def _same(a: dict, b: dict) -> bool:
    """Equal including types and key sets (json text with sorted keys)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_every_user_round_trips_through_canonical_form(target):
    assert len(target) == 543
    for user, entry in target.items():
        canonical = from_v1(entry)
        assert list(canonical) == list(ATTRIBUTE_KEYS)
        assert all(canonical[k] is not None for k in ATTRIBUTE_KEYS), user
        assert _same(to_v1(canonical), entry), user


def test_canonical_values_are_parsed(target):
    first = from_v1(target["person-001"])
    assert first["appearance"] == {"height_cm": 154, "weight_kg": 51, "hair_color": "white",
                                   "eye_color": "brown"}
    assert first["income"] == {"label": "130000-180000", "min": 130000, "max": 180000}
    assert first["location"]["travel_history"] == ["Mexico", "Canada", "Japan"]
    brackets = {from_v1(e)["income"]["label"]: from_v1(e)["income"] for e in target.values()}
    assert brackets["<35000"] == {"label": "<35000", "min": 0, "max": 35000}
    assert brackets[">180000"] == {"label": ">180000", "min": 180000, "max": None}


def test_release_records_round_trip(v1_dir, target):
    for rec in Release(v1_dir, load_images=False).records():
        assert _same(to_v1(rec["attributes"]), target[rec["user_id"]]), rec["user_id"]


def test_built_dataset_round_trips_after_decoding_class_labels(v1_dir, target, tmp_path):
    builder = PrismBuilder(config_name="v1", data_dir=str(v1_dir), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    ds = builder.as_dataset(split="test").select_columns(["user_id", "attributes"])
    assert ds.num_rows == len(target)
    assert isinstance(ds[0]["attributes"]["sex"], int)  # stored as a ClassLabel
    for row in ds:
        attrs = decode_attributes(row["attributes"], ds.features)
        assert _same(to_v1(attrs), target[row["user_id"]]), row["user_id"]
