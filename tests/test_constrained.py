"""Constrained JSON decoding in the hf backend (llguidance) and the answer schema, on a tiny
random causal LM: even random weights write answers that parse and match the schema."""
from __future__ import annotations

import json

import jsonschema
import pytest
from tiny_models import shared_tiny_causal_lm

from prism_core.backends import ChatRequest, get_backend
from prism_core.errors import PrismError
from prism_core.prediction import answer_schema, coerce_prediction
from prism_eval.chain import SCHEMAS

pytest.importorskip("llguidance")

_BACKENDS: dict = {}


def _backend(**options):
    key = tuple(sorted(options.items()))
    if key not in _BACKENDS:
        _BACKENDS[key] = get_backend(f"hf:{shared_tiny_causal_lm()}", **options)
    return _BACKENDS[key]


def _requests(schema, n=3, max_tokens=400, temperature=0.0):
    return [ChatRequest.from_prompt("Answer in JSON about user" + " number" * i, max_tokens=max_tokens,
                                    response_format="json", json_schema=schema,
                                    temperature=temperature, seed=i) for i in range(n)]


def test_answer_schema_is_valid_and_accepts_the_prompt_forms():
    for role, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
    full = {"age": {"guesses": [41], "confidence": 0.4, "evidence": ["post1"]},
            "income": {"guesses": ["60000-90000", "<35000"], "confidence": 0.2, "evidence": []},
            "location": {"guesses": [{"place_of_birth": "Japan", "travel_history": ["USA"]}],
                         "confidence": 0.5, "evidence": ["post2"]}}
    jsonschema.validate(full, answer_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(full, answer_schema(complete=True))  # synthesis needs every key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"income": {"guesses": ["high income"], "confidence": 0.2,
                                        "evidence": []}}, answer_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sex": {"guesses": ["unknown"], "confidence": 1, "evidence": []}},
                            answer_schema())


#: A few keys of each kind (random weights fill every string to its limit: keep this cheap).
SMALL = ("age", "sex", "income", "location", "appearance")


@pytest.mark.parametrize("complete", [False, True])
def test_random_weights_write_valid_answers_when_constrained(complete):
    backend = _backend(batch_size=2)
    assert backend.describe()["constrained"] is True
    schema = answer_schema(SMALL if complete else SMALL[:3], complete=complete,
                           reason=not complete)
    gens = backend.generate(_requests(schema, n=2, max_tokens=1500))
    for g in gens:
        assert g.ok and g.finish_reason == "stop", (g.error, g.finish_reason, g.text[-80:])
        answer = json.loads(g.text)
        jsonschema.validate(answer, schema)
        coerce_prediction(answer)                   # the prediction reader takes it as it is


def test_batched_equals_alone_and_sampling_stays_valid():
    backend = _backend(batch_size=3)
    schema = SCHEMAS["text"]
    reqs = _requests(schema, n=3, max_tokens=60)
    batched = backend.generate(reqs)
    alone = [backend.generate([r])[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in alone]
    small = answer_schema(("age", "sex"), complete=True)
    for g in backend.generate(_requests(small, n=2, max_tokens=400, temperature=1.0)):
        jsonschema.validate(json.loads(g.text), small)


def test_json_without_schema_is_any_object_and_plain_requests_are_free():
    backend = _backend()
    [g] = backend.generate([ChatRequest.from_prompt("hi", max_tokens=60, response_format="json")])
    assert g.text.startswith("{")
    if g.finish_reason == "stop":
        assert isinstance(json.loads(g.text), dict)
    free = _backend(constrained=False)
    assert free.describe()["constrained"] is False
    assert "constrained" not in free.cache_identity()
    assert backend.cache_identity()["constrained"].startswith("llguidance")
    [plain] = free.generate(_requests(SCHEMAS["text"], n=1, max_tokens=30))
    with pytest.raises(ValueError):                 # random weights, unconstrained: no JSON
        json.loads(plain.text)


def test_schema_is_part_of_the_request_settings():
    a, b = _requests(SCHEMAS["text"], n=1)[0], _requests(SCHEMAS["synthesis"], n=1)[0]
    assert a.settings()["json_schema"] != b.settings()["json_schema"]
    assert "json_schema" not in ChatRequest.from_prompt("x").settings()


def test_bad_options(tmp_path):
    with pytest.raises(PrismError, match="constrained"):
        get_backend(f"hf:{shared_tiny_causal_lm()}", constrained="maybe")
    with pytest.raises(PrismError, match="no GGUF file"):
        get_backend(f"hf:{tmp_path / 'missing.gguf'}")
    with pytest.raises(PrismError, match="threads"):
        get_backend(f"hf:{shared_tiny_causal_lm()}", threads=0)


def test_short_name_needs_its_package(monkeypatch):
    from prism_core.backends import transformers_vlm as hf

    monkeypatch.setitem(hf.PACKAGED_MODELS, "nosuch", ("prism-no-such-dist", "x.gguf",
                                                       "pip install prism-no-such-dist"))
    with pytest.raises(PrismError, match="needs the package prism-no-such-dist"):
        get_backend("hf:nosuch")
