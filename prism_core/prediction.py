"""The prediction format shared by parsing, the lexicon attacker, the chain, scoring and the metric.

A user prediction is a JSON object::

    {"attributes": {"age": {"guesses": [34, 30], "confidence": 0.7, "evidence": ["post1"]},
                    "location": {"guesses": [{"place_of_birth": "Japan",
                                              "travel_history": ["USA"]}], ...}, ...},
     "parse_failures": {"income": "no value found in model output"}}

Keys are canonical attribute keys (docs/design.md §5). ``guesses`` holds up to 3 answers, best first;
an attribute that is absent or has no guesses was not answered (it lowers coverage). For
``hobbies`` each guess is one hobby. For ``location`` and ``appearance`` each guess is an object
of sub-fields (a bare string guess for location is read as the place of birth). An attribute in
``parse_failures`` is counted as a parse failure, never as a wrong guess.
"""
from __future__ import annotations

import json
from typing import Any

from prism_core.attributes import ATTRIBUTE_KEYS, ATTRIBUTES, AttributeValueError, _key

__all__ = ["MAX_GUESSES", "empty_prediction", "attribute_prediction", "truth_as_prediction",
           "coerce_prediction", "load_prediction", "coerce_entry", "coerce_failures",
           "PredictionError", "answer_schema"]

MAX_GUESSES = 3


class PredictionError(ValueError):
    """A prediction object that does not have the documented shape."""


def empty_prediction() -> dict:
    return {"attributes": {}, "parse_failures": {}}


def attribute_prediction(guesses: list, confidence: float | None = None,
                         evidence: list[str] | None = None) -> dict:
    return {"guesses": list(guesses)[:MAX_GUESSES] if guesses is not None else [],
            "confidence": confidence, "evidence": list(evidence or [])}


def truth_as_prediction(attributes: dict) -> dict:
    """The prediction that states the true attributes (hobbies as three one-hobby guesses)."""
    pred = empty_prediction()
    for key in ATTRIBUTE_KEYS:
        value = attributes.get(key)
        if value is None:
            continue
        guesses = list(value) if key == "hobbies" else [value]
        pred["attributes"][key] = attribute_prediction(guesses, 1.0)
    return pred


def load_prediction(obj: Any) -> dict:
    """The prediction object itself, JSON text (str, or UTF-8 bytes) parsed; no field is checked.

    Raises PredictionError when the text is not JSON (or the bytes not UTF-8) or no object.
    """
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise PredictionError(f"prediction is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise PredictionError(f"prediction must be an object, got {type(obj).__name__}")
    return obj


def coerce_entry(key: str, value: Any) -> dict | None:
    """One attribute's entry (canonical ``key``) in the documented shape; None when ``value`` is."""
    if value is None:
        return None
    if not isinstance(value, dict):
        value = {"guesses": value}
    guesses = value.get("guesses", [])
    if guesses is None:
        guesses = []
    if not isinstance(guesses, list) or (key in ("location", "appearance") and
                                         isinstance(value.get("guesses"), dict)):
        guesses = [guesses]
    conf = value.get("confidence")
    if conf is not None and not isinstance(conf, (int, float)) or isinstance(conf, bool):
        raise PredictionError(f"{key}.confidence must be a number or null, got {conf!r}")
    evidence = value.get("evidence") or []
    if not isinstance(evidence, list):
        evidence = [evidence]
    return {"guesses": guesses, "confidence": conf, "evidence": [str(e) for e in evidence]}


def coerce_failures(failures: dict, *, strict: bool = True) -> dict:
    """``parse_failures`` by canonical key; an unknown attribute raises PredictionError, or is
    left out when not ``strict``."""
    out = {}
    for name, reason in failures.items():
        try:
            out[_key(name)] = str(reason)
        except AttributeValueError as exc:
            if strict:
                raise PredictionError(f"parse_failures: {exc}") from None
    return out


def coerce_prediction(obj: Any) -> dict:
    """Validate a prediction given as a dict or JSON text; raises PredictionError naming the field.

    Accepts attribute codes and v1 keys for canonical keys, a bare guess for a one-element list,
    and the short form ``{"age": {...}}`` without the ``attributes`` wrapper.
    """
    obj = load_prediction(obj)
    attrs = obj.get("attributes", None)
    failures = obj.get("parse_failures") or {}
    if attrs is None:
        attrs = {k: v for k, v in obj.items() if k != "parse_failures"}
    if not isinstance(attrs, dict):
        raise PredictionError(f"'attributes' must be an object, got {type(attrs).__name__}")
    if not isinstance(failures, dict):
        raise PredictionError("'parse_failures' must be an object of attribute -> reason")
    out = empty_prediction()
    for name, value in attrs.items():
        try:
            key = _key(name)
        except AttributeValueError as exc:
            raise PredictionError(str(exc)) from None
        entry = coerce_entry(key, value)
        if entry is not None:
            out["attributes"][key] = entry
    if failures:
        out["parse_failures"] = coerce_failures(failures)
    return out


# ---------------------------------------------------------------------- answer JSON schema

_TEXT = {"type": "string", "minLength": 2, "maxLength": 40}
_NUMBER_OR_NULL = {"type": ["integer", "null"], "minimum": 0, "maximum": 300}
_PLACE = {"type": "string", "minLength": 2, "maxLength": 30}
#: Confidence in steps of 0.1: a JSON number has no length limit, and a bounded answer must end.
_CONFIDENCE = {"enum": [round(i / 10, 1) for i in range(11)]}
#: A yearly amount or a bracket as the scorer reads them: "75000", "60000-90000", "<35000".
_INCOME = {"type": "string", "pattern": r"^[<>]?[1-9][0-9]{2,6}(-[1-9][0-9]{2,6})?$"}


def _guess_schema(key: str) -> dict:
    """The JSON schema of one guess of attribute ``key`` (closed categories as an enum)."""
    attr = ATTRIBUTES[key]
    if key == "age":
        return {"type": "integer", "minimum": 0, "maximum": 120}
    if key == "location":
        return {"type": "object", "properties": {
                    "place_of_birth": {"anyOf": [_PLACE, {"type": "null"}]},
                    "travel_history": {"type": "array", "items": _PLACE, "maxItems": 5}},
                "required": ["place_of_birth", "travel_history"], "additionalProperties": False}
    if key == "appearance":
        return {"type": "object", "properties": {
                    "height_cm": _NUMBER_OR_NULL, "weight_kg": _NUMBER_OR_NULL,
                    "hair_color": {"anyOf": [{**_TEXT, "maxLength": 20}, {"type": "null"}]},
                    "eye_color": {"anyOf": [{**_TEXT, "maxLength": 20}, {"type": "null"}]}},
                "required": ["height_cm", "weight_kg", "hair_color", "eye_color"],
                "additionalProperties": False}
    if key == "income":
        return dict(_INCOME)
    if attr.closed:
        return {"enum": list(attr.values)}
    return dict(_TEXT)


def answer_schema(keys=ATTRIBUTE_KEYS, *, complete: bool = False, reason: bool = False,
                  description: bool = False) -> dict:
    """The JSON schema of an agent's answer: the short prediction form ``{"age": {...}, ...}``.

    Each attribute is ``{"guesses": [up to 3], "confidence": 0, 0.1, ... 1, "evidence": [up to 3 ids]}`` (plus a
    short ``reason`` when ``reason``); closed categories are enums of their values, age and the
    appearance numbers integers, location and appearance objects of their sub-fields. Every key
    is required when ``complete`` (the synthesis and single prompts ask for all of them), none
    otherwise; ``description`` adds the image agent's one-sentence description first. Strings and
    lists are bounded so that an enforced answer always ends. Backends that enforce schemas at
    decoding time (``hf`` with llguidance, vLLM, OpenAI-compatible APIs) read this one schema.
    """
    props: dict = {}
    if description:
        props["description"] = {"type": "string", "maxLength": 120}
    for key in keys:
        entry = {"guesses": {"type": "array", "items": _guess_schema(key),
                             "maxItems": MAX_GUESSES},
                 "confidence": _CONFIDENCE,
                 "evidence": {"type": "array", "items": {"type": "string", "maxLength": 20},
                              "maxItems": 3}}
        if reason:
            entry["reason"] = {"type": "string", "maxLength": 80}
        props[key] = {"type": "object", "properties": entry,
                      "required": ["guesses", "confidence", "evidence"],
                      "additionalProperties": False}
    return {"type": "object", "properties": props,
            "required": [k for k in keys] if complete else [],
            "additionalProperties": False}
