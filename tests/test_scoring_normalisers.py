"""The attribute normalisers the scorer relies on (prism_core/attributes.py): units, ranges, aliases."""
from __future__ import annotations

import pytest

from prism_core.attributes import (
    SHOPPING_HABITS,
    AttributeValueError,
    normalise,
    normalise_country,
    parse_height_cm,
    parse_income,
    parse_weight_kg,
    region_of,
    try_normalise,
)


@pytest.mark.parametrize("text,cm", [
    ("5'11\"", 180), ("5 ft 11 in", 180), ("5 feet 11 inches", 180), ("5ft11", 180), ("5.9 ft", 180),
    ("6'", 183), ("6 ft", 183), ("71 inches", 180), ("71in", 180), ("180cm", 180), ("1.80 m", 180),
    ("1,80 m", 180), ("180", 180), ("1.8", 180), ("6", 183), ("71", 180), ("160-170 cm", 165),
    ("about 175 cm", 175), (180, 180), (1.8, 180), (175.4, 175),
])
def test_height(text, cm):
    assert parse_height_cm(text) == cm


@pytest.mark.parametrize("text,kg", [("150 lbs", 68), ("150 pounds", 68), ("70kg", 70), ("70", 70),
                                     (70.4, 70), ("65-70 kg", 68), ("around 60 kilograms", 60)])
def test_weight(text, kg):
    assert parse_weight_kg(text) == kg


@pytest.mark.parametrize("bad", [0, -5, float("nan"), True])
def test_bad_heights_are_errors(bad):
    assert try_normalise("appearance", {"height": bad}) is None


def test_words_for_a_height_are_read_as_vague():
    assert normalise("appearance", {"height": "tall"})["height_cm"] == "tall"


@pytest.mark.parametrize("attr,value", [
    ("income", float("inf")), ("income", float("-inf")), ("income", "9" * 400),
    ("income", "over " + "9" * 400), ("income", {"min": float("inf"), "max": None}),
    ("age", "9" * 400), ("appearance", {"height": "9" * 400}),
    ("appearance", {"weight": "9" * 400 + " kg"}),
])
def test_overflowing_numbers_are_errors_not_crashes(attr, value):
    assert try_normalise(attr, value) is None
    with pytest.raises(AttributeValueError, match=attr):
        normalise(attr, value)


@pytest.mark.parametrize("text,lo,hi", [
    ("60,000 - 90,000 USD", 60000, 90000), ("$72,000 per year", 72000, 72000),
    ("about $60k annually", 60000, 60000), ("USD 45,000", 45000, 45000), ("~50000", 50000, 50000),
    ("$50k/yr", 50000, 50000), ("50-70k", 50000, 70000), ("under 35k", 0, 35000),
    ("over 180,000", 180000, None), ("100k+", 100000, None), (">180000", 180000, None),
])
def test_income(text, lo, hi):
    parsed = parse_income(text)
    assert (parsed["min"], parsed["max"]) == (lo, hi)


@pytest.mark.parametrize("text,country", [
    ("United States", "USA"), ("the US", "USA"), ("born in New York", "USA"), ("England", "UK"),
    ("Tokyo", "Japan"), ("Korea", "South Korea"), ("Rio de Janeiro", "Brazil"), ("atlantis", "Atlantis"),
])
def test_countries(text, country):
    assert normalise_country(text) == country


def test_regions():
    assert region_of("USA") == region_of("Canada") == "North America"
    assert region_of("Atlantis") is None


@pytest.mark.parametrize("attr,text,value", [
    ("religion", "Christian", "Christianity"), ("religion", "not religious", "unaffiliated"),
    ("relationship", "engaged", "engaged"), ("relationship", "dating", "in a relationship"),
    ("education", "graduate school", "master's degree"),
    ("education", "some college", "high school"), ("education", "college", "bachelor's degree"),
    ("occupation", "Software Developer", "software engineer"),
    ("shopping_habits", "Shops on Etsy for handmade items", SHOPPING_HABITS[3]),
    ("shopping_habits", "loves farmers' markets", SHOPPING_HABITS[9]),
    ("shopping_habits", "always pre-orders the newest gadgets", SHOPPING_HABITS[5]),
    ("shopping_habits", "Buys in bulk, shops seasonally", SHOPPING_HABITS[6]),
    ("shopping_habits", "whatever is on sale", "whatever is on sale"),
])
def test_aliases(attr, text, value):
    assert normalise(attr, text) == value


def test_every_v1_value_is_its_own_canonical_form():
    from prism_core.attributes import ATTRIBUTES
    for key in ("sex", "education", "occupation", "relationship", "shopping_habits", "health",
                "religion"):
        for value in ATTRIBUTES[key].values:
            assert normalise(key, value) == value, (key, value)
