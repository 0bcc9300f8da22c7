"""Properties of scoring on all 543 v1 users: truth scores 1, nothing scores 0, scores stay in [0, 1]."""
from __future__ import annotations

import json
import random

import pytest

from prism_core.attributes import (
    ATTRIBUTE_KEYS,
    ATTRIBUTES,
    COUNTRIES,
    EDUCATION_LEVELS,
    HOBBIES,
    INCOME_BRACKETS,
    from_v1,
)
from prism_core.prediction import empty_prediction, truth_as_prediction
from prism_eval.scoring import SUBFIELDS, aggregate, score_user


@pytest.fixture(scope="module")
def users(v1_dir):
    target = json.loads((v1_dir / "target.json").read_text("utf-8"))
    out = [from_v1(entry) for entry in target.values()]
    assert len(out) == 543
    return out


def _values(score):
    """Every number a user score holds (overall, per attribute, per sub-score)."""
    yield score["top1"]
    yield score["top3"]
    yield score["coverage"]
    yield score["parse_failure_rate"]
    for a in score["attributes"].values():
        yield a["top1"]
        yield a["top3"]
        for sub in a.get("subscores", {}).values():
            yield from (v for v in sub.values() if v is not None)


def test_truth_as_prediction_scores_one_everywhere(users):
    for user in users:
        score = score_user(truth_as_prediction(user), user)
        assert score["n_attributes"] == 12 and score["coverage"] == 1.0
        assert all(v == 1.0 for k, v in score.items() if k in ("top1", "top3", "coverage"))
        for key, a in score["attributes"].items():
            assert (a["top1"], a["top3"], a["less_precise"], a["unreadable"]) == (1.0, 1.0, False, 0), key
            for sub in a.get("subscores", {}).values():
                assert sub == {"top1": 1.0, "top3": 1.0}, key
    summary = aggregate([score_user(truth_as_prediction(u), u) for u in users])
    assert summary["top1"] == summary["top3"] == summary["coverage"] == 1.0
    assert summary["parse_failure_rate"] == 0.0 and summary["n_users"] == 543


def test_truth_in_v1_spelling_and_json_scores_one(users, v1_dir):
    target = json.loads((v1_dir / "target.json").read_text("utf-8"))
    for user, entry in zip(users, target.values()):
        assert score_user(json.dumps(truth_as_prediction(user)), entry)["top1"] == 1.0


def test_empty_prediction_scores_zero(users):
    for user in users:
        score = score_user(empty_prediction(), user)
        assert score["top1"] == score["top3"] == score["coverage"] == 0.0
        assert not any(a["answered"] for a in score["attributes"].values())
    summary = aggregate([score_user({}, u) for u in users])
    assert summary["top1"] == 0.0 and summary["coverage"] == 0.0


def _random_guess(rng: random.Random, key: str):
    """A plausible, implausible or ill-typed guess for ``key``."""
    junk = rng.choice([None, True, 3.5, -7, "", "unknown", ["nested", 1], {"x": 1}, "😀" * 3])
    roll = rng.random()
    if roll < 0.15:
        return junk
    if key == "age":
        return rng.choice([rng.randint(0, 110), f"{rng.randint(10, 80)} years", "late 30s", "30-40"])
    if key == "income":
        return rng.choice([*INCOME_BRACKETS, rng.randint(0, 400000), "50k to 70k", "over 200k"])
    if key == "location":
        pob = rng.choice([*COUNTRIES, "Atlantis", "born in Paris"])
        if rng.random() < 0.3:
            return pob
        return {"place_of_birth": pob,
                "travel_history": rng.sample(COUNTRIES, rng.randint(0, 6)) + [junk] * (roll < .3)}
    if key == "appearance":
        return {"height": rng.choice([rng.randint(120, 220), "5'9\"", "1.7 m", junk]),
                "weight_kg": rng.choice([rng.randint(30, 150), "150 lbs", junk]),
                "hair_color": rng.choice(["black", "Blond", "grey", junk]),
                "eye_color": rng.choice(["brown", "blue", "hazel", junk])}
    if key == "hobbies":
        return rng.choice([*HOBBIES, ", ".join(rng.sample(HOBBIES, 3)), rng.sample(HOBBIES, 2)])
    values = ATTRIBUTES[key].values
    return rng.choice([*values, str(rng.choice(values)).upper(), "something else"])


def random_prediction(rng: random.Random) -> dict:
    pred = empty_prediction()
    for key in ATTRIBUTE_KEYS:
        if rng.random() < 0.1:
            pred["parse_failures"][key] = "no value"
            continue
        if rng.random() < 0.1:
            continue
        guesses = [_random_guess(rng, key) for _ in range(rng.randint(0, 5))]
        pred["attributes"][key] = {"guesses": guesses, "confidence": rng.random(), "evidence": []}
    return pred


def test_random_predictions_stay_in_unit_interval(users):
    rng = random.Random(1234)
    scores = []
    for user in users:
        score = score_user(random_prediction(rng), user)
        for value in _values(score):
            assert 0.0 <= value <= 1.0, score
        for a in score["attributes"].values():
            assert a["top1"] <= a["top3"] or a is score["attributes"]["hobbies"]
        scores.append(score)
    summary = aggregate(scores)
    for key, a in summary["attributes"].items():
        for field in ("top1", "top3", "top1_answered", "less_precise", "coverage",
                      "parse_failure_rate"):
            assert a[field] is None or 0.0 <= a[field] <= 1.0, (key, field)
        for sub in a.get("subscores", {}).values():
            assert 0.0 <= sub["top1"] <= sub["top3"] <= 1.0
    assert 0 < summary["coverage"] < 1 and 0 < summary["parse_failure_rate"] < 1
    assert summary["unreadable"] > 0


def test_education_partial_credit_is_symmetric(users):
    for user in users[:50]:
        level = EDUCATION_LEVELS.index(user["education"])
        for other, expected in ((level - 1, .5), (level + 1, .5), (level + 2, 0.0)):
            if 0 <= other < len(EDUCATION_LEVELS):
                score = score_user({"education": EDUCATION_LEVELS[other]}, user)
                assert score["attributes"]["education"]["top1"] == expected


def test_shuffled_predictions_score_near_chance(users):
    shuffled = users[:]
    random.Random(0).shuffle(shuffled)
    summary = aggregate([score_user(truth_as_prediction(p), u) for p, u in zip(shuffled, users)])
    assert 0.1 < summary["top1"] < 0.35
    assert 0.4 < summary["attributes"]["sex"]["top1"] < 0.6
    for key in SUBFIELDS:
        assert set(summary["attributes"][key]["subscores"]) == set(SUBFIELDS[key])
