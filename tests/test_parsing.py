"""parsing.py on a hand-written corpus of messy model outputs, plus fuzzing (it must never raise)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from prism_core.attributes import ATTRIBUTE_KEYS
from prism_core.prediction import coerce_prediction
from prism_eval.parsing import (
    attribute_key,
    load_jsonish,
    parse_output,
    parse_prediction,
)

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "messy_outputs.yaml").read_text("utf-8"))


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)


def _matches(guess, expected) -> bool:
    if isinstance(expected, dict):
        return isinstance(guess, dict) and all(guess.get(k) == v for k, v in expected.items())
    return guess == expected


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_case(case):
    requested = case.get("requested", list(ATTRIBUTE_KEYS))
    parsed = parse_output(case["text"], requested, truncated=case.get("truncated"))
    pred = parsed.prediction
    coerce_prediction(pred)  # the documented shape
    attrs, failures = pred["attributes"], pred["parse_failures"]
    for key, expected in (case.get("expect") or {}).items():
        assert key in attrs, f"{key} not read; failures={failures}"
        guesses = attrs[key]["guesses"]
        assert len(guesses) == len(expected), (key, guesses)
        for g, e in zip(guesses, expected):
            assert _matches(g, e), (key, guesses, expected)
    assert set(attrs) == set(case.get("expect") or {}), sorted(attrs)
    for key in case.get("failures", []):
        assert key in failures, (key, failures)
        assert failures[key]
    for key in case.get("absent", []):
        assert key not in attrs and key not in failures, key
    for key, conf in (case.get("confidence") or {}).items():
        assert attrs[key]["confidence"] == pytest.approx(conf)
    for key, ev in (case.get("evidence") or {}).items():
        assert attrs[key]["evidence"] == ev
    if case.get("truncated"):
        assert parsed.truncated
    # a failure is never also an answer
    assert not set(failures) & set(attrs)


def test_failures_only_for_requested_attributes():
    pred = parse_prediction("nothing useful here", ["age", "sex"])
    assert set(pred["parse_failures"]) == {"age", "sex"}


def test_truncation_reported_by_backend_marks_missing_attributes():
    text = '{"age": {"guesses": [30]}, "sex": {"guesses": ["male"]}}'
    pred = parse_prediction(text, ["age", "sex", "income"], truncated=True)
    assert pred["parse_failures"] == {"income": "output truncated before this attribute"}
    pred = parse_prediction(text, ["age", "sex", "income"], truncated=False)
    assert pred["parse_failures"] == {}


def test_notes_and_description_are_kept():
    case = next(c for c in CORPUS if c["id"] == "image-agent-with-description")
    parsed = parse_output(case["text"])
    assert parsed.notes["sex"] == "face and clothing"
    assert parsed.extra["description"].startswith("A selfie")


def test_attribute_key_variants():
    assert attribute_key("Relationship Status") == "relationship"
    assert attribute_key("relationship state") == "relationship"
    assert attribute_key("**HEA**") == "health"
    assert attribute_key("Age (years)") == "age"
    assert attribute_key("favourite colour") is None


def test_load_jsonish_recovers_complete_prefix():
    obj, method, cut = load_jsonish('{"a": 1, "b": [1, 2], "c": {"d": "unfinished')
    assert method == "truncated" and cut
    assert obj["a"] == 1 and obj["b"] == [1, 2]


def _assert_valid(text):
    parsed = parse_output(text)
    coerce_prediction(parsed.prediction)
    json.dumps(parsed.prediction)  # serialisable for results.jsonl


def test_fuzz_random_strings_never_raise():
    rng = random.Random(1234)
    alphabet = '{}[]:,"\'\\ \n\tabcdefxyz0123456789-.#/*`<>|AgeSx()TrueNone'
    for _ in range(400):
        _assert_valid("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))))
    for _ in range(50):
        _assert_valid(bytes(rng.randrange(256) for _ in range(100)))
    for value in (None, 12, 3.5, ["age", 3], {"age": 3}):
        _assert_valid(value)


def test_fuzz_truncations_and_mutations_of_the_corpus_never_raise():
    rng = random.Random(99)
    for case in CORPUS:
        text = case["text"]
        for cut in range(0, len(text), max(1, len(text) // 12)):
            _assert_valid(text[:cut])
        for _ in range(5):
            chars = list(text)
            for _ in range(rng.randint(1, 6)):
                if chars:
                    chars[rng.randrange(len(chars))] = rng.choice('{}[]",:\'\n')
            _assert_valid("".join(chars))


def test_pathological_nesting_does_not_blow_up():
    _assert_valid("[" * 5000 + "]" * 5000)
    _assert_valid("{" * 3000)
    _assert_valid('{"age": ' * 2000)


def test_chain_and_metric_score_every_corpus_case_alike():
    """The chain stores parse_output's prediction; the metric gets the model's text: one reader."""
    import evaluate as hf_evaluate

    from prism_eval.metrics import metric_path
    from prism_eval.scoring import score_user
    from one_user import TRUTH as truth
    texts = [c["text"] for c in CORPUS]
    chain = [score_user(parse_output(t, ATTRIBUTE_KEYS).prediction, truth) for t in texts]
    got = hf_evaluate.load(metric_path()).compute(
        predictions=texts, references=[truth] * len(texts), return_per_user=True)["per_user"]
    for case, c, m in zip(CORPUS, chain, got):
        assert c["top1"] == m["top1"] and c["top3"] == m["top3"], case["id"]
        for key in ATTRIBUTE_KEYS:
            assert c["attributes"][key]["top1"] == m["attributes"][key]["top1"], (case["id"], key)
