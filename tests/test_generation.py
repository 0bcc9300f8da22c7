"""The generation workflow with the offline template backend and placeholder images."""
from __future__ import annotations

import datetime as dt
import io
import re
from types import SimpleNamespace

import pytest
from PIL import Image

from prism_core.knowledge import fold
from prism_core.knowledge.places import table as places_table
from prism_core.attributes import (
    COUNTRIES,
    EDUCATION_LEVELS,
    EYE_COLORS,
    HAIR_COLORS,
    HEALTH,
    HOBBIES,
    INCOME_BRACKETS,
    OCCUPATIONS,
    RELATIONSHIPS,
    RELIGIONS,
    SEXES,
    SHOPPING_HABITS,
    normalise,
    normalise_country,
    parse_income,
)
from prism_dataset.generation import generate_users
from prism_dataset.generation.events import HISTORY_END, HISTORY_MONTHS
from prism_dataset.generation.images import PlaceholderImages, get_image_backend
from prism_dataset.generation.phrases import (
    REVEAL_KEYS,
    implicit_group,
    load_phrasebook,
    mentions,
    reveal_value,
    surfaces,
)
from prism_dataset.generation.settings import GenerationError

N_USERS = 200


def config(**kw):
    base = dict(seed=0, prior="default", posts_per_user=3, text_backend="template",
                image_backend="placeholder", image_size=32, backend_options={})
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture(scope="module")
def users():
    return list(generate_users(config(), range(N_USERS)))


def _post(record, post_id):
    return next(p for p in record["posts"] if p["post_id"] == post_id)


def _value(record, key):
    return reveal_value(record["attributes"], key, None)


def _where(record, entry):
    post = _post(record, entry["post_id"])
    return post["text"] if entry["channel"] == "text" else post["caption"]


def test_explicit_leakage_appears_in_its_post_for_200_users(users):
    assert len(users) == N_USERS
    checked = 0
    for record in users:
        attrs = record["attributes"]
        for entry in record["leakage"]:
            if entry["mode"] != "explicit":
                continue
            key, where = entry["attribute"], _where(record, entry)
            if key == "hobbies":
                ok = any(mentions(where, key, h) for h in attrs["hobbies"])
            elif key == "location.travel_history":
                ok = any(mentions(where, key, c) for c in attrs["location"]["travel_history"])
            else:
                ok = mentions(where, key, _value(record, key))
            assert ok, (record["user_id"], entry, where)
            checked += 1
    assert checked > N_USERS  # several explicit reveals per user on average
    channels = {(e["channel"], e["mode"]) for r in users for e in r["leakage"]}
    assert channels == {("text", "explicit"), ("text", "implicit"), ("image", "explicit"),
                        ("image", "implicit")}
    keys = {e["attribute"] for r in users for e in r["leakage"]}
    assert keys == set(REVEAL_KEYS)


def test_implicit_leakage_does_not_state_the_value(users):
    for record in users:
        attrs = record["attributes"]
        for entry in record["leakage"]:
            if entry["mode"] != "implicit":
                continue
            key, where = entry["attribute"], _where(record, entry)
            if key == "hobbies":
                values = attrs["hobbies"]
            elif key == "location.travel_history":
                values = attrs["location"]["travel_history"]
            else:
                values = [_value(record, key)]
            for v in values:
                explicit_too = any(e["attribute"] == key and e["post_id"] == entry["post_id"]
                                   and e["mode"] == "explicit" for e in record["leakage"])
                assert explicit_too or not mentions(where, key, v), (record["user_id"], entry,
                                                                     where)


def _domains():
    yield "age", range(15, 76)
    yield "sex", SEXES
    yield "education", EDUCATION_LEVELS
    yield "occupation", OCCUPATIONS + ["student", "retired"]
    yield "income", [parse_income(b) for b in INCOME_BRACKETS]
    yield "relationship", RELATIONSHIPS
    yield "location.place_of_birth", COUNTRIES
    yield "location.travel_history", COUNTRIES
    yield "appearance.height_cm", range(135, 211)
    yield "appearance.weight_kg", range(38, 181)
    yield "appearance.hair_color", HAIR_COLORS
    yield "appearance.eye_color", EYE_COLORS
    yield "shopping_habits", SHOPPING_HABITS
    yield "hobbies", HOBBIES
    yield "health", HEALTH
    yield "religion", RELIGIONS


def _read_back(key, surface):
    attr, _, part = key.partition(".")
    if key == "income":
        parsed = parse_income(surface)
        return {"min": parsed["min"], "max": parsed["max"]}
    if key.startswith("location."):
        return normalise_country(surface)
    if attr == "appearance":
        return normalise("appearance", {part: surface})[part]
    if key == "hobbies":
        return normalise("hobbies", [surface])[0]
    return normalise(key, surface)


def test_every_surface_form_normalises_back_to_its_value():
    for key, values in _domains():
        for value in values:
            expected = {"min": value["min"], "max": value["max"]} if key == "income" else value
            for surface in surfaces(key, value):
                assert _read_back(key, surface) == expected, (key, value, surface)


def test_phrase_bank_templates_are_consistent():
    book = load_phrasebook()
    for section in ("text", "image"):
        for key, modes in book.data[section].items():
            assert key in REVEAL_KEYS, key
            for mode, rows in modes.items():
                for row, templates in rows.items():
                    for t in templates:
                        has_value = "{v}" in t or "{a_v}" in t
                        if mode == "explicit":  # the value as a slot, or written out
                            assert has_value or mentions(t, key, row), (section, key, row, t)
                        else:
                            assert not has_value, (section, key, row, t)
    assert sorted(book.countries) == sorted(COUNTRIES)
    names = places_table()["names"]  # country names and demonyms, in every language known
    for country, cues in book.countries.items():
        for cue in cues.values():  # no country name or demonym in a cue
            words = fold(cue).split()
            spans = {" ".join(words[i:j]) for i in range(len(words))
                     for j in range(i + 1, min(len(words), i + 4) + 1)}
            assert not spans & set(names), (country, cue, spans & set(names))
    # implicit cues of closed categories match no alias of their own value
    for key in ("sex", "education", "relationship", "health", "religion"):
        for row, templates in book.data["text"][key]["implicit"].items():
            for t in templates:
                assert not mentions(t, key, row), (key, row, t)


def test_every_profile_value_has_text_in_both_modes():
    book = load_phrasebook()
    profile = {"sex": "female", "appearance": {"height_cm": 165}}
    for key, values in _domains():
        for value in values:
            for mode in ("explicit", "implicit"):
                assert book.available("text", key, mode, value, profile), (key, value, mode)
    assert implicit_group("age", 16, profile) == "15-17"


def test_events_are_a_dated_history_consistent_with_the_profile(users):
    start = HISTORY_END - dt.timedelta(days=int(HISTORY_MONTHS * 30.44))
    for record in users[:50]:
        attrs = record["attributes"]
        stamps = [p["timestamp"] for p in record["posts"]]
        assert stamps == sorted(stamps)
        for post in record["posts"]:
            day = dt.date.fromisoformat(post["timestamp"][:10])
            assert start <= day <= HISTORY_END
            assert post["event"]
            m = re.match(r"Turned (\d+)\.", post["event"])
            if m:
                assert int(m.group(1)) == attrs["age"]
            m = re.match(r"Trip to (?:the )?(.+)\.", post["event"])
            if m:
                assert m.group(1) in attrs["location"]["travel_history"]


def test_events_stage_plans_6_to_12_events():
    from prism_dataset.generation.settings import GenerationSettings
    from prism_dataset.generation.workflow import Generator
    gen = Generator(GenerationSettings(image_backend="none"))
    drafts = gen.generate_chunk(list(range(30)))
    for d in drafts:
        assert d.error is None
        assert 6 <= len(d.events) <= 12
        assert all(e["description"] for e in d.events)
        faith = [e for e in d.events if e["kind"] == "faith"]
        for e in faith:
            assert e["facts"]["religion"] == d.profile["religion"]


def test_records_fit_the_schema_and_carry_provenance(users):
    from datasets import Features

    from prism_dataset.schema import user_features
    features = Features(user_features())
    record = users[0]
    features.encode_example(record)
    assert record["user_id"] == "s0-u000000"
    prov = record["provenance"]
    assert prov["source"] == "synthetic" and prov["seed"] == 0
    assert prov["text_backend"] == "template" and prov["image_backend"] == "placeholder"
    assert prov["prior"].startswith("default@sha256:") and prov["version"]
    assert 4 <= len(record["topics"]) <= 6
    assert all(len(t["titles"]) == 3 for t in record["topics"])
    for post in record["posts"]:
        image = Image.open(io.BytesIO(post["image"]["bytes"]))
        assert image.size == (32, 32) and image.format == "PNG"


def test_a_user_is_the_same_whatever_chunk_makes_it(users):
    alone = list(generate_users(config(), [7, 3]))
    assert alone == [users[7], users[3]]
    again = list(generate_users(config(), range(5)))
    assert again == users[:5]
    other_seed = list(generate_users(config(seed=1), range(5)))
    assert [r["attributes"] for r in other_seed] != [r["attributes"] for r in users[:5]]


def test_wording_varies_and_posts_per_user_is_honoured():
    records = list(generate_users(config(posts_per_user=5, image_backend="none"), range(40)))
    assert all(len(r["posts"]) == 5 for r in records)
    assert all(p["image"] is None and p["image_ref"] is None for r in records for p in r["posts"])
    # no image channel without images
    assert all(e["channel"] == "text" for r in records for e in r["leakage"])
    texts = [p["text"] for r in records for p in r["posts"]]
    assert len(set(texts)) == len(texts)


def test_placeholder_images_are_deterministic_labelled_scenes():
    backend = PlaceholderImages(64)
    caption = "A travel snapshot: a selfie showing red hair; a travel photo of Mount Fuji."
    a, b = backend.render(caption, 5), backend.render(caption, 5)
    assert a == b and a != backend.render(caption, 6)
    image = Image.open(io.BytesIO(a)).convert("RGB")
    assert image.size == (64, 64)
    assert image.getpixel((2, 62)) == (255, 255, 255)   # the caption's label band
    assert len(a) < 20_000


def test_bad_options_are_rejected_with_the_option_named():
    with pytest.raises(GenerationError, match="image_backend"):
        list(generate_users(config(image_backend="dalle"), range(1)))
    with pytest.raises(GenerationError, match="posts_per_user"):
        list(generate_users(config(posts_per_user=0), range(1)))
    with pytest.raises(GenerationError, match="backend_options"):
        list(generate_users(config(backend_options={"temperature": 1}), range(1)))
    with pytest.raises(GenerationError, match="image_model"):
        get_image_backend("diffusers", None)
