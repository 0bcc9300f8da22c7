"""The scoring rules against a careful human grader: the hand-written corpus of
tests/data/scoring_agreement.yaml (read by bench/scoring_agreement.py) and the examples of the
issue that asked for open-world rules."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from prism_eval.scoring import score_user

_SPEC = importlib.util.spec_from_file_location(
    "scoring_agreement", Path(__file__).resolve().parents[1] / "bench" / "scoring_agreement.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

#: Cases where the rules and the human grader part, each for a stated reason.
KNOWN = {
    ("occupation", "policy officer at the Ministry of Finance"): "open: for the judge",
    ("occupation", "social media manager"): "open: for the judge",
    ("income", "rich"): "the grader gave 'high' for the same truth; the table reads both alike",
    ("location.place_of_birth", "Hong Kong"): "a territory of its own in the places table",
    ("appearance.eye_color", "azul"): "colours are read in English only",
}


def test_corpus_is_large_and_covers_every_attribute():
    cases = bench.load_cases()
    assert len(cases) >= 400
    assert {c["key"] for c in cases} == {"age", "sex", "education", "occupation", "income",
                                         "relationship", "location", "appearance",
                                         "shopping_habits", "hobbies", "health", "religion"}


def test_rules_agree_with_the_grader_except_the_known_cases():
    cases = bench.load_cases()
    agree, disagreements = 0, []
    for case in cases:
        score, _ = bench.rule_score(case)
        if abs(score - case["verdict"]) < 1e-9:
            agree += 1
        else:
            disagreements.append((case["attr"], str(case["guess"])))
    assert set(disagreements) <= set(KNOWN), sorted(set(disagreements) - set(KNOWN))
    assert agree / len(cases) >= 0.98


def test_open_questions_decided_by_a_judge_agree_too():
    for case in bench.load_cases():
        score, opened = bench.rule_score(case)
        if opened:
            judged, _ = bench.rule_score(case, bench.HumanJudge(case["verdict"]))
            assert judged == case["verdict"], case


@pytest.mark.parametrize("attr,truth,guess,expected", [
    ("occupation", "chef", "Professional Chef", 1),
    ("occupation", "financial advisor", "Business Consultant", 0),   # open: never by aliasing
    ("occupation", "accountant", "financial analyst", 0),            # open, not another option
    ("income", "50000-70000", "middle income", 1),
    ("income", ">180000", "high", 1),
    ("income", "90000-130000", "upper-middle class", 1),
    ("education", "high school", "studying towards a bachelor's", 1),
    ("education", "high school", "in college", 1),
    ("education", "high school", "HS diploma", 1),
    ("education", "PhD", "MD", 1),
    ("education", "PhD", "JD", 1),
    ("location", "USA", "Albuquerque, New Mexico, USA", 1),
    ("location", "USA", "Paris, Texas", 1),
    ("location", "France", "Paris, Texas", 0),
    ("location", "Mexico", "Albuquerque, New Mexico, USA", .5),  # USA: a neighbour, not Mexico
    ("location", "Finland", "Helsinki, Finland", 1),
    ("location", "Poland", "Poland", 1),
    ("location", "Netherlands", "Netherlands", 1),
    ("relationship", "single", "in a relationship", 0),
    ("relationship", "single", "engaged", 0),
    ("relationship", "single", "dating", 0),
    ("relationship", "divorced", "divorced and in a relationship", 1),
    ("age", 34, "1) 34", 1),
    ("occupation", "nurse", "1. nurse", 1),
    ("age", 27, "25-30", 1),
    ("age", 34, "25-30", 0),
])
def test_the_examples_that_asked_for_these_rules(attr, truth, guess, expected):
    if attr == "location":
        truth = {"place_of_birth": truth, "travel_history": []}
    score = score_user({attr: {"guesses": [guess]}}, {attr: truth})["attributes"][attr]
    assert score["top1"] == expected and score["top3"] >= score["top1"], score
