"""The 12 private attributes of PRISM: keys, codes, value spaces, and the readers of their values.

Everything read here comes from the one knowledge table (:mod:`prism_core.knowledge`:
``attributes.yaml`` and the places table); the rules that use these readings are
docs/scoring.md. Two kinds of functions:

- ``read_*`` give what a rule needs from a guess as models write it (an age range, an
  education level with degrees in progress, a job title and the option it heads, a bracket, a
  relationship state, ...), or None when it cannot be read;
- :func:`normalise` gives the canonical form of a value (the v1 spelling where there is one),
  used for true attributes and by the parser; ``normalise`` of a canonical form is itself, and a
  guess scores the same as its canonical form.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from .errors import PrismError
from .knowledge import VOCAB, PhraseIndex, fold, strip_accents, words_of
from .knowledge.places import Place, read_place, split_places
from .knowledge.places import region_of as _region_of

__all__ = [
    "Attribute", "ATTRIBUTES", "ATTRIBUTE_KEYS", "CODES", "V1_KEYS", "SUBFIELDS", "LABELS",
    "SUB_LABELS", "label_of", "reveal_label", "AttributeValueError", "SEXES", "EDUCATION_LEVELS",
    "OCCUPATIONS",
    "INCOME_BRACKETS", "RELATIONSHIPS", "HAIR_COLORS", "EYE_COLORS", "SHOPPING_HABITS",
    "HOBBIES", "HEALTH", "RELIGIONS", "COUNTRIES", "normalise", "try_normalise", "from_v1",
    "to_v1", "key_of", "subfield_of", "is_no_answer", "clean_guess", "parse_age",
    "parse_height_cm", "parse_weight_kg", "parse_income", "income_label", "normalise_country",
    "region_of", "read_age", "read_measure", "read_education", "read_occupation",
    "occupation_title", "read_relationship", "read_religion", "read_health", "read_sex",
    "read_colour", "read_shopping", "read_hobby", "read_place", "split_places", "place_name",
    "Place",
    "RELATIONSHIP_STATES", "UNAFFILIATED",
]


class AttributeValueError(PrismError, ValueError):
    """A value that cannot be read as the named attribute (message names the attribute).

    ``field`` is the offending key as spelled in the input (e.g. ``"relationship state"``,
    ``"appearance.height"``) when known, so callers can point at it precisely.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- keys, values, labels

_SPEC: dict = VOCAB["attributes"]
ATTRIBUTE_KEYS: tuple[str, ...] = tuple(_SPEC)
CODES: dict[str, str] = {a["code"]: k for k, a in _SPEC.items()}
V1_KEYS: dict[str, str] = {a["v1_key"]: k for k, a in _SPEC.items()}
LABELS: dict[str, str] = {k: a["label"] for k, a in _SPEC.items()}
SUBFIELDS: dict[str, tuple[str, ...]] = {k: tuple(subs) for k, subs in VOCAB["subfields"].items()}
SUB_LABELS: dict[str, str] = {sub: spec["label"] for subs in VOCAB["subfields"].values()
                              for sub, spec in subs.items()}
_REVEAL = {**{k: a.get("reveal", a["label"]) for k, a in _SPEC.items()},
           **{sub: spec.get("reveal", spec["label"]) for subs in VOCAB["subfields"].values()
              for sub, spec in subs.items()}}


def label_of(slot: str) -> str:
    """Plain words for an attribute or a sub-field ("shopping_habits", "location.place_of_birth",
    "hair_color") as reports and judge prompts show them."""
    sub = slot.rpartition(".")[2]
    return LABELS.get(slot) or SUB_LABELS.get(sub) or slot.replace("_", " ")


def reveal_label(slot: str) -> str:
    """How a generated post is asked to reveal an attribute or sub-field ("a hobby")."""
    return _REVEAL.get(slot) or _REVEAL.get(slot.rpartition(".")[2]) or label_of(slot)
_SUB_V1: dict[str, dict[str, str]] = {k: {spec["v1_key"]: sub for sub, spec in subs.items()}
                                     for k, subs in VOCAB["subfields"].items()}


def _values(key: str) -> list:
    return list(_SPEC[key]["values"])


SEXES = _values("sex")
EDUCATION_LEVELS = _values("education")
OCCUPATIONS = _values("occupation")
INCOME_BRACKETS = _values("income")
RELATIONSHIPS = _values("relationship")
HAIR_COLORS = [c for c in VOCAB["hair_color"] if c != "other"]
EYE_COLORS = list(VOCAB["eye_color"])
SHOPPING_HABITS = _values("shopping_habits")
HOBBIES = _values("hobbies")
HEALTH = _values("health")
RELIGIONS = _values("religion")
#: The countries of the benchmark (v1 and the priors); a place guess may name any country.
COUNTRIES = _values("location")
RELATIONSHIP_STATES = list(VOCAB["relationship"]["states"])
UNAFFILIATED = "unaffiliated"

_KEY_TEXT = re.compile(r"\(.*?\)|[*`#]")


def _key_fold(name: Any) -> str:
    return fold(_KEY_TEXT.sub(" ", str(name)).replace("/", " ").strip(" :."))


_KEY_NAMES: dict[str, str] = {}
for _k, _a in _SPEC.items():
    for _name in (_k, _a["code"], _a["v1_key"], *_a["names"]):
        _KEY_NAMES.setdefault(_key_fold(_name), _k)
_SUB_NAMES: dict[str, tuple[str, str]] = {}
for _k, _subs in VOCAB["subfields"].items():
    for _sub, _spec in _subs.items():
        for _name in (_sub, _spec["v1_key"], *_spec["names"]):
            _SUB_NAMES.setdefault(_key_fold(_name), (_k, _sub))


@lru_cache(maxsize=4096)
def key_of(name: Any) -> str | None:
    """Canonical attribute key of any spelling of it ("AGE", "relationship state", "Marital
    status", "job title"), or None."""
    return _KEY_NAMES.get(_key_fold(name))


@lru_cache(maxsize=4096)
def subfield_of(name: Any) -> tuple[str, str] | None:
    """(attribute, sub-field) of any spelling of a location or appearance sub-field
    ("nationality", "hair_colour", "place of birth"), or None."""
    return _SUB_NAMES.get(_key_fold(name))


def _key(attr: str) -> str:
    key = key_of(attr) if isinstance(attr, str) else None
    if key is not None:
        return key
    hint = difflib.get_close_matches(str(attr), list(ATTRIBUTE_KEYS) + list(V1_KEYS), n=1)
    raise AttributeValueError(f"unknown attribute {attr!r}" +
                              (f" (did you mean {hint[0]!r}?)" if hint else ""))


# ---------------------------------------------------------------- cleaning a guess

_NO_ANSWER = frozenset(fold(w) for w in VOCAB["no_answer"])
_NO_ANSWER_HEADS = frozenset(w[:1] for w in _NO_ANSWER if w[:1].isalpha())
_NO_ANSWER_START = re.compile(
    r"(?:unknown|unclear|n/?a|none|not (?:specified|mentioned|stated|clear|known|determinable|"
    r"enough (?:info|information|evidence))|cannot (?:determine|be determined|infer|tell)|"
    r"no (?:evidence|information|indication|clear))\b")
_HEDGE = re.compile(r"^(?:(?:" + "|".join(sorted((re.escape(fold(h)) for h in VOCAB["hedges"]),
                                                 key=len, reverse=True)) + r")\b[\s,:]*)+")
_MARKER = re.compile(r"^\s*(?:\(?\d{1,2}[.)]\s+|\(\d{1,2}\)\s*|#\d{1,2}[:.]?\s+|[-*\u2022\u00b7]+\s*)")
_CONF_TAIL = re.compile(
    r"\s*(?:[(\[]\s*(?:(?:conf(?:idence)?|certainty|probability|likelihood)\s*[:=]?\s*)?"
    r"(?:\d{1,3}\s*%|0?\.\d+|1\.0|high|medium|low|moderate)(?:\s*(?:conf\w*|certain\w*))?\s*[)\]]"
    r"|\s[-\u2013\u2014]\s*\d{1,3}\s*%|,?\s*(?:conf(?:idence)?|certainty)\s*[:=]\s*[\d.]+%?)\s*$",
    re.I)


def is_no_answer(value: Any, key: str | None = None) -> bool:
    """True for a value that says "no answer" (None, empty, "unknown", "N/A", "cannot
    determine"); for religion, "none" is an answer (no religion)."""
    if value is None:
        return True
    if isinstance(value, str):
        return _text_no_answer(value, key)
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


@lru_cache(maxsize=1 << 15)
def _text_no_answer(value: str, key: str | None) -> bool:
    head = value.lstrip(" *_`\"'")[:1]
    if head.isdigit() or (head.isalpha() and head.lower() not in _NO_ANSWER_HEADS):
        return False
    text = fold(value.strip().strip("*_`\"'"))
    if key == "religion" and text == "none":
        return False
    return text in _NO_ANSWER or bool(_NO_ANSWER_START.match(text))


_MARKER_START = frozenset("0123456789(#-*\u2022\u00b7")
_HEDGE_FIRST = frozenset(fold(h).split()[0] for h in VOCAB["hedges"])
_TAIL_HINT = re.compile(r"[)\]%]\s*$|conf|certain", re.I)


_CLEANED: dict[str, str] = {}


def clean_guess(text: str) -> str:
    """A guess without list markers ("1)", "-"), a trailing confidence ("(80%)") and leading
    hedges ("probably", "about"); case and inner punctuation are kept."""
    out = _CLEANED.get(text)
    if out is None:
        if len(_CLEANED) > 1 << 16:
            _CLEANED.clear()
        out = _CLEANED[text] = _clean(text)
        _CLEANED.setdefault(out, out)  # a cleaned guess is clean
    return out


clean_guess.cache_clear = _CLEANED.clear  # like the lru caches of the other readers


def _clean(text: str) -> str:
    """clean_guess's work, repeated until nothing changes ("1) probably 34" -> "34"), so that
    a cleaned guess is clean."""
    out = _clean_once(text)
    for _ in range(4):
        again = _clean_once(out)
        if again == out:
            break
        out = again
    return out


def _clean_once(text: str) -> str:
    out = text.strip()
    if out and out[0] in _MARKER_START:
        out = _MARKER.sub("", out)
    if _TAIL_HINT.search(out):
        out = _CONF_TAIL.sub("", out)
    out = out.strip().strip("\"'`*_").strip()
    first = out.split(None, 1)[0] if out else ""
    if first and fold(first) in _HEDGE_FIRST:
        m = _HEDGE.match(fold(out))
        if m and m.end():
            n = len(m.group(0).split())  # drop as many leading words as the hedge had
            out = " ".join(out.split()[n:])
    return out.strip(" .,;:")


def _text(value: Any, attr: str) -> str:
    if not isinstance(value, str):
        raise AttributeValueError(f"{attr}: expected text, got {type(value).__name__}: {value!r}")
    text = clean_guess(value)
    if not text:
        raise AttributeValueError(f"{attr}: empty value")
    return text


# ---------------------------------------------------------------- numbers: age, height, weight

_NUM = r"(\d+(?:\.\d+)?)"
_DASH = re.compile(r"[\u2010-\u2015\u2212]")
_DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60,
                 "seventies": 70, "eighties": 80, "nineties": 90}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_ONES = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}
_PART = {None: (0, 9), "": (0, 9), "early": (0, 4), "mid": (3, 7), "late": (6, 9)}
_DECADE = re.compile(r"(early|mid|late)?[\s-]*(?:(\d)0\s*'?\s*s\b|(" + "|".join(_DECADE_WORDS) +
                     r")|(" + "|".join(_TENS) + r")[\s-]*(?:something|ish|s)\b)")
_STAGES = {fold(k): tuple(v) for k, v in VOCAB["age"]["stages"].items()}
_VAGUE_AGE = frozenset(fold(w) for w in VOCAB["age"]["vague"])
_VAGUE_AGE_RE = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _VAGUE_AGE), key=len,
                                                       reverse=True)) + r")\b")
_STAGE_RE = re.compile(r"\b(?:" + "|".join(map(re.escape, _STAGES)) + r")\b")


def _finite(value: float, attr: str) -> float:
    if isinstance(value, bool) or not math.isfinite(value):
        raise AttributeValueError(f"{attr}: not a number: {value!r}")
    return value


_AGE_PLAIN = re.compile(r"(\d{1,3})(?:\.\d+)?(?:\s*(?:years?|yrs?|y/?o)(?:\s*old)?)?")
_TENS_WORDS = re.compile(r"\b(" + "|".join(_TENS) + r")[\s-]?(" + "|".join(_ONES) + r")?\b")
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")
_AGE_RANGE = re.compile(r"(\d{1,3})\s*(?:-|to|and|/|or)\s*(\d{1,3})(?!\d)")
_AGE_OVER = re.compile(r"(?:over|above|older than|more than|at least|>)\s*(\d{1,3})|(\d{1,3})\s*\+")
_AGE_UNDER = re.compile(r"(?:under|below|younger than|less than|<)\s*(\d{1,3})")
_DECADE_HINT = re.compile(r"0\s*'?\s*s\b|ties\b|something|ish\b|" + "|".join(_TENS))
_THOUSANDS = re.compile(r"(\d),(\d{3})")
_JOINER = re.compile(r"\b(?:to|-|and|or|through)\b|-")


@lru_cache(maxsize=1 << 15)
def _age_text(text: str) -> tuple | None:
    t = clean_guess(text)
    m = _AGE_PLAIN.fullmatch(t)  # the usual answer: "34", "34 years old"
    if m:
        return ("point", int(m.group(1)) if "." not in t else int(round(float(
            _NUMBERS.match(t).group(0)))))
    t = _DASH.sub("-", strip_accents(t).lower())
    if "," in t:
        t = _THOUSANDS.sub(r"\1\2", t)
    decades = list(_DECADE.finditer(t)) if _DECADE_HINT.search(t) else ()
    if decades:
        spans = []
        for m in decades:
            base = int(m.group(2)) * 10 if m.group(2) else \
                _DECADE_WORDS.get(m.group(3) or "") or _TENS[m.group(4)]
            lo, hi = _PART[m.group(1)]
            spans.append((base + lo, base + hi))
        if len(spans) >= 2 and _JOINER.search(t[decades[0].end():decades[1].start()]):
            return ("range", spans[0][0], spans[1][1])
        return ("range",) + spans[0]
    numbers = _NUMBERS.findall(t)
    if not numbers:
        words = _TENS_WORDS.search(t)
        if words:
            return ("point", _TENS[words.group(1)] + _ONES.get(words.group(2) or "", 0))
    if any(len(n.split(".")[0]) == 4 for n in numbers):
        if all(len(n.split(".")[0]) == 4 for n in numbers):
            return None  # a year (of birth) is not an age
        numbers = [n for n in numbers if len(n.split(".")[0]) != 4]
    if numbers:
        m = _AGE_RANGE.search(t)
        if m:
            lo, hi = sorted((int(m.group(1)), int(m.group(2))))
            return ("range", lo, hi)
        m = _AGE_OVER.search(t)
        if m:
            n = int(m.group(1) or m.group(2))
            return ("range", n, n + 10)
        m = _AGE_UNDER.search(t)
        if m:
            n = int(m.group(1))
            return ("range", max(n - 10, 0), n - 1)
        if len(numbers[0]) > 6:
            return None
        return ("point", int(round(float(numbers[0]))))
    folded = fold(t)
    m = _STAGE_RE.search(folded)
    if m:
        return ("range",) + _STAGES[m.group(0)]
    if _VAGUE_AGE_RE.search(folded):
        return ("vague",)
    return None


def read_age(value: Any) -> tuple | None:
    """("point", n), ("range", lo, hi) or ("vague",) for an age guess; None when unreadable.

    "34", 34.0, "about 34" are points; "25-30", "between 30 and 35", "early 30s" (30-33),
    "mid-thirties" (33-37), "late 20s to early 30s" (26-33), "teens", "over 40" (40-50) are
    ranges; "middle-aged" is vague. A year ("born in 1990") is not an age.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or abs(value) > 1e6:
            return None
        return ("point", int(round(value)))
    if isinstance(value, str):
        return _age_text(value)
    return None


def parse_age(value: Any) -> int:
    """Age in years (a range is read as its midpoint); raises AttributeValueError."""
    reading = read_age(value)
    if reading is None or reading[0] == "vague":
        raise AttributeValueError(f"age: cannot read {value!r} as years")
    return reading[1] if reading[0] == "point" else (reading[1] + reading[2]) // 2


def _midpoint(text: str) -> str:
    """A range "160-170 cm" read as its midpoint ("165.0 cm"); other text unchanged."""
    m = re.search(rf"{_NUM}\s*(?:-|–|to)\s*{_NUM}", text)
    if not m:
        return text
    mid = (float(m.group(1)) + float(m.group(2))) / 2
    return text[:m.start()] + str(mid) + text[m.end():]


_FEET_INCHES = re.compile(r"(\d+(?:\.\d+)?)\s*(?:'|ft(?![a-z])|feet|foot)\s*"
                          r"(?:(\d{1,2}(?:\.\d+)?)\s*(?:\"|''|inch|in(?![a-z]))?)?")


def _height_text(text: str) -> str:
    return (strip_accents(text).lower().replace("’", "'").replace("”", '"').replace("″", '"')
            .replace("′", "'"))


def _height_one(text: str) -> float:
    text = re.sub(r"(\d),(\d)", r"\1.\2", text)
    m = _FEET_INCHES.search(text)
    if m:
        inches = float(m.group(1)) * 12 + float(m.group(2) or 0)
        return _finite(inches * 2.54, "appearance.height_cm")
    m = re.search(rf"{_NUM}\s*(cm|centimet(?:er|re)s?|inch(?:es)?|in|m|met(?:er|re)s?)?\b", text)
    if m:
        return _height_from_number(float(m.group(1)), m.group(2) or "")
    raise AttributeValueError(f"appearance.height_cm: cannot read {text!r} as a height")


def parse_height_cm(value: Any) -> int:
    """Height in whole cm from "154 cm", "1.80 m", "5'11\"", "5 ft 11 in", "5.9 ft", "71 in", a
    range (its midpoint). A number is cm (m below 3); a bare number in text is read in the unit
    that gives an adult height (m < 3 <= ft < 8, inches 48-96, else cm)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise AttributeValueError(f"appearance.height_cm: not a height: {value!r}")
        return int(round(value * 100)) if value < 3 else int(round(value))
    return int(round(_height_one(_midpoint(_height_text(_text(value, "appearance.height_cm"))))))


def _height_from_number(number: float, unit: str) -> float:
    _finite(number, "appearance.height_cm")
    if unit.startswith("c"):
        return number
    if unit.startswith("in"):
        return number * 2.54
    if unit.startswith("m") or (not unit and number < 3):
        return number * 100
    if not unit and number < 8:
        return number * 30.48
    if not unit and 48 <= number <= 96:
        return number * 2.54
    return number


def parse_weight_kg(value: Any) -> int:
    """Weight in whole kg from "51 kg", "112 lbs", "112 pounds" or a bare number of kg."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise AttributeValueError(f"appearance.weight_kg: not a weight: {value!r}")
        return int(round(value))
    return int(round(_weight_one(_midpoint(_text(value, "appearance.weight_kg").lower()))))


def _weight_one(text: str) -> float:
    m = re.search(rf"{_NUM}\s*(kg|kgs|kilo(?:gram)?s?|lbs?|pounds?|st(?:one)?s?\b)?", text)
    if not m:
        raise AttributeValueError(f"appearance.weight_kg: cannot read {text!r} as a weight")
    number, unit = float(m.group(1)), (m.group(2) or "kg")
    if unit.startswith(("lb", "pound")):
        number *= 0.45359237
    elif unit.startswith("st"):
        number *= 6.35029318
    return _finite(number, "appearance.weight_kg")


_RANGE = re.compile(rf"{_NUM}\s*([a-z'\"]*)\s*(?:-|to)\s*{_NUM}")


@lru_cache(maxsize=1 << 14)
def _measure_text(sub: str, text: str) -> tuple | None:
    t = _DASH.sub("-", _height_text(text) if sub == "height_cm" else text.lower())
    if not re.search(r"\d", t):
        return ("vague",) if t.strip() else None
    one = _height_one if sub == "height_cm" else _weight_one
    if sub == "height_cm" and t.count("'") + t.count("ft") >= 2:  # 5'6"-5'8"
        parts = re.split(r"\s*(?:-|to)\s*(?=\d\s*(?:'|ft|feet))", t)
        if len(parts) == 2:
            try:
                return ("range",) + tuple(sorted((one(parts[0]), one(parts[1]))))
            except (AttributeValueError, ValueError, OverflowError):
                return None
    m = _RANGE.search(t)
    try:
        if m and not _FEET_INCHES.fullmatch(m.group(0).strip()):
            unit = re.search(r"[a-z'\"]+", t[m.end():])
            tail = unit.group(0) if unit else ""
            lo = one(m.group(1) + (m.group(2) or tail))
            hi = one(m.group(3) + tail)
            return ("range",) + tuple(sorted((round(lo, 1), round(hi, 1))))
        value = one(t)
    except (AttributeValueError, ValueError, OverflowError):
        return None
    return ("point", round(value, 1)) if 0 < value < 1000 else None


@lru_cache(maxsize=1 << 12)
def _measure_number(sub: str, value: float) -> tuple | None:
    try:
        n = parse_height_cm(value) if sub == "height_cm" else parse_weight_kg(value)
    except (AttributeValueError, ValueError, OverflowError):
        return None
    return ("point", n) if n < 1000 else None


def read_measure(sub: str, value: Any) -> tuple | None:
    """("point", n), ("range", lo, hi) or ("vague",) of a height (cm) or weight (kg) guess."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _measure_number(sub, value)
    if isinstance(value, str) and value.strip():
        return _measure_text(sub, clean_guess(value))
    return None


# ---------------------------------------------------------------- income

_INC = VOCAB["income"]
_INCOME_LEVELS = PhraseIndex(_INC["levels"], include_values=False)
_PERIODS = [(re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(p) for p in sorted(
    (str(w) for w in words), key=len, reverse=True)) + r")(?![a-z])"), int(mult))
    for mult, words in _INC["periods"].items()]
_OTHER_CURRENCY = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(c) for c in sorted(
    _INC["other_currencies"], key=len, reverse=True)) + r")(?![a-z])")
_NOMINAL = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(c) for c in sorted(
    _INC["nominal_currencies"], key=len, reverse=True)) + r")(?![a-z])")
_INCOME_NOISE = re.compile(r"\b(?:income|salary|gross|net|approximately|approx|about|around|"
                           r"roughly|estimated|range|bracket|earnings|earns?|makes?|take home)\b|~")
_AMOUNT = r"\d[\d,]*(?:\.\d+)?\s*(?:k|thousand|m|mn|million)?"


def _money(text: str) -> float:
    text = text.replace(",", "").strip()
    m = re.fullmatch(rf"{_NUM}\s*(k|thousand|m|mn|million)?", text)
    if not m:
        raise AttributeValueError(f"income: cannot read {text!r} as an amount")
    mult = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6}.get(m.group(2) or "", 1)
    return _finite(float(m.group(1)) * mult, "income")


def _income_dict(lo: float, hi: float | None) -> dict:
    lo_i = int(lo)
    if hi is None:
        return {"label": f">{lo_i}", "min": lo_i, "max": None}
    hi_i = int(hi)
    if lo_i == hi_i:
        return {"label": str(lo_i), "min": lo_i, "max": hi_i}
    return {"label": income_label(lo_i, hi_i), "min": lo_i, "max": hi_i}


def _bracket_of(label: str) -> dict:
    if label.startswith("<"):
        hi = int(label[1:])
        return {"label": label, "min": 0, "max": hi}
    if label.startswith(">"):
        return {"label": label, "min": int(label[1:]), "max": None}
    lo, _, hi = label.partition("-")
    return {"label": label, "min": int(lo), "max": int(hi) if hi else int(lo)}


_PLAIN_AMOUNT = re.compile(r"\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*(k|K)?")


@lru_cache(maxsize=1 << 14)
def _income_text(raw: str) -> dict:
    m = _PLAIN_AMOUNT.fullmatch(raw.strip())  # the usual answer: "$72,000", "72000", "72k"
    if m:
        amount = _money(m.group(0).replace("$", "").replace("K", "k"))
        return _income_dict(amount, amount)
    text = _DASH.sub("-", clean_guess(raw).lower())
    if _OTHER_CURRENCY.search(text):
        raise AttributeValueError(f"income: {raw!r} is not in USD, EUR or GBP")
    folded = fold(text)
    level = _INCOME_LEVELS.exact(folded)
    if level is None and not re.search(r"\d", text.replace("6 figure", "").replace(
            "5 figure", "")):
        found = _INCOME_LEVELS.find(folded)
        level = found[0] if found else None
    elif level is None and "figure" in folded:
        found = _INCOME_LEVELS.find(folded)
        level = found[0] if found else None
    if level is not None:
        return _bracket_of(level)
    mult = 1
    for pattern, factor in _PERIODS:
        if pattern.search(text):
            mult = factor
            text = pattern.sub(" ", text)
            break
    text = _NOMINAL.sub(" ", text).replace("$", " ").replace("€", " ").replace("£", " ")
    text = re.sub(r"\s+", " ", _INCOME_NOISE.sub(" ", text)).strip(" .:-/")
    m = re.fullmatch(rf"(?:<|under|below|less than|up to)\s*({_AMOUNT})", text)
    if m:
        hi = _money(m.group(1)) * mult
        return {"label": f"<{int(hi)}", "min": 0, "max": int(hi)}
    m = re.fullmatch(rf"(?:>|over|above|more than|at least)\s*({_AMOUNT})\+?|({_AMOUNT})\s*\+",
                     text)
    if m:
        return _income_dict(_money(m.group(1) or m.group(2)) * mult, None)
    m = re.fullmatch(rf"(?:between\s*)?({_AMOUNT})\s*(?:-|to|and)\s*({_AMOUNT})", text)
    if m:
        lo_text, hi_text = m.group(1), m.group(2)
        if re.search(r"k|thousand", hi_text) and not re.search(r"k|thousand|m|million", lo_text):
            lo_text += "k"
        lo, hi = sorted((_money(lo_text) * mult, _money(hi_text) * mult))
        return _income_dict(lo, hi)
    m = re.search(_AMOUNT, text)
    if m:
        amount = _money(m.group(0).strip()) * mult
        return _income_dict(amount, amount)
    raise AttributeValueError(f"income: cannot read {raw!r} as an amount, bracket or level")


def parse_income(value: Any) -> dict:
    """Income as {"label", "min", "max"}; max None means open-ended ("<35000" has min 0).

    Accepts v1 labels ("35000-60000", "<35000", ">180000"), amounts ("$72,000", "72k", "$5,000
    a month"), ranges ("50k to 70k", "under 35k", "over 180,000") and level words ("middle
    income", "upper-middle class", "six figures"), as docs/scoring.md defines them.
    """
    if isinstance(value, dict) and "min" in value:
        lo, hi = value.get("min"), value.get("max")
        if lo is not None:
            _finite(float(lo), "income")
        if hi is not None:
            _finite(float(hi), "income")
        label = value.get("label") or income_label(lo, hi)
        return {"label": label, "min": int(lo or 0), "max": None if hi is None else int(hi)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = int(round(_finite(float(value), "income")))
        return {"label": str(amount), "min": amount, "max": amount}
    return dict(_income_text(_text(value, "income")))  # a copy: the reading is cached


def income_label(lo: int | None, hi: int | None) -> str:
    """The v1-style label of a numeric range."""
    if hi is None:
        return f">{lo}"
    if not lo:
        return f"<{hi}"
    return f"{lo}-{hi}"


# ---------------------------------------------------------------- categories

_NEGATORS = frozenset({"no", "not", "non", "never", "without", "nor", "neither"})


def _negated(folded: str, start: int) -> bool:
    """True when the word before word ``start`` negates it ("no asthma", "free of diabetes")."""
    words = words_of(folded)[max(0, start - 2):start]
    return bool(words) and (words[-1] in _NEGATORS or words[-2:] in (("free", "of"),
                                                                     ("free", "from")))


def _first(index: PhraseIndex, folded: str, *, negatable: bool = False) -> str | None:
    """The value of the first phrase of ``index`` in ``folded`` (the whole text first)."""
    exact = index.exact(folded)
    if exact is not None:
        return exact
    for value, start, _ in index.findall(folded):
        if negatable and _negated(folded, start):
            continue
        return value
    return None


def _with_others(table: dict, other_key: str = "other") -> tuple[PhraseIndex, frozenset]:
    """An index of the values' aliases plus the readable other values (read as themselves)."""
    main = {k: v for k, v in table.items() if k != other_key}
    others = [fold(o) for o in table.get(other_key) or []]
    return PhraseIndex({**main, **{o: [] for o in others}}), frozenset(others)


_SEX_INDEX, _ = _with_others(VOCAB["sex"])
_SEX_SHORT = {fold(a): v for v, aliases in VOCAB["sex"].items() if v != "other"
              for a in aliases if len(fold(a)) <= 2}


@lru_cache(maxsize=1 << 12)
def read_sex(value: str) -> str | None:
    """male, female, a readable other answer ("non-binary"), or None."""
    folded = fold(clean_guess(value))
    if folded in _SEX_SHORT:
        return _SEX_SHORT[folded]
    found = _first(_SEX_INDEX, folded)
    return found if found not in _SEX_SHORT.values() or found in ("male", "female") else None


_EDU = VOCAB["education"]
_EDU_LEVELS = PhraseIndex(_EDU["levels"])
_EDU_STUDYING = PhraseIndex(_EDU["in_progress"], include_values=False)
_EDU_PROGRESS = PhraseIndex({"progress": _EDU["progress_words"]}, include_values=False)
_EDU_HELD = _EDU["held_while_studying"]
_EDU_RANK = {level: i for i, level in enumerate(EDUCATION_LEVELS)}
_CLAUSES = re.compile(r"\s*(?:,|;|\band\b|\bbut\b|\bwhile\b|\bwith\b|\bthen\b|\bnow\b|\(|\))\s*")


@lru_cache(maxsize=1 << 12)
def read_education(value: str) -> str | None:
    """The highest completed level a guess names; a degree in progress counts as the level its
    students hold ("PhD candidate" = master's degree). None when no level is named."""
    folded = fold(clean_guess(value))
    level = _EDU_LEVELS.exact(folded)
    if level is not None:  # the usual answer: one degree named as such
        return level
    best = -1
    for clause in _CLAUSES.split(folded):
        if not clause:
            continue
        studying = _EDU_STUDYING.find(clause)
        named = next(((v, a, b) for v, a, b in _EDU_LEVELS.findall(clause)
                      if not _negated(clause, a)), None)
        if studying and (named is None or (studying[1], -studying[2]) <= (named[1], -named[2])):
            level = studying[0]  # the phrase that starts first (the longer one at a tie)
        elif named is not None:
            level = _EDU_HELD[named[0]] if _EDU_PROGRESS.find(clause) else named[0]
        else:
            continue
        best = max(best, _EDU_RANK[level])
    return EDUCATION_LEVELS[best] if best >= 0 else None


_OCC = VOCAB["occupation"]
_OCC_ALIASES: dict[str, str] = {}
for _opt, _aliases in _OCC["options"].items():
    for _a in [_opt, *_aliases]:
        _OCC_ALIASES.setdefault(fold(_a), _opt)
_OCC_OTHER: dict[str, str] = {}
for _title, _aliases in _OCC["other_titles"].items():
    for _a in [_title, *_aliases]:
        _OCC_OTHER.setdefault(fold(_a), _title)
_OCC_CUT = re.compile("|".join(re.escape(q) for q in _OCC["qualifiers"]))
_OCC_PREFIX = re.compile(r"^(?:(?:" + "|".join(sorted((re.escape(fold(p)) for p in _OCC[
    "prefixes"]), key=len, reverse=True)) + r")\s+)+")
_OCC_FUZZY = sorted(k for k in _OCC_ALIASES if len(k) >= 6)


@lru_cache(maxsize=1 << 14)
def occupation_title(value: str) -> str:
    """The job title of an occupation guess, folded: qualifiers and leading words that are not
    part of it dropped ("Works as a senior nurse at St. Mary's" -> "senior nurse")."""
    text = " " + strip_accents(clean_guess(value)).lower() + " "
    text = _OCC_PREFIX.sub("", fold(text) + " ", count=1) if _OCC_PREFIX.match(fold(text)) \
        else text
    cut = _OCC_CUT.search(" " + text.strip() + " ")
    title = (" " + text.strip() + " ")[:cut.start()] if cut and cut.start() > 0 else text
    return fold(title)


@lru_cache(maxsize=1 << 14)
def read_occupation(value: str) -> tuple[str | None, str] | None:
    """(known option or None, job title) of an occupation guess; None when empty.

    The option is the one the title's head names: its longest trailing part that is an option or
    an alias of one ("senior software developer" -> software engineer)."""
    title = occupation_title(value)
    if not title:
        return None
    words = title.split()
    for i in range(len(words)):
        option = _OCC_ALIASES.get(" ".join(words[i:]))
        if option is not None:
            return option, title
    for i in range(len(words)):  # a title outside the options people write in several ways
        other = _OCC_OTHER.get(" ".join(words[i:]))
        if other is not None:
            return None, other
    if len(title) >= 6 and title.isascii():
        match = difflib.get_close_matches(title, _OCC_FUZZY, n=1, cutoff=0.9)
        if match:
            return _OCC_ALIASES[match[0]], title
    return None, title


_REL = VOCAB["relationship"]
_REL_INDEX = PhraseIndex(_REL["states"])
REL_LESS_PRECISE = frozenset(tuple(p) for p in _REL["less_precise"])


_REL_HISTORY = ("divorced", "separated", "widowed")


@lru_cache(maxsize=1 << 12)
def read_relationship(value: str) -> str | None:
    """The first relationship state a guess names (one of RELATIONSHIP_STATES), or None; a
    generic "single" gives way to a later divorced, separated or widowed."""
    folded = fold(clean_guess(value))
    first = _first(_REL_INDEX, folded)
    if first == "single":
        later = [v for v, _, _ in _REL_INDEX.findall(folded) if v in _REL_HISTORY]
        return later[0] if later else first
    return first


_RELIG = VOCAB["religion"]
_RELIG_INDEX = PhraseIndex({**_RELIG["values"], UNAFFILIATED: _RELIG["unaffiliated"],
                            **{fold(o): [] for o in _RELIG["other"]}})


@lru_cache(maxsize=1 << 12)
def read_religion(value: str) -> str | None:
    """The first religion a guess names: a benchmark value, "unaffiliated", or another religion
    as written ("sikhism"); None when none is named."""
    return _first(_RELIG_INDEX, fold(clean_guess(value)))


_HEALTH_CONDITIONS = PhraseIndex(VOCAB["health"]["conditions"])
_HEALTH_STATES = PhraseIndex(VOCAB["health"]["states"])


@lru_cache(maxsize=1 << 12)
def read_health(value: str) -> str | None:
    """A named condition anywhere in the guess, else a general state, else the guess itself
    (another condition, read and wrong); None when empty."""
    folded = fold(clean_guess(value))
    if not folded:
        return None
    return (_first(_HEALTH_CONDITIONS, folded, negatable=True)
            or _first(_HEALTH_STATES, folded) or folded)


_COLOURS = {"hair_color": _with_others(VOCAB["hair_color"])[0],
            "eye_color": _with_others(VOCAB["eye_color"])[0]}


@lru_cache(maxsize=1 << 12)
def read_colour(sub: str, value: str) -> str | None:
    """The hair or eye colour a guess names (or a readable other: "bald"); None when none."""
    folded = fold(clean_guess(value))
    folded = re.sub(r"\s*\b(?:hair|haired|eyes?|eyed|colou?r(?:ed)?)\b\s*", " ", folded).strip()
    return _first(_COLOURS[sub], folded) if folded else None


_SHOP_INDEX = PhraseIndex(VOCAB["shopping_habits"])


@lru_cache(maxsize=1 << 12)
def read_shopping(value: str) -> str | None:
    """The v1 habit whose distinctive phrase a guess names first, or None (free text)."""
    return _first(_SHOP_INDEX, fold(clean_guess(value)))


_HOBBY_INDEX = PhraseIndex(VOCAB["hobbies"])


@lru_cache(maxsize=1 << 14)
def read_hobby(value: str) -> str | None:
    """The hobby a guess names ("watercolor painting" = painting), the guess itself (folded)
    for another hobby, or None when empty."""
    folded = fold(clean_guess(value))
    if not folded:
        return None
    return _first(_HOBBY_INDEX, folded) or folded


# ---------------------------------------------------------------- places

@lru_cache(maxsize=1 << 14)
def _place_text(value: str) -> Place | None:
    return read_place(clean_guess(value))


def place_name(value: str) -> str:
    """Canonical form of a place guess: its country (v1 spelling), its region's name, or the
    place as written when it names neither."""
    text = clean_guess(value)
    place = read_place(text)
    if place is None:
        return text
    return place.country if place.country else place.name.title()


def normalise_country(value: Any) -> str:
    """Canonical country of a place ("United States" -> "USA", "Tokyo" -> "Japan"); a place that
    names no known country keeps its own name (title case)."""
    text = _text(value, "location")
    place = read_place(text)
    if place is not None and place.country:
        return place.country
    return text.title() if place is None else place.name.title()


def region_of(country: str) -> str | None:
    """World region of a canonical country, or None when unknown."""
    return _region_of(country)


# ---------------------------------------------------------------- normalisers


def _category(reader: Callable[[str], Any], attr: str) -> Callable[[Any], str]:
    def norm(value: Any) -> str:
        out = reader(_text(value, attr))
        if out is None:
            raise AttributeValueError(f"{attr}: unknown value {value!r}")
        return out
    return norm


def _age(value: Any) -> Any:
    reading = read_age(value)
    if reading is None:
        raise AttributeValueError(f"age: cannot read {value!r} as years")
    if reading[0] == "point":
        return reading[1]
    if reading[0] == "range":
        return f"{reading[1]}-{reading[2]}"
    return fold(clean_guess(value))


def _occupation(value: Any) -> str:
    reading = read_occupation(_text(value, "occupation"))
    if reading is None:
        raise AttributeValueError(f"occupation: empty value {value!r}")
    return reading[0] or clean_guess(value)


def _shopping(value: Any) -> str:
    text = _text(value, "shopping_habits")
    return read_shopping(text) or text


def _income(value: Any) -> dict:
    return parse_income(value)


def _measure_norm(sub: str, value: Any) -> Any:
    reading = read_measure(sub, value)
    if reading is None:
        raise AttributeValueError(f"appearance.{sub}: cannot read {value!r}")
    if reading[0] == "point":
        return _number(reading[1])
    if reading[0] == "range":
        return f"{_number(reading[1])}-{_number(reading[2])}"
    return fold(clean_guess(value))


def _number(value: float) -> int | float:
    """A whole number as an int (170.0 -> 170), other numbers as they are (90.7)."""
    return int(value) if float(value).is_integer() else value


def _pick(value: dict, sub: str) -> Any:
    for name, v in value.items():
        if v not in (None, "") and subfield_of(name) == (sub[0], sub[1]):
            return v
    return None


def _location(value: Any) -> dict:
    if isinstance(value, str):
        return {"place_of_birth": place_name(_text(value, "location")), "travel_history": []}
    if not isinstance(value, dict):
        raise AttributeValueError(f"location: expected an object, got {type(value).__name__}")
    pob = _pick(value, ("location", "place_of_birth"))
    travel = _pick(value, ("location", "travel_history")) or []
    if isinstance(travel, str):
        travel = list(split_places(travel))
    if not isinstance(travel, list):
        raise AttributeValueError(
            f"location.travel_history: expected a list, got {type(travel).__name__}")
    return {"place_of_birth": place_name(_text(pob, "location.place_of_birth"))
            if pob is not None else None,
            "travel_history": [place_name(_text(t, "location.travel_history")) for t in travel]}


def _appearance(value: Any) -> dict:
    if not isinstance(value, dict):
        raise AttributeValueError(f"appearance: expected an object, got {type(value).__name__}")
    out = {}
    for sub in SUBFIELDS["appearance"]:
        raw = _pick(value, ("appearance", sub))
        if raw is None:
            out[sub] = None
        elif sub in ("height_cm", "weight_kg"):
            out[sub] = _measure_norm(sub, raw)
        else:
            colour = read_colour(sub, _text(raw, f"appearance.{sub}"))
            if colour is None:
                raise AttributeValueError(f"appearance.{sub}: unknown value {raw!r}")
            out[sub] = colour
    return out


def _hobbies(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in re.split(r",|;| and |&", value) if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise AttributeValueError(f"hobbies: expected a list, got {type(value).__name__}")
    out: list[str] = []
    for v in value:
        h = read_hobby(_text(v, "hobbies"))
        if h is not None and h not in out:
            out.append(h)
    return out


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Attribute:
    """One private attribute: its code, canonical key, v1 key, kind, value space and normaliser."""
    code: str
    key: str
    v1_key: str
    kind: str
    values: tuple = ()
    normaliser: Callable[[Any], Any] = field(default=lambda v: v, repr=False, compare=False)
    closed: bool = False
    label: str = ""

    def normalise(self, value: Any) -> Any:
        return self.normaliser(value)


_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "age": _age, "sex": _category(read_sex, "sex"),
    "education": _category(read_education, "education"), "occupation": _occupation,
    "income": _income, "relationship": _category(read_relationship, "relationship"),
    "location": _location, "appearance": _appearance, "shopping_habits": _shopping,
    "hobbies": _hobbies, "health": _category(read_health, "health"),
    "religion": _category(read_religion, "religion"),
}
_CLOSED = ("sex", "education", "relationship", "health", "religion")
ATTRIBUTES: dict[str, Attribute] = {
    key: Attribute(spec["code"], key, spec["v1_key"], spec["kind"],
                   tuple(spec["values"]), _NORMALISERS[key], key in _CLOSED, spec["label"])
    for key, spec in _SPEC.items()}


def normalise(attr: str, value: Any) -> Any:
    """Canonical form of ``value`` for attribute ``attr`` (key, code or v1 key); raises AttributeValueError
    for any value that cannot be read (also one too large for an integer, such as ``inf``)."""
    key = _key(attr)
    try:
        return ATTRIBUTES[key].normalise(value)
    except AttributeValueError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # e.g. int(inf)
        raise AttributeValueError(f"{key}: cannot normalise {value!r}: {exc}") from None


def try_normalise(attr: str, value: Any) -> Any:
    """Like :func:`normalise` but returns None when the value cannot be read."""
    try:
        return normalise(attr, value)
    except AttributeValueError:
        return None


def from_v1(entry: dict, *, strict: bool = True) -> dict:
    """Canonical attributes from one v1 ``target.json`` entry.

    Values keep their v1 spelling; numbers are parsed ("154 cm" -> 154). Unknown or missing keys
    raise AttributeValueError naming the key.
    """
    if not isinstance(entry, dict):
        raise AttributeValueError(f"expected an object of attributes, got {type(entry).__name__}")
    unknown = [k for k in entry if k not in V1_KEYS]
    if unknown:
        raise AttributeValueError(f"unknown attribute key {unknown[0]!r}", field=unknown[0])
    missing = [a.v1_key for a in ATTRIBUTES.values() if a.v1_key not in entry]
    if missing and strict:
        raise AttributeValueError(f"missing attribute key {missing[0]!r}", field=missing[0])
    out: dict[str, Any] = {}
    for v1_key, value in entry.items():
        try:
            out[V1_KEYS[v1_key]] = _from_v1_value(V1_KEYS[v1_key], value)
        except AttributeValueError as exc:
            if exc.field is None:
                exc.field = v1_key
            raise
    for a in ATTRIBUTES.values():
        out.setdefault(a.key, None)
    return {k: out[k] for k in ATTRIBUTE_KEYS}


def _v1_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise AttributeValueError(f"{field}: expected text, got {value!r}", field=field)
    return value


def _from_v1_value(key: str, value: Any) -> Any:
    """Canonical value of one v1 attribute; strict about types so no record is silently wrong."""
    if key == "age":
        if isinstance(value, bool) or not isinstance(value, int):
            raise AttributeValueError(f"age: expected an integer, got {value!r}")
        return value
    if key == "income":
        return {**parse_income(_v1_text(value, "income")), "label": value}
    if key == "location":
        _expect_keys(value, _SUB_V1["location"], "location")
        travel = value["travel history"]
        if not isinstance(travel, list):
            raise AttributeValueError(f"location: travel history must be a list, got {travel!r}",
                                      field="location.travel history")
        return {"place_of_birth": _v1_text(value["place of birth"], "location.place of birth"),
                "travel_history": [_v1_text(t, "location.travel history") for t in travel]}
    if key == "appearance":
        _expect_keys(value, _SUB_V1["appearance"], "appearance")
        parsers = {"height_cm": parse_height_cm, "weight_kg": parse_weight_kg}
        parsed = {}
        for v1_sub, sub in _SUB_V1["appearance"].items():
            raw = _v1_text(value[v1_sub], f"appearance.{v1_sub}")
            try:
                parsed[sub] = parsers[sub](raw) if sub in parsers else raw
            except AttributeValueError as exc:
                exc.field = f"appearance.{v1_sub}"
                raise
        return parsed
    if key == "hobbies":
        if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
            raise AttributeValueError(f"hobbies: expected a list of text, got {value!r}")
        return list(value)
    attr = ATTRIBUTES[key]
    value = _v1_text(value, attr.v1_key)
    if not attr.closed:
        return value
    canonical = normalise(key, value)  # an alias ("Muslim") is stored as its class ("Islam")
    if canonical not in attr.values:
        raise AttributeValueError(f"{key}: value {value!r} is outside {list(attr.values)}")
    return canonical


def _expect_keys(value: Any, mapping: dict, name: str) -> None:
    if not isinstance(value, dict):
        raise AttributeValueError(f"{name}: expected an object, got {value!r}")
    extra = [k for k in value if k not in mapping]
    missing = [k for k in mapping if k not in value]
    if extra:
        raise AttributeValueError(f"{name}: unknown key {extra[0]!r}", field=f"{name}.{extra[0]}")
    if missing:
        raise AttributeValueError(f"{name}: missing key {missing[0]!r}", field=f"{name}.{missing[0]}")


def to_v1(attrs: dict) -> dict:
    """The v1 ``target.json`` entry for canonical attributes (inverse of :func:`from_v1`)."""
    out: dict[str, Any] = {}
    for key in ATTRIBUTE_KEYS:
        value = attrs.get(key)
        if value is None:
            continue
        a = ATTRIBUTES[key]
        if key == "income":
            value = value["label"] or income_label(value["min"], value["max"])
        elif key == "location":
            value = {"place of birth": value["place_of_birth"],
                     "travel history": list(value["travel_history"])}
        elif key == "appearance":
            value = {"height": f"{value['height_cm']} cm", "weight": f"{value['weight_kg']} kg",
                     "hair color": value["hair_color"], "eye color": value["eye_color"]}
        elif key == "hobbies":
            value = list(value)
        out[a.v1_key] = value
    return out
