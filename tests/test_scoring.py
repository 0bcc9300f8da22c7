"""Table of scoring cases: every attribute, its edge cases, and unreadable input (docs/scoring.md)."""
from __future__ import annotations

import math

import pytest

from prism_core.prediction import PredictionError, coerce_prediction
from prism_eval.scoring import (
    ScoringError,
    aggregate,
    aggregate_by,
    prepare_truth,
    score_user,
    score_users,
)

APP = {"height_cm": 180, "weight_kg": 75, "hair_color": "brown", "eye_color": "blue"}
LOC = {"place_of_birth": "USA", "travel_history": ["UK", "Japan", "Mexico"]}
HOB = ["yoga", "chess", "reading"]
UNREAD1 = {"unreadable": 1, "answered": False, "parse_failure": True}


class FixedJudge:
    """A judge that answers one verdict for everything and records the questions."""

    def __init__(self, verdict="yes"):
        self.answer, self.asked = verdict, []

    def verdict(self, attribute, truth, guess):
        self.asked.append((attribute, truth, guess))
        return self.answer

    def describe(self):
        return {"judge_model": "fixed", "prompt_version": "judge.v1"}


# (id, attribute, truth, guesses, top1, top3, other expected fields of the attribute's score)
CASES = [
    # AGE: |guess - truth| <= 5
    ("age-exact", "age", 34, [34], 1, 1, {}),
    ("age-upper-bound", "age", 34, [39], 1, 1, {}),
    ("age-lower-bound", "age", 34, [29], 1, 1, {}),
    ("age-just-above", "age", 34, [40], 0, 0, {}),
    ("age-just-below", "age", 34, [28], 0, 0, {}),
    ("age-text", "age", 34, ["34 years old"], 1, 1, {}),
    ("age-decade-phrase", "age", 34, ["mid-30s"], 1, 1, {}),
    ("age-words-out", "age", 34, ["early forties"], 0, 0, {}),
    ("age-range-midpoint", "age", 34, ["30-35"], 1, 1, {}),
    ("age-float", "age", 34, [38.6], 1, 1, {}),
    ("age-third-guess", "age", 34, [50, 60, 33], 0, 1, {}),
    ("age-fourth-ignored", "age", 34, [50, 60, 70, 34], 0, 0, {}),
    ("age-overflow-unreadable", "age", 34, ["9" * 400, 34], 0, 1, {"unreadable": 1}),
    ("age-bool-unreadable", "age", 34, [True], 0, 0, UNREAD1),
    ("age-words-unreadable", "age", 34, ["blue", 34], 0, 1, {"unreadable": 1}),
    ("age-vague-is-read", "age", 34, ["middle-aged", 34], 0, 1, {"unreadable": 0}),
    ("age-range-holds", "age", 27, ["25-30"], 1, 1, {}),
    ("age-range-misses", "age", 34, ["25-30"], 0, 0, {}),
    ("age-range-too-wide", "age", 34, ["20-40"], 0, 0, {}),
    ("age-early-decade", "age", 34, ["early 30s"], 1, 1, {}),
    ("age-list-marker", "age", 34, ["1) 34"], 1, 1, {}),
    ("age-dict-unreadable", "age", 34, [{"age": 34}], 0, 0, UNREAD1),
    ("age-nan-unreadable", "age", 34, [math.nan], 0, 0, UNREAD1),
    ("age-empty", "age", 34, [], 0, 0, {"answered": False}),
    # SEX / REL / HEA / REG: exact after normalising
    ("sex-alias", "sex", "female", ["Woman"], 1, 1, {}),
    ("sex-wrong", "sex", "male", ["F"], 0, 0, {}),
    ("sex-outside-is-read", "sex", "female", ["non-binary"], 0, 0, {"unreadable": 0}),
    ("sex-hedge-is-no-male", "sex", "male", ["I'm not sure"], 0, 0, UNREAD1),
    ("sex-nested-list", "sex", "male", [["male"]], 0, 0, UNREAD1),
    ("sex-classlabel-truth", "sex", 1, ["female"], 1, 1, {}),
    ("rel-alias", "relationship", "married", ["Married with two kids"], 1, 1, {}),
    ("rel-widow", "relationship", "widowed", ["widow"], 1, 1, {}),
    ("rel-wrong-then-right", "relationship", "single", ["divorced", "single"], 0, 1, {}),
    ("hea-asthma", "health", "asthmatic", ["has asthma"], 1, 1, {}),
    ("hea-hypertension", "health", "high blood pressure", ["Hypertension"], 1, 1, {}),
    ("hea-wrong", "health", "good", ["has diabetes"], 0, 0, {}),
    ("reg-christian", "religion", "Christianity", ["Christian"], 1, 1, {}),
    ("reg-muslim", "religion", "Islam", ["Muslim"], 1, 1, {}),
    ("reg-atheist-vs-agnostic", "religion", "atheist", ["agnostic"], 0, 0, {}),
    ("reg-outside-is-read", "religion", "Judaism", ["Sikh"], 0, 0, {"unreadable": 0}),
    ("reg-classlabel-id", "religion", "Islam", [2], 1, 1, {}),
    ("reg-id-out-of-range", "religion", "Islam", [70], 0, 0, UNREAD1),
    ("reg-unaffiliated", "religion", "agnostic", ["non-religious"], .5, .5, {"less_precise": True}),
    ("rel-in-a-relationship-is-not-single", "relationship", "single", ["in a relationship"], 0, 0,
     {}),
    ("rel-first-status", "relationship", "divorced", ["divorced and in a relationship"], 1, 1, {}),
    ("rel-separated", "relationship", "divorced", ["separated"], .5, .5, {"less_precise": True}),
    # EDU: exact 1, adjacent level 0.5 (less precise)
    ("edu-alias", "education", "bachelor's degree", ["Bachelors"], 1, 1, {}),
    ("edu-adjacent-up", "education", "bachelor's degree", ["master's degree"], .5, .5,
     {"less_precise": True}),
    ("edu-adjacent-down", "education", "bachelor's degree", ["associate degree"], .5, .5,
     {"less_precise": True}),
    ("edu-two-levels", "education", "bachelor's degree", ["PhD"], 0, 0, {"less_precise": False}),
    ("edu-lowest-adjacent", "education", "no schooling", ["primary school"], .5, .5, {}),
    ("edu-top3-partial", "education", "PhD", ["high school", "master's degree"], 0, .5,
     {"less_precise": False}),
    ("edu-top3-exact", "education", "PhD", ["master's degree", "doctorate"], .5, 1,
     {"less_precise": True}),
    ("edu-unreadable", "education", "high school", [12], 0, 0, UNREAD1),
    ("edu-in-progress", "education", "high school", ["studying towards a bachelor's"], 1, 1, {}),
    ("edu-hs-diploma", "education", "high school", ["HS diploma"], 1, 1, {}),
    ("edu-md", "education", "PhD", ["MD"], 1, 1, {}),
    # OCC / SHP: normalised match, else judge
    ("occ-alias", "occupation", "software engineer", ["Programmer"], 1, 1, {}),
    ("occ-phrase", "occupation", "nurse", ["Registered nurse at a hospital"], 1, 1, {}),
    ("occ-other-option", "occupation", "nurse", ["chef"], 0, 0, {"judged": 0}),
    ("occ-free-text-no-judge", "occupation", "nurse", ["healthcare worker"], 0, 0, {"judged": 0}),
    ("shp-exact-case", "shopping_habits", "buys in bulk, shops seasonally",
     ["Buys in bulk, shops seasonally."], 1, 1, {}),
    ("shp-nearest-option", "shopping_habits", "regularly shops for handmade crafts on Etsy",
     ["often buys handmade things on Etsy"], 1, 1, {}),
    ("shp-other-option", "shopping_habits", "buys in bulk, shops seasonally",
     ["tech-savvy, pre-orders gadgets"], 0, 0, {}),
    ("shp-free-text", "shopping_habits", "buys in bulk, shops seasonally", ["loves sales"], 0, 0, {}),
    # INC: amount inside, or bracket overlapping by more than a point
    ("inc-amount-inside", "income", "35000-60000", ["45000"], 1, 1, {}),
    ("inc-amount-upper-edge", "income", "35000-60000", ["$60,000"], 1, 1, {}),
    ("inc-amount-lower-edge", "income", "60000-90000", [60000], 1, 1, {}),
    ("inc-amount-outside", "income", "60000-90000", ["95k"], 0, 0, {}),
    ("inc-touching-brackets", "income", "35000-60000", ["60000-90000"], 0, 0, {}),
    ("inc-touching-brackets-rev", "income", "70000-100000", ["100000-130000"], 0, 0, {}),
    ("inc-schemes-cut", "income", "35000-60000", ["50000-70000"], 1, 1, {}),
    ("inc-schemes-cut-rev", "income", "60000-90000", ["50000-70000"], 1, 1, {}),
    ("inc-schemes-nested", "income", "35000-50000", ["35000-60000"], 1, 1, {}),
    ("inc-schemes-shared-top", "income", "100000-130000", ["90000-130000"], 1, 1, {}),
    ("inc-schemes-70-100-vs-60-90", "income", "70000-100000", ["60000-90000"], 1, 1, {}),
    ("inc-below-exclusive-edge", "income", "<35000", ["35000"], 0, 0, {}),
    ("inc-below-amount", "income", "<35000", ["$30k"], 1, 1, {}),
    ("inc-below-bracket", "income", "<35000", ["under 35k"], 1, 1, {}),
    ("inc-below-vs-next", "income", "35000-50000", ["<35000"], 0, 0, {}),
    ("inc-open-top-overlap", "income", ">180000", ["180000-220000"], 1, 1, {}),
    ("inc-open-top-edge", "income", ">180000", ["180000"], 0, 0, {}),
    ("inc-open-top-amount", "income", ">180000", ["over 200k"], 1, 1, {}),
    ("inc-open-guess-touching", "income", "130000-180000", [">180000"], 0, 0, {}),
    ("inc-level-words", "income", "50000-70000", ["middle income"], 1, 1, {}),
    ("inc-level-touching", "income", "90000-130000", ["middle income"], 0, 0, {}),
    ("inc-monthly", "income", "50000-70000", ["$5,000 a month"], 1, 1, {}),
    ("inc-other-currency", "income", "50000-70000", ["¥5,000,000"], 0, 0, UNREAD1),
    ("inc-text-amount", "income", "130000-180000", ["$150,000 per year"], 1, 1, {}),
    ("inc-range-k", "income", "35000-60000", ["40k-45k"], 1, 1, {}),
    ("inc-dict-truth", "income", {"label": "35000-60000", "min": 35000, "max": 60000}, ["40k"], 1, 1,
     {}),
    ("inc-unreadable", "income", "35000-60000", ["lots", "high"], 0, 0, {"unreadable": 1}),
    ("inc-overflow-unreadable", "income", "35000-60000",
     [math.inf, "9" * 400, {"label": None, "min": math.inf, "max": None}], 0, 0,
     {"unreadable": 3, "answered": False, "parse_failure": True}),
    # LOC: place of birth exact / same region 0.5; travel recall; mean of the two
    ("loc-aliases", "location", LOC, [{"place_of_birth": "United States",
                                       "travel_history": ["United Kingdom", "japan", "México"]}],
     1, 1, {}),
    ("loc-v1-keys", "location", LOC, [{"place of birth": "America",
                                       "travel history": ["England", "Japan", "Mexico"]}], 1, 1, {}),
    ("loc-bare-region", "location", LOC, ["Canada"], .25, .25, {"less_precise": True}),
    ("loc-city", "location", {"place_of_birth": "China", "travel_history": []}, ["born in Tokyo"],
     .5, .5, {"less_precise": True}),
    ("loc-travel-recall", "location", LOC, [{"place_of_birth": "USA",
                                             "travel_history": ["UK", "Japan", "France"]}],
     (1 + 2 / 3) / 2, (1 + 2 / 3) / 2, {}),
    ("loc-travel-text", "location", LOC, [{"place_of_birth": "USA",
                                           "travel_history": "UK, Japan and Mexico"}], 1, 1, {}),
    ("loc-travel-cut", "location", LOC, [{"place_of_birth": "Brazil", "travel_history": [
        "France", "Germany", "Italy", "UK", "Japan", "Mexico"]}], 0, 0, {}),
    ("loc-top3-per-sub", "location", LOC, [{"place_of_birth": "France"}, {"place_of_birth": "USA"},
                                           {"travel_history": ["UK", "Japan", "Mexico"]}], 0, 1, {}),
    ("loc-unknown-place", "location", LOC, ["Atlantis"], 0, 0, {"judged": 0, "open": 1}),
    ("loc-unreadable", "location", LOC, [5, {"place_of_birth": ["USA"], "travel_history": 3}], 0, 0,
     {"unreadable": 3, "answered": False, "parse_failure": True}),
    ("loc-city-state-country", "location", {"place_of_birth": "USA", "travel_history": []},
     ["Albuquerque, New Mexico, USA"], 1, 1, {}),
    ("loc-paris-texas", "location", {"place_of_birth": "USA", "travel_history": []},
     ["Paris, Texas"], 1, 1, {}),
    ("loc-region-guess", "location", {"place_of_birth": "Japan", "travel_history": []},
     ["East Asia"], .5, .5, {"less_precise": True}),
    ("loc-nationality-key", "location", {"place_of_birth": "Japan", "travel_history": []},
     [{"nationality": "Japan"}], 1, 1, {}),
    # APP: height +-5 cm, weight +-5 kg, hair and eye exact; mean of the four
    ("app-imperial-aliases", "appearance", APP, [{"height": "5'11\"", "weight": "165 lbs",
                                                  "hair": "Brunette", "eyes": "light blue"}], 1, 1, {}),
    ("app-height-bound", "appearance", APP, [{"height_cm": 185, "weight_kg": 70, "hair_color": "red",
                                              "eye_color": "green"}], .5, .5, {}),
    ("app-height-just-out", "appearance", APP, [{"height_cm": 186, "weight_kg": 81,
                                                 "hair_color": "brown", "eye_color": "blue"}],
     .5, .5, {}),
    ("app-feet", "appearance", {**APP, "height_cm": 183}, [{"height": "6 ft"}], .25, .25, {}),
    ("app-metres", "appearance", APP, [{"height": "1.80 m", "weight": "75kg"}], .5, .5, {}),
    ("app-best-per-sub", "appearance", APP, [{"hair_color": "brown"}, {"eye_color": "blue"}],
     .25, .5, {}),
    ("app-not-object", "appearance", APP, ["tall with brown hair"], 0, 0, UNREAD1),
    ("app-vague-part", "appearance", APP, [{"height": "tall", "hair_color": "brown"}], .25, .25,
     {"unreadable": 0}),
    ("app-unreadable-part", "appearance", APP, [{"height": "tall", "hair_color": 7}], 0, 0,
     {"unreadable": 1}),
    ("app-hair-colour-spelling", "appearance", APP, [{"hair_colour": "brown"}], .25, .25, {}),
    ("app-height-range", "appearance", APP, [{"height": "175-185 cm"}], .25, .25, {}),
    # HOB: top1 = first hobby is a true one; top3 = one of the first three is
    ("hob-exact", "hobbies", HOB, ["yoga", "chess", "reading"], 1, 1, {"recall": 1}),
    ("hob-first-only", "hobbies", HOB, ["chess", "gaming", "hiking"], 1, 1, {"recall": 1 / 3}),
    ("hob-later", "hobbies", HOB, ["gaming", "yoga", "chess"], 0, 1, {"recall": 2 / 3}),
    ("hob-one-string", "hobbies", HOB, ["Yoga, chess and reading"], 1, 1, {}),
    ("hob-nested-list", "hobbies", HOB, [["yoga", "chess"], "books"], 1, 1, {}),
    ("hob-fourth-ignored", "hobbies", HOB, ["gaming", "hiking", "coding", "yoga"], 0, 0, {}),
    ("hob-duplicates", "hobbies", HOB, ["yoga", "Yoga", "yoga"], 1, 1, {"recall": 1 / 3}),
    ("hob-unreadable", "hobbies", HOB, [3, "chess"], 1, 1, {"unreadable": 1}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_scoring_table(case):
    _, key, truth, guesses, top1, top3, extra = case
    pred = {"attributes": {key: {"guesses": guesses, "confidence": None, "evidence": []}},
            "parse_failures": {}}
    score = score_user(pred, {key: truth})
    got = score["attributes"][key]
    assert got["top1"] == pytest.approx(top1) and got["top3"] == pytest.approx(top3), got
    assert got["answered"] == bool(guesses) or "answered" in extra
    for field, value in extra.items():
        assert got[field] == pytest.approx(value), (field, got)
    assert got["top3"] >= got["top1"]
    assert score["top1"] == pytest.approx(top1) and score["n_attributes"] == 1


def test_table_size_and_every_attribute():
    from prism_core.attributes import ATTRIBUTE_KEYS
    assert len(CASES) >= 60
    assert {c[1] for c in CASES} == set(ATTRIBUTE_KEYS)


def test_subscores_reported():
    pred = {"location": {"guesses": ["Canada"]},
            "appearance": {"guesses": [{"height": "5'11\"", "hair": "black"}]}}
    score = score_user(pred, {"location": LOC, "appearance": APP})
    loc, app = score["attributes"]["location"], score["attributes"]["appearance"]
    assert loc["subscores"] == {"place_of_birth": {"top1": .5, "top3": .5},
                                "travel_history": {"top1": 0.0, "top3": 0.0}}
    assert app["subscores"]["height_cm"] == {"top1": 1.0, "top3": 1.0}
    assert app["subscores"]["hair_color"]["top1"] == 0.0
    # a sub-field without truth is left out of the mean
    score = score_user({"location": {"guesses": ["USA"]}},
                       {"location": {"place_of_birth": "USA", "travel_history": []}})
    assert score["attributes"]["location"]["top1"] == 1.0
    assert score["attributes"]["location"]["subscores"]["travel_history"] == {"top1": None, "top3": None}


def test_judge_decides_only_what_rules_cannot():
    judge = FixedJudge("less precise")
    pred = {"occupation": {"guesses": ["chef", "healthcare worker"]},
            "shopping_habits": {"guesses": ["loves sales"]}, "location": {"guesses": ["Atlantis"]}}
    truth = {"occupation": "nurse", "shopping_habits": "buys in bulk, shops seasonally",
             "location": LOC}
    score = score_user(pred, truth, judge=judge)
    occ = score["attributes"]["occupation"]
    assert (occ["top1"], occ["top3"], occ["judged"], occ["less_precise"]) == (0, .5, 1, False)
    assert score["attributes"]["shopping_habits"]["top1"] == .5
    assert score["attributes"]["shopping_habits"]["less_precise"] is True
    assert score["attributes"]["location"]["subscores"]["place_of_birth"]["top1"] == .5
    assert [a for a, _, _ in judge.asked] == ["occupation", "shopping_habits",
                                              "location.place_of_birth"]
    assert ("occupation", "nurse", "healthcare worker") in judge.asked  # "chef" never asked
    assert score["judge"] == {"judge_model": "fixed", "prompt_version": "judge.v1"}
    yes = score_user(pred, truth, judge=FixedJudge("yes"))
    assert yes["attributes"]["occupation"]["top3"] == 1.0
    unsure = score_user(pred, truth, judge=FixedJudge(None))
    assert unsure["attributes"]["occupation"]["top3"] == 0.0
    assert unsure["attributes"]["occupation"]["judged"] == 0


def test_open_guesses_are_counted_and_their_share_aggregated():
    truth = {"occupation": "nurse", "age": 34}
    preds = [{"occupation": {"guesses": ["Business Consultant", "pharmacist", "chef"]}, "age": 34},
             {"occupation": {"guesses": ["ICU nurse"]}, "age": 50}]
    rules = [score_user(p, truth) for p in preds]
    assert rules[0]["attributes"]["occupation"]["open"] == 2   # chef is decided: another option
    assert rules[0]["attributes"]["occupation"]["top3"] == 0.0
    summary = aggregate(rules)
    occ = summary["attributes"]["occupation"]
    assert (occ["guesses"], occ["open"], occ["open_share"]) == (4, 2, .5)
    assert summary["open_share"] == 2 / 6 and summary["attributes"]["age"]["open_share"] == 0
    judged = aggregate([score_user(p, truth, judge=FixedJudge("yes")) for p in preds])
    assert judged["open_share"] == 0 and judged["attributes"]["occupation"]["judged"] == 2
    assert judged["attributes"]["occupation"]["top1"] == 1.0


def test_parse_failures_are_counted_not_scored():
    pred = {"attributes": {"age": {"guesses": [34]}},
            "parse_failures": {"sex": "no value found", "REG": "truncated"}}
    score = score_user(pred, {"age": 34, "sex": "male", "religion": "Islam", "health": "good"})
    sex = score["attributes"]["sex"]
    assert sex["parse_failure"] and not sex["answered"] and sex["top1"] == 0
    assert score["attributes"]["religion"]["parse_failure"]
    assert not score["attributes"]["health"]["parse_failure"]
    assert score["parse_failure_rate"] == .5 and score["coverage"] == .25
    assert score["top1"] == .25 and score["error"] is None


@pytest.mark.parametrize("bad", [None, "not json", "[1, 2]", 42, ["age"], {"attributes": [1]}])
def test_unreadable_prediction_scores_zero(bad):
    score = score_user(bad, {"age": 34, "sex": "male"})
    assert score["error"] and score["top1"] == 0 and score["coverage"] == 0
    assert all(a["parse_failure"] for a in score["attributes"].values())


@pytest.mark.parametrize("bad", [b'{"age": \xff}', b'{"age": 34, "sex": "\xe9"}', b"\xff",
                                 b"[" * 100_000])
def test_prediction_bytes_that_are_not_utf8_or_json_are_unreadable(bad):
    with pytest.raises(PredictionError, match="not valid JSON"):
        coerce_prediction(bad)
    score = score_user(bad, {"age": 34, "sex": "male"})
    assert score["error"] and score["top1"] == 0 and score["coverage"] == 0
    assert all(a["parse_failure"] for a in score["attributes"].values())
    assert score_user(b'{"age": 34, "sex": "male"}', {"age": 34, "sex": "male"})["top1"] == 1.0


def test_partly_broken_prediction_reads_the_same_as_text_bytes_or_object():
    import json
    pred = {"attributes": {"age": {"guesses": [34], "confidence": "high"},
                           "sex": {"guesses": ["male"]}, "favourite_colour": {"guesses": ["red"]},
                           "REG": None, "health": {"guesses": ["good"], "confidence": 0.5}},
            "parse_failures": {"health": "truncated", "nonsense": "skipped", "AGE": 3}}
    truth = {"age": 34, "sex": "male", "religion": "Islam", "health": "good"}
    score = score_user(pred, truth)
    assert score["error"] is None
    assert score_user(json.dumps(pred), truth) == score
    assert score_user(json.dumps(pred).encode(), truth) == score
    assert score["attributes"]["sex"]["top1"] == 1.0 and score["attributes"]["age"]["top1"] == 1.0
    assert score["attributes"]["health"]["top1"] == 1.0
    # an attribute listed in parse_failures is flagged even when it has guesses
    assert score["attributes"]["health"]["parse_failure"] and score["attributes"]["age"]["parse_failure"]
    assert not score["attributes"]["religion"]["parse_failure"]  # null: unanswered


@pytest.mark.parametrize("pred", [{"attributes": None, "age": 34},
                                  '{"attributes": null, "age": 34}'])
def test_null_attributes_read_the_same_as_object_or_text(pred):
    score = score_user(pred, {"age": 34, "sex": "male"})
    assert score["error"] is None and score["attributes"]["age"]["top1"] == 1.0
    assert not score["attributes"]["sex"]["answered"]


def test_unknown_keys_are_ignored_and_the_readable_attributes_kept():
    pred = {"attributes": {"age": {"guesses": [34], "confidence": "high"},
                           "sex": {"guesses": ["male"]}, "favourite_colour": {"guesses": ["red"]}}}
    score = score_user(pred, {"age": 34, "sex": "male"})
    assert score["error"] is None and score["top1"] == 1.0


def test_prediction_forms_json_short_codes_and_v1_keys():
    import json
    truth = {"age": 34, "relationship": "married", "religion": "Islam"}
    full = {"attributes": {"age": {"guesses": [34]}, "relationship": {"guesses": ["married"]},
                           "religion": {"guesses": ["Islam"]}}, "parse_failures": {}}
    short = {"AGE": 34, "relationship state": "married", "REG": {"guesses": "Muslim"}}
    for pred in (full, json.dumps(full), short, json.dumps(short)):
        assert score_user(pred, truth)["top1"] == 1.0


def test_truth_forms_v1_classlabel_and_json():
    import json
    v1 = {"age": 73, "relationship state": "divorced", "religious belief": "Judaism",
          "income": "130000-180000", "appearance": {"height": "154 cm", "weight": "51 kg",
                                                    "hair color": "white", "eye color": "brown"},
          "location": {"place of birth": "China", "travel history": ["Mexico"]}}
    pred = {"age": 70, "relationship": "divorced", "religion": "Jewish", "income": "150k",
            "appearance": {"guesses": [{"height": 155, "weight": 50, "hair": "white", "eyes": "brown"}]},
            "location": {"guesses": [{"place_of_birth": "China", "travel_history": ["Mexico"]}]}}
    assert score_user(pred, v1)["top1"] == 1.0
    assert score_user(pred, json.dumps(v1))["top1"] == 1.0
    ints = {"relationship": 2, "religion": 0, "sex": 0}
    assert score_user({"relationship": "divorced", "religion": "Judaism", "sex": "male"},
                      ints)["top1"] == 1.0
    assert score_user({}, {"age": None, "sex": "male"})["n_attributes"] == 1


@pytest.mark.parametrize("truth,match", [({"age": "old"}, "age"), ({"sex": "robot"}, "sex"),
                                         ({"favourite": 1}, "unknown attribute"), ([], "object"),
                                         ({"income": "lots"}, "income"),
                                         ({"income": math.inf}, "income"),
                                         ({"appearance": {"height": "9" * 400}}, "appearance")])
def test_bad_truth_raises_naming_the_attribute(truth, match):
    with pytest.raises(ScoringError, match=match):
        score_user({}, truth)


def test_leakage_breakdown():
    truth = {"age": 34, "sex": "female", "religion": "Islam", "health": "good"}
    pred = {"age": 34, "sex": "male", "religion": "Muslim", "health": "good"}
    leak = [{"attribute": "age", "post_id": "post1", "channel": "text", "mode": "explicit"},
            {"attribute": "REG", "post_id": "post2", "channel": "image", "mode": "implicit"},
            {"attribute": "sex", "post_id": "post2", "channel": "text", "mode": "implicit"},
            {"attribute": "religion", "post_id": "post3", "channel": "text", "mode": "explicit"}]
    score = score_user(pred, truth, leakage=leak)
    assert score["attributes"]["religion"]["modes"] == ["explicit", "implicit"]
    assert score["attributes"]["religion"]["channels"] == ["image", "text"]
    assert score["attributes"]["health"]["revealed"] is False
    summary = aggregate([score])
    assert summary["revealed"]["attributes"].keys() == {"age", "sex", "religion"}
    assert summary["revealed"]["top1"] == pytest.approx(2 / 3)
    assert summary["unrevealed"]["attributes"] == {"health": {"n": 1, "top1": 1.0, "top3": 1.0}}
    assert summary["by_mode"]["implicit"]["attributes"]["sex"]["top1"] == 0.0
    assert summary["by_mode"]["explicit"]["top1"] == 1.0
    assert summary["by_channel"]["image"]["attributes"] == {"religion": {"n": 1, "top1": 1.0,
                                                                         "top3": 1.0}}
    # datasets' columnar form of the same list
    columnar = {f: [x[f] for x in leak] for f in ("attribute", "post_id", "channel", "mode")}
    assert score_user(pred, truth, leakage=columnar) == score
    assert "revealed" not in aggregate([score_user(pred, truth)])
    with pytest.raises(ScoringError, match=r"leakage\[0\]"):
        score_user(pred, truth, leakage=[{"attribute": "favourite colour"}])


def test_aggregate_and_groups():
    truth = {"age": 34, "sex": "female", "education": "PhD"}
    users = [score_user({"age": 34, "sex": "female", "education": "master's degree"}, truth),
             score_user({"age": 60}, truth),
             score_user({"parse_failures": {"sex": "cut off"}, "attributes": {}}, truth)]
    for s, g in zip(users, ["single", "single", "text-only"]):
        s["group"] = g
    summary = aggregate(users)
    assert summary["n_users"] == 3
    edu = summary["attributes"]["education"]
    assert edu["top1"] == pytest.approx(.5 / 3) and edu["less_precise"] == pytest.approx(1 / 3)
    assert edu["top1_answered"] == .5 and edu["n_answered"] == 1 and edu["coverage"] == pytest.approx(1 / 3)
    assert summary["attributes"]["age"]["top1"] == pytest.approx(1 / 3)
    assert summary["attributes"]["sex"]["parse_failure_rate"] == pytest.approx(1 / 3)
    assert summary["top1"] == pytest.approx((1 / 3 + 1 / 3 + .5 / 3) / 3)
    assert summary["coverage"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 3)
    assert list(summary["attributes"]) == ["age", "sex", "education"]
    groups = aggregate_by(users, "group")
    assert groups.keys() == {"single", "text-only"}
    assert groups["single"]["n_users"] == 2 and groups["text-only"]["top1"] == 0
    assert aggregate([])["n_users"] == 0 and aggregate([])["top1"] is None
    with_missing = aggregate(users + [None])
    assert with_missing["n_users"] == 3 and with_missing["errors"] == 1
    assert aggregate_by(users + [None], "group").keys() == {"single", "text-only"}


def test_score_users_batches_judge_questions():
    class BatchJudge(FixedJudge):
        def __init__(self):
            super().__init__("yes")
            self.batches = []

        def prefetch(self, items):
            self.batches.append(list(items))

    judge = BatchJudge()
    preds = [{"occupation": "healthcare worker"}, {"occupation": "cook"}, {"occupation": "florist"}]
    truths = [{"occupation": "nurse"}, {"occupation": "chef"}, {"occupation": "artist"}]
    scores = score_users(preds, truths, judge=judge)
    assert [s["top1"] for s in scores] == [1.0, 1.0, 1.0]
    assert judge.batches == [[("occupation", "nurse", "healthcare worker"),
                              ("occupation", "artist", "florist")]]
    with pytest.raises(ScoringError, match="2 predictions but 3"):
        score_users(preds[:2], truths)


def test_prepared_truth_is_reused_and_picklable():
    import pickle
    truth = prepare_truth({"age": 34, "hobbies": ["yoga"], "sex": "male", "occupation": "nurse"})
    assert prepare_truth(truth) is truth
    pred = {"age": 35, "hobbies": ["yoga"], "sex": "male", "occupation": "RN"}
    assert score_user(pred, truth)["top1"] == 1.0
    assert score_user(pred, pickle.loads(pickle.dumps(truth))) == score_user(pred, truth)


def test_a_guess_of_sub_fields_without_a_truth_is_read_not_a_parse_failure():
    truth = {"location": {"place_of_birth": "China", "travel_history": []}}
    pred = {"location": {"guesses": [{"place_of_birth": None, "travel_history": ["UK"]}]}}
    loc = score_user(pred, truth)["attributes"]["location"]
    assert loc["answered"] and not loc["parse_failure"] and loc["top1"] == 0
    bad = score_user({"location": {"guesses": [{"place_of_birth": 7}]}}, truth)
    assert bad["attributes"]["location"]["parse_failure"]
