"""Priors: the shipped tables, the seeded sampler, coherence, v1 fidelity and validation errors."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from prism_dataset.priors import (
    Prior,
    PriorError,
    compare,
    load_prior,
    prior_names,
    user_rng,
)
from prism_dataset.priors.prior import PRIOR_DIR, VARIABLES, flatten


def _spec(name: str) -> dict:
    return yaml.safe_load((PRIOR_DIR / f"{name}.yaml").read_text())


def test_shipped_priors_load():
    assert {"default", "v1"} <= set(prior_names())
    default, v1 = load_prior("default"), load_prior("v1")
    assert default.name == "default" and len(default.constraints) >= 10
    assert v1.name == "v1" and not v1.constraints
    assert load_prior(PRIOR_DIR / "default.yaml").sha256 == default.sha256
    # default.yaml names its sources and says they are approximate
    text = (PRIOR_DIR / "default.yaml").read_text()
    assert "APPROXIMATION" in text and len(default.sources) >= 8
    for needle in ("World Population Prospects", "OECD", "WHO", "Pew"):
        assert needle in text


def test_same_seed_same_profiles_in_any_order():
    prior = load_prior("default")
    forward = [json.dumps(prior.sample(7, i), sort_keys=True) for i in range(300)]
    fresh = Prior(_spec("default"), "default-copy")   # a new sampler without memoised tables
    backward = [json.dumps(fresh.sample(7, i), sort_keys=True) for i in reversed(range(300))]
    assert forward == backward[::-1]
    other_seed = [json.dumps(prior.sample(8, i), sort_keys=True) for i in range(300)]
    assert sum(a != b for a, b in zip(forward, other_seed)) > 250


def test_profiles_fit_the_dataset_schema():
    from datasets import Features

    from prism_dataset.schema import user_features
    features = Features(user_features()["attributes"])
    for name in ("default", "v1"):
        prior = load_prior(name)
        for i in range(300):
            attrs = prior.sample(0, i)
            encoded = features.encode_example(attrs)    # ClassLabel names must be known
            assert isinstance(encoded["education"], int)
            assert 15 <= attrs["age"] <= 75
            assert attrs["location"]["place_of_birth"] not in attrs["location"]["travel_history"]
            assert len(set(attrs["hobbies"])) == len(attrs["hobbies"])
            assert flatten(attrs)["income"] == attrs["income"]["label"]


def test_default_prior_10000_profiles_have_no_violations_or_v1_incoherences():
    prior = load_prior("default")
    profiles = [prior.sample_values(user_rng(0, i)) for i in range(10_000)]
    assert sum(len(prior.violations(p)) for p in profiles) == 0
    n, counts = compare.incoherences(profiles)
    assert n == 10_000 and counts == [0, 0, 0]
    # the tables make the profiles coherent beyond the hard rules
    old = [p for p in profiles if p["age"] >= 65]
    young = [p for p in profiles if p["age"] <= 24]
    share = lambda ps, f: sum(map(f, ps)) / len(ps)  # noqa: E731
    assert share(old, lambda p: p["hair_color"] in ("gray", "white")) > 0.6
    assert share(young, lambda p: p["hair_color"] in ("gray", "white")) == 0
    assert share(old, lambda p: p["relationship"] == "widowed") > 0.15
    assert share(young, lambda p: p["occupation"] == "student") > 0.3
    men = [p["height_cm"] for p in profiles if p["sex"] == "male"]
    women = [p["height_cm"] for p in profiles if p["sex"] == "female"]
    assert sum(men) / len(men) - sum(women) / len(women) > 8
    assoc = compare.association_table(profiles[:4000], ["age", "occupation", "place_of_birth",
                                                         "religion", "sex", "height_cm"])
    assert assoc[("place_of_birth", "religion")] > 0.4 and assoc[("age", "occupation")] > 0.3


def test_v1_prior_reproduces_the_release_marginals(v1_dir):
    release = compare.release_profiles(v1_dir)
    assert len(release) == 543
    _, counts = compare.incoherences(release)
    assert counts == [27, 29, 30]          # the numbers quoted in the issue
    prior = load_prior("v1")
    sampled = [prior.sample_values(user_rng(0, i)) for i in range(10_000)]
    ref, got = compare.marginals(release), compare.marginals(sampled)
    distances = {k: compare.tvd(ref[k], got[k]) for k in ref}
    assert set(distances) >= set(VARIABLES)
    assert max(distances.values()) <= 0.05, distances


def test_v1_yaml_is_the_fit_of_the_release(v1_dir):
    release = compare.release_profiles(v1_dir)
    fitted = yaml.safe_load(compare.fit_independent(release, "v1", "d", "s"))
    assert fitted["variables"] == _spec("v1")["variables"]


# ---------------------------------------------------------------- validation


def _error(spec: dict) -> str:
    with pytest.raises(PriorError) as info:
        Prior(spec, "bad.yaml")
    return str(info.value)


def test_row_not_summing_to_one_names_table_and_row():
    spec = _spec("default")
    spec["variables"]["education"]["table"]["25-34"]["PhD"] = 0.2
    msg = _error(spec)
    assert "bad.yaml" in msg and "table 'education'" in msg and "row '25-34'" in msg
    assert "sum to 1.18" in msg


def test_nested_row_is_named_with_its_path():
    spec = _spec("default")
    spec["variables"]["income"]["table"]["student"]["*"]["<35000"] = 0.5
    msg = _error(spec)
    assert "table 'income'" in msg and "row 'student / *'" in msg


def test_unknown_attribute_and_unknown_values():
    spec = _spec("default")
    spec["variables"]["educaton"] = spec["variables"].pop("education")
    msg = _error(spec)
    assert "unknown attribute 'educaton'" in msg and "did you mean 'education'" in msg

    spec = _spec("default")
    row = spec["variables"]["relationship"]["table"]["25-34"]
    row["engaged-ish"] = row.pop("widowed")
    msg = _error(spec)
    assert "table 'relationship'" in msg and "engaged-ish" in msg

    spec = _spec("default")
    spec["variables"]["health"]["table"]["15-24"]["healthy"] = spec["variables"]["health"][
        "table"]["15-24"].pop("good")
    assert "not canonical (write 'good')" in _error(spec)

    spec = _spec("default")
    spec["variables"]["education"]["table"]["25-34"]["Bachelors"] = 0.0
    assert "row '25-34'" in _error(spec)


def test_missing_rows_overlaps_cycles_and_missing_attributes():
    spec = _spec("default")
    del spec["variables"]["relationship"]["table"]["65-75"]
    msg = _error(spec)
    assert "table 'relationship'" in msg and "no row for age=65" in msg

    spec = _spec("default")
    spec["variables"]["relationship"]["table"]["60-70"] = {"married": 1.0}
    assert "overlap" in _error(spec)

    spec = _spec("default")
    spec["variables"]["sex"] = {"given": "height_cm", "table": {"*": {"male": .5, "female": .5}}}
    assert "circular" in _error(spec)

    spec = _spec("default")
    del spec["variables"]["hobbies"]
    assert "missing attribute(s) ['hobbies']" in _error(spec)


def test_contradictory_constraints_are_rejected():
    spec = _spec("default")
    spec["constraints"] += [
        {"name": "minors are students", "if": {"age": {"max": 17}},
         "then": {"occupation": "student"}},
        {"name": "minors never study", "if": {"age": {"max": 17}},
         "then": {"occupation": {"not": "student"}}},
    ]
    msg = _error(spec)
    assert "contradictory" in msg and "'minors are students'" in msg and "'minors never study'" in msg
    assert "table 'occupation'" in msg and "age=15" in msg

    spec = _spec("default")
    spec["constraints"].append({"name": "no PhD at all before 80", "if": {"education": "PhD"},
                                "then": {"age": {"min": 80}}})
    msg = _error(spec)
    assert "education='PhD'" in msg and "never allow" in msg


def test_constraint_that_empties_a_row_fails_when_sampling():
    spec = _spec("default")
    # every 15-17 year old would have to be a chef, but the 18-24 tables are fine: the prior
    # loads, then drawing a minor whose education row forbids chefs reports the row
    spec["variables"]["occupation"]["table"]["15-17"]["*"] = {"student": 1.0}
    spec["constraints"].append({"name": "minors cook", "if": {"age": {"max": 17}},
                                "then": {"occupation": "chef"}})
    prior = Prior(spec, "bad.yaml")
    with pytest.raises(PriorError) as info:
        for i in range(200):
            prior.sample(0, i)
    msg = str(info.value)
    assert "table 'occupation'" in msg and "row '15-17 / *'" in msg and "minors cook" in msg


def test_copy_of_default_is_independent_of_the_cache():
    spec = copy.deepcopy(_spec("default"))
    spec["name"] = "mine"
    prior = Prior(spec, "mine.yaml")
    assert prior.label.startswith("mine@sha256:")
    assert prior.sample(0, 0) == load_prior("default").sample(0, 0)
