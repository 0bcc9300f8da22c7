"""The one attribute-knowledge table: generated places are current, and every spelling the parser
accepts scores the same through score_user, the evaluate metric and a real `evaluate` run."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from one_user import TRUTH

from prism_core.attributes import (
    ATTRIBUTES,
    SUBFIELDS,
    V1_KEYS,
    key_of,
    normalise,
    subfield_of,
)
from prism_core.backends.dummy import DummyBackend
from prism_core.knowledge import VOCAB, fold
from prism_core.knowledge.places import read_place, table
from prism_eval.parsing import parse_output
from prism_eval.runner import evaluate, read_results
from prism_eval.scoring import score_user

#: A guess that is right for TRUTH, per attribute (as a model writes it).
RIGHT = {"age": "34", "sex": "female", "education": "BSc", "occupation": "nurse",
         "income": "$60,000", "relationship": "married",
         "location": {"birthplace": "Japan", "countries visited": "France and Mexico"},
         "appearance": {"height": "170 cm", "weight": "60 kg", "hair": "brown", "eyes": "blue"},
         "shopping_habits": "buys in bulk", "hobbies": "yoga", "health": "asthma",
         "religion": "Muslim"}
_VALUE_TABLES = {"sex": VOCAB["sex"], "education": VOCAB["education"]["levels"],
                 "occupation": VOCAB["occupation"]["options"],
                 "relationship": VOCAB["relationship"]["states"],
                 "religion": VOCAB["religion"]["values"], "hobbies": VOCAB["hobbies"],
                 "shopping_habits": VOCAB["shopping_habits"],
                 "health": {**VOCAB["health"]["conditions"], **VOCAB["health"]["states"]}}


def _truth_for(key: str, value: str) -> dict:
    """TRUTH with attribute ``key`` set to the table value ``value`` (when the benchmark has it)."""
    truth = dict(TRUTH)
    if key == "hobbies":
        truth[key] = [value] if value in ATTRIBUTES["hobbies"].values else ["yoga"]
    elif value in ATTRIBUTES[key].values or not ATTRIBUTES[key].closed:
        truth[key] = value
    return truth


def spelling_cases() -> list[tuple[str, dict, str, str | None]]:
    """(case id, truth, model answer text, the attribute that must score 1 or None) for every
    attribute-key spelling, sub-field spelling and value alias in the knowledge table."""
    cases = []
    for key, spec in VOCAB["attributes"].items():
        for name in dict.fromkeys([key, spec["code"], spec["v1_key"], *spec["names"]]):
            answer = {name: RIGHT[key]}
            cases.append((f"key:{key}:{name}", TRUTH, json.dumps(answer), key))
    for key, subs in VOCAB["subfields"].items():
        for sub, spec in subs.items():
            right = {"place_of_birth": "Japan", "travel_history": ["France", "Mexico"],
                     "height_cm": "170 cm", "weight_kg": "60 kg", "hair_color": "brown",
                     "eye_color": "blue"}[sub]
            for name in dict.fromkeys([sub, spec["v1_key"], *spec["names"]]):
                nested = {key: {name: right}}
                cases.append((f"sub:{key}.{sub}:{name}", TRUTH, json.dumps(nested), None))
                cases.append((f"flat:{key}.{sub}:{name}", TRUTH, json.dumps({name: right}), None))
    for key, table_ in _VALUE_TABLES.items():
        for value, aliases in table_.items():
            for alias in dict.fromkeys([value, *(aliases or [])]):
                truth = _truth_for(key, value)
                expect = key if truth[key] == value or (key == "hobbies" and
                                                        truth[key] == [value]) else None
                cases.append((f"value:{key}:{alias}", truth, json.dumps({key: str(alias)}),
                              expect))
    for label, words in VOCAB["income"]["levels"].items():
        for word in words:
            cases.append((f"value:income:{word}", TRUTH, json.dumps({"income": word}), None))
    return cases


CASES = spelling_cases()


def test_the_table_is_walked_whole():
    assert len(CASES) > 900
    keys = {c[0].split(":")[1].split(".")[0] for c in CASES}
    assert keys == set(ATTRIBUTES)


def test_every_key_spelling_is_read():
    for key, spec in VOCAB["attributes"].items():
        for name in [key, spec["code"], spec["v1_key"], *spec["names"]]:
            assert key_of(name) == key, name
            assert key_of(name.upper()) == key and key_of(f"**{name}**") == key
    for key, subs in VOCAB["subfields"].items():
        for sub, spec in subs.items():
            for name in [sub, spec["v1_key"], *spec["names"]]:
                assert subfield_of(name) == (key, sub), name
    assert set(V1_KEYS.values()) == set(ATTRIBUTES) and set(SUBFIELDS) == {"location", "appearance"}


def test_every_spelling_scores_the_same_on_every_path(metric):
    chain, as_text, as_object = [], [], []
    for case_id, truth, text, expect in CASES:
        parsed = parse_output(text).prediction          # what the chain stores
        s_chain = score_user(parsed, truth)
        s_text = score_user(text, truth)                # prism score / the metric on text
        s_obj = score_user(json.loads(text), truth)     # the metric on dicts
        assert s_chain["attributes"] == s_text["attributes"] == s_obj["attributes"], case_id
        if expect is not None:
            assert s_text["attributes"][expect]["top1"] == 1.0, (case_id, s_text["attributes"][expect])
        chain.append(s_chain)
        as_text.append(s_text)
        as_object.append(s_obj)
    # the evaluate module, on text and on objects, per user
    for predictions, expected in (([c[2] for c in CASES], as_text),
                                  ([json.loads(c[2]) for c in CASES], as_object)):
        got = metric.compute(predictions=predictions, references=[c[1] for c in CASES],
                             return_per_user=True)["per_user"]
        assert [g["attributes"] for g in got] == [e["attributes"] for e in expected]


def test_every_spelling_scores_the_same_through_a_real_run(tmp_path):
    rows = [{"user_id": f"u{i}", "posts": [{"post_id": "post1", "text": f"post number {i}"}],
             "attributes": c[1]} for i, c in enumerate(CASES)]
    answers = {f"u{i}": c[2] for i, c in enumerate(CASES)}
    backend = DummyBackend(responses=lambda r: answers[r.tags["user_id"]])
    evaluate(rows, {"text": backend, "image": backend, "synthesis": backend}, tmp_path,
             variant="single", progress=False)
    records = {r["user_id"]: r for r in read_results(tmp_path)}
    assert len(records) == len(CASES)
    for i, (case_id, truth, text, _) in enumerate(CASES):
        assert records[f"u{i}"]["scores"]["attributes"] == score_user(text, truth)["attributes"], \
            case_id


def test_reading_is_idempotent_on_the_table():
    for key, table_ in _VALUE_TABLES.items():
        for value, aliases in table_.items():
            for alias in [value, *(aliases or [])]:
                once = normalise(key, str(alias) if key != "hobbies" else [str(alias)])
                assert normalise(key, once) == once, (key, alias, once)


@pytest.mark.parametrize("text,country", [
    ("Albuquerque, New Mexico, USA", "USA"), ("Paris, Texas", "USA"), ("Helsinki, Finland", "Finland"),
    ("Poland", "Poland"), ("the Netherlands", "Netherlands"), ("Atlanta, Georgia", "USA"),
    ("Tbilisi, Georgia", "Georgia"), ("Deutschland", "Germany"), ("España", "Spain"),
    ("中国", "China"), ("Suomi", "Finland"), ("Allemagne", "Germany"), ("Brazill", "Brazil"),
    ("born in the US", "USA"), ("rural New Mexico", "USA"), ("Papua New Guinea", "Papua New Guinea"),
    ("Niger", "Niger"), ("Nigeria", "Nigeria"), ("Lagos", "Nigeria"), ("London, Ontario", "Canada"),
])
def test_places_read_as_city_region_country(text, country):
    assert read_place(text).country == country


def test_regions_are_read_as_regions():
    assert "Norway" in read_place("Scandinavia").region and read_place("Europe").is_region
    assert read_place("a small coastal town") is None


def test_every_v1_country_is_its_own_canonical_name():
    names = table()["names"]
    for country in ATTRIBUTES["location"].values:
        assert names[fold(country)] == country and read_place(country).country == country


def test_the_places_table_is_what_its_sources_make():
    proc = subprocess.run([sys.executable, "-m", "prism_core.knowledge.build_places", "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def metric():
    import evaluate as hf_evaluate

    from prism_eval.metrics import metric_path
    return hf_evaluate.load(metric_path())
