"""Scores predictions against true attributes by the rules of docs/scoring.md, and aggregates them.

The rules are specified in docs/scoring.md (the only place they are written down); the readers
they use are :mod:`prism_core.attributes`, over the knowledge table. Predictions are read by
:func:`prism_eval.parsing.read_prediction` (model text, prediction objects, flat values, v1
entries, dataset rows), the same reader the chain and the metric use.

One user's score (``score_user``)::

    {"top1": float, "top3": float,          # means over the attributes that have a truth
     "coverage": float,                     # share of those attributes answered
     "parse_failure_rate": float,           # share of those attributes that could not be read
     "n_attributes": int, "unreadable": int,  # unreadable guesses, all attributes together
     "error": str | None,                   # why the prediction could not be read, if so
     "judge": dict | None,                  # judge model + prompt version when a judge was given
     "attributes": {key: {
         "top1": float, "top3": float, "answered": bool, "parse_failure": bool,
         "less_precise": bool,               # the top-1 guess earned partial credit
         "guesses": int,                     # guesses scored (up to 3)
         "unreadable": int, "open": int, "judged": int,  # guesses unreadable / left open by
                                             # the rules / decided by the judge
         "subscores": {sub: {"top1": float|None, "top3": float|None}},   # location, appearance
         "recall": float,                                                # hobbies
         "revealed": bool, "modes": [str], "channels": [str],            # only with leakage
     }}}

Attributes without a truth are left out. True attributes that cannot be read raise
:class:`ScoringError` naming the attribute. ``prepare_truth`` normalises a user's truth once
(score_user accepts the result in place of the raw attributes); ``score_users`` scores many
users and sends the judge all open questions at once.

Aggregate (``aggregate``; ``aggregate_by(scores, key)`` per value of a label such as
``"group"`` or ``"variant"`` that the caller put in each user score)::

    {"n_users": int, "top1", "top3", "coverage", "parse_failure_rate", "less_precise",
     "open_share": float, "unreadable": int, "errors": int, "judge": [dict],
     "attributes": {key: {"n", "n_answered", "top1", "top3", "top1_answered", "top3_answered",
                          "less_precise", "coverage", "parse_failure_rate", "unreadable",
                          "guesses", "open", "open_share", "judged",
                          "subscores": {sub: {"n", "top1", "top3"}}, "recall"}},
     # only when the user scores carry leakage (score_user(..., leakage=...)):
     "revealed": GROUP, "unrevealed": GROUP,
     "by_mode": {"explicit": GROUP, "implicit": GROUP},
     "by_channel": {"text": GROUP, "image": GROUP}}

    GROUP = {"n", "top1", "top3", "attributes": {key: {"n", "top1", "top3"}}}

Rates are means over users that have the attribute's truth (unanswered = 0); ``*_answered`` are
means over answering users only. The top-level figures are macro means over attributes (each
attribute weighs the same). ``open_share`` is the share of scored guesses the rules left open
(decided by the judge when there is one, else scored 0). A value is None where nothing was there
to average. ``errors`` counts users whose prediction was not fully readable plus None entries.
"""
from __future__ import annotations

import json
from functools import lru_cache, partial
from typing import Any, Iterable

from prism_core.attributes import (
    ATTRIBUTE_KEYS,
    ATTRIBUTES,
    EDUCATION_LEVELS,
    OCCUPATIONS,
    SHOPPING_HABITS,
    SUBFIELDS,
    UNAFFILIATED,
    AttributeValueError,
    _key,
    is_no_answer,
    parse_income,
    read_age,
    read_colour,
    read_education,
    read_health,
    read_hobby,
    read_measure,
    read_occupation,
    read_place,
    read_relationship,
    read_religion,
    read_sex,
    read_shopping,
    region_of,
    split_places,
    subfield_of,
)
from prism_core.attributes import REL_LESS_PRECISE
from prism_core.attributes import normalise as normalise_value
from prism_core.errors import PrismError

from .parsing import read_prediction

__all__ = ["score_user", "score_users", "aggregate", "aggregate_by", "prepare_truth", "Truth",
           "ScoringError", "SUBFIELDS", "JUDGED", "VERDICT_SCORES", "AGE_TOLERANCE",
           "HEIGHT_TOLERANCE_CM", "WEIGHT_TOLERANCE_KG", "RANGE_WIDTH", "LESS_PRECISE"]

AGE_TOLERANCE = 5
HEIGHT_TOLERANCE_CM = 5
WEIGHT_TOLERANCE_KG = 5
#: A range guess (age in years, height in cm, weight in kg) may be at most this wide.
RANGE_WIDTH = 10
LESS_PRECISE = 0.5
JUDGED = ("occupation", "shopping_habits", "location.place_of_birth")
VERDICT_SCORES = {"yes": 1.0, "less precise": LESS_PRECISE, "no": 0.0}
_EDU_LEVEL = {name: i for i, name in enumerate(EDUCATION_LEVELS)}
_CLOSED = tuple(k for k, a in ATTRIBUTES.items() if a.closed)
_KNOWN_OCCUPATIONS = frozenset(OCCUPATIONS)
_KNOWN_HABITS = frozenset(SHOPPING_HABITS)
_INF = float("inf")
_SCALARS = (str, int, float)
_APP_SUBS = SUBFIELDS["appearance"]
_STRUCTS = frozenset(("location", "appearance"))
_KEYSET = frozenset(ATTRIBUTE_KEYS)
_UNREADABLE = object()  # a guess the rules cannot read
_OPEN = object()        # a guess the rules cannot decide (the judge may)


class ScoringError(PrismError, ValueError):
    """True attributes (or a leakage plan) that cannot be scored against; names the field."""


# ------------------------------------------------------------------ reading one guess (cached)

def _closed_value(key: str, g: Any) -> Any:
    """A closed category's reading of a guess: its value, a readable other answer, or
    _UNREADABLE; ints are ClassLabel ids (index in the value list)."""
    if type(g) is int:
        values = ATTRIBUTES[key].values
        return values[g] if 0 <= g < len(values) else _UNREADABLE
    if type(g) is not str:
        return _UNREADABLE
    return _read_closed(key, g)


@lru_cache(maxsize=1 << 16)
def _read_closed(key: str, g: str) -> Any:
    reader = _CLOSED_READERS[key]
    out = reader(g)
    return _UNREADABLE if out is None else out


_CLOSED_READERS = {"sex": read_sex, "education": read_education,
                   "relationship": read_relationship, "health": read_health,
                   "religion": read_religion}


def _bracket(income: dict) -> tuple:
    """(lo, hi, lo_open, hi_open) of a parsed income; hi = inf when open-ended."""
    lo, hi, label = income["min"] or 0, income["max"], str(income.get("label") or "")
    return (lo, _INF if hi is None else hi, label.startswith(">"), label.startswith("<"))


@lru_cache(maxsize=1 << 15)
def _income_text(value: Any) -> tuple | None:
    try:
        return _bracket(parse_income(value))
    except (AttributeValueError, TypeError, ValueError, OverflowError):
        return None


def _income(value: Any) -> tuple | None:
    t = type(value)
    if t is str or t is int or t is float:
        return _income_text(value)
    if t is dict:
        try:
            return _income_parts(value.get("label"), value.get("min"), value.get("max"))
        except TypeError:  # unhashable parts
            return None
    return None


@lru_cache(maxsize=1 << 12)
def _income_parts(label: Any, lo: Any, hi: Any) -> tuple | None:
    try:
        return _bracket(parse_income({"label": label, "min": lo, "max": hi}))
    except (AttributeValueError, TypeError, ValueError, KeyError, OverflowError):
        return None


@lru_cache(maxsize=1 << 15)
def _place(value: str) -> Any:
    """A Place, _OPEN for a place that names no known country or region, _UNREADABLE empty."""
    if not value.strip():
        return _UNREADABLE
    place = read_place(value)
    return _OPEN if place is None else place


def _pick(guess: dict, sub: str) -> Any:
    """The value of sub-field ``sub`` in a guess object, under any of its spellings."""
    value = guess.get(sub)
    if value is not None and value != "":
        return value
    for name, value in guess.items():
        if value is not None and value != "" and type(name) is str and name != sub:
            found = subfield_of(name)
            if found is not None and found[1] == sub:
                return value
    return None


def _guesses(key: str, entry_guesses: list) -> list | tuple:
    """The guesses to score: no-answer guesses dropped, the first three kept."""
    if key in _STRUCTS:  # guess objects: not hashable
        return _guess_list(key, entry_guesses)
    try:
        return _plain_guesses(key, tuple(entry_guesses))
    except TypeError:  # a nested list or an object where a value was expected
        return _guess_list(key, entry_guesses)


@lru_cache(maxsize=1 << 15)
def _plain_guesses(key: str, guesses: tuple) -> tuple:
    return tuple(_guess_list(key, guesses))


def _guess_list(key: str, entry_guesses) -> list:
    out = []
    for g in entry_guesses:
        t = type(g)
        if t is str:
            if is_no_answer(g, key):
                continue
        elif g is None or ((t is list or t is dict) and not g):
            continue
        out.append(g)
        if len(out) == 3:
            break
    return out


# ------------------------------------------------------------------ the truth

class Truth(dict):
    """True attributes prepared for scoring (key -> normalised form); build with prepare_truth.

    Read-only once built: ``plan`` holds (key, truth, rule, kind) per attribute for the scorer.
    """


def prepare_truth(attributes: Any) -> Truth:
    """Normalise one user's true attributes once (canonical, v1 or ClassLabel-int values).

    Raises ScoringError naming the attribute when a value cannot be read.
    """
    if isinstance(attributes, Truth):
        return attributes
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes)
        except json.JSONDecodeError as exc:
            raise ScoringError(f"true attributes are not valid JSON: {exc}") from None
    if not isinstance(attributes, dict):
        raise ScoringError(f"true attributes must be an object, got {type(attributes).__name__}")
    truth = Truth()
    for name, value in attributes.items():
        if value is None:
            continue
        try:
            key = name if name in _KEYSET else _key(name)
        except AttributeValueError as exc:
            raise ScoringError(f"true attributes: {exc}") from None
        try:
            prepared = _PREPARE[key](key, value)
        except (AttributeValueError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise ScoringError(f"true attribute {key!r} cannot be scored against: {exc}") from None
        if prepared is not None:
            truth[key] = prepared
    truth.plan = [(key, t, _RULES[key], _KIND.get(key, 0)) for key, t in truth.items()]
    return truth


def _freeze(value: Any) -> Any:
    """A hashable copy of a JSON-like value (dicts and lists become tagged tuples)."""
    t = type(value)
    if t is dict:
        return ("{}", tuple([(k, _freeze(v)) for k, v in value.items()]))
    if t is list or t is tuple:
        return ("[]", tuple([_freeze(v) for v in value]))
    return value


def _thaw(value: Any) -> Any:
    if type(value) is tuple:
        tag, items = value
        return {k: _thaw(v) for k, v in items} if tag == "{}" else [_thaw(v) for v in items]
    return value


@lru_cache(maxsize=1 << 14)
def _prepare_struct(key: str, frozen: Any) -> Any:
    """Prepared truth of a location, appearance or hobbies value (cached: truths repeat)."""
    value = _thaw(frozen)
    if key == "location":
        loc = normalise_value("location", value)
        pob = loc["place_of_birth"]
        travel = frozenset(loc["travel_history"])
        if pob is None and not travel:
            return None
        return (pob, region_of(pob) if pob else None, travel or None)
    if key == "appearance":
        app = normalise_value("appearance", value)
        out = []
        for sub in _APP_SUBS:
            v = app[sub]
            if sub in ("height_cm", "weight_kg") and v is not None and type(v) is not int:
                raise AttributeValueError(f"appearance.{sub}: {v!r} is not one number")
            out.append(v)
        return None if all(v is None for v in out) else tuple(out)
    return frozenset(normalise_value("hobbies", value)) or None


def _prepare_age(key: str, value: Any) -> int:
    reading = read_age(value)
    if reading is None or reading[0] != "point":
        raise AttributeValueError(f"age: cannot read {value!r} as one age")
    return reading[1]


def _prepare_category(key: str, value: Any) -> str | None:
    if type(value) is int and value < 0:  # datasets' "no label"
        return None
    out = _closed_value(key, value)
    if out is _UNREADABLE or out not in ATTRIBUTES[key].values:
        raise AttributeValueError(f"{key}: unknown value {value!r}")
    return out


def _prepare_occupation(key: str, value: Any) -> tuple:
    if type(value) is not str:
        raise AttributeValueError(f"occupation: expected text, got {value!r}")
    reading = read_occupation(value)
    if reading is None:
        raise AttributeValueError(f"occupation: empty value {value!r}")
    return (value, reading[1]) if value in _KNOWN_OCCUPATIONS else reading


def _prepare_shopping(key: str, value: Any) -> str:
    if type(value) is not str:
        raise AttributeValueError(f"shopping_habits: expected text, got {value!r}")
    return value if value in _KNOWN_HABITS else (read_shopping(value) or value)


def _prepare_income(key: str, value: Any) -> tuple:
    out = _income(value)
    if out is None:
        raise AttributeValueError(f"income: cannot read {value!r}")
    return out


def _prepare_frozen(key: str, value: Any) -> Any:
    return _prepare_struct(key, _freeze(value))


_PREPARE = {"age": _prepare_age, "income": _prepare_income,
            "occupation": _prepare_occupation, "shopping_habits": _prepare_shopping,
            **{k: _prepare_category for k in _CLOSED},
            **{k: _prepare_frozen for k in ("location", "appearance", "hobbies")}}


# ------------------------------------------------------------------ per-attribute rules
# Each rule takes (truth, guesses[:3], judge, stats) and returns per-guess scores, or per-guess
# sub-score tuples for location / appearance. ``stats`` = [unreadable values, judged, open,
# unreadable guesses] (a struct guess is unreadable when none of its sub-fields is).

def _judge(judge, attribute: str, truth: Any, guess: Any, stats: list) -> float:
    """The judge's verdict on a guess the rules left open (0 and counted open without one)."""
    if judge is None:
        stats[2] += 1
        return 0.0
    verdict = judge.verdict(attribute, truth, guess if isinstance(guess, str) else str(guess))
    if verdict is None:
        stats[2] += 1
        return 0.0
    stats[1] += 1
    return VERDICT_SCORES.get(verdict, 0.0)


def _within(reading: tuple | None, truth: int, tolerance: int, stats: list) -> float:
    """A point within ``tolerance`` of the truth, or a range of at most RANGE_WIDTH that holds it."""
    if reading is None:
        stats[0] += 1
        return 0.0
    kind = reading[0]
    if kind == "point":
        return 1.0 if abs(reading[1] - truth) <= tolerance else 0.0
    if kind == "range":
        lo, hi = reading[1], reading[2]
        return 1.0 if hi - lo <= RANGE_WIDTH and lo <= truth <= hi else 0.0
    return 0.0  # vague: read, too vague to be right


def _rule_age(truth, guesses, judge, stats):
    return [_within(read_age(g) if type(g) in _SCALARS else None, truth, AGE_TOLERANCE, stats)
            for g in guesses]


def _rule_closed(key, truth, guesses, judge, stats):
    out = []
    for g in guesses:
        value = _closed_value(key, g)
        if value is _UNREADABLE:
            stats[0] += 1
            out.append(0.0)
        elif value == truth:
            out.append(1.0)
        elif key == "relationship" and (value, truth) in REL_LESS_PRECISE:
            out.append(LESS_PRECISE)
        elif key == "religion" and value == UNAFFILIATED and truth in ("atheist", "agnostic"):
            out.append(LESS_PRECISE)
        else:
            out.append(0.0)
    return out


def _rule_education(truth, guesses, judge, stats):
    level, out = _EDU_LEVEL[truth], []
    for g in guesses:
        value = _closed_value("education", g)
        if value is _UNREADABLE:
            stats[0] += 1
            out.append(0.0)
        elif value == truth:
            out.append(1.0)
        elif abs(_EDU_LEVEL[value] - level) == 1:
            out.append(LESS_PRECISE)
        else:
            out.append(0.0)
    return out


@lru_cache(maxsize=1 << 15)
def _occupation_verdict(t_option: str | None, t_title: str, guess: str) -> Any:
    """1.0 / 0.0 by the rules, or _OPEN; _UNREADABLE for an empty guess."""
    reading = read_occupation(guess)
    if reading is None:
        return _UNREADABLE
    option, title = reading
    if t_option is not None:
        if option == t_option:
            return 1.0
        return 0.0 if option is not None else _OPEN
    words = title.split()
    if any(" ".join(words[i:]) == t_title for i in range(len(words))) or \
            f" {t_title} " in f" {title} ":
        return 1.0
    return _OPEN


def _rule_occupation(truth, guesses, judge, stats):
    t_option, t_title = truth
    out = []
    for g in guesses:
        verdict = _occupation_verdict(t_option, t_title, g) if type(g) is str else _UNREADABLE
        if verdict is _UNREADABLE:
            stats[0] += 1
            out.append(0.0)
        elif verdict is _OPEN:
            out.append(_judge(judge, "occupation", t_option or t_title, g, stats))
        else:
            out.append(verdict)
    return out


def _rule_shopping(truth, guesses, judge, stats):
    known = truth in _KNOWN_HABITS
    out = []
    for g in guesses:
        if type(g) is not str or not g.strip():
            stats[0] += 1
            out.append(0.0)
            continue
        option = read_shopping(g)
        if option == truth:
            out.append(1.0)
        elif option is not None and known:
            out.append(0.0)
        else:
            out.append(_judge(judge, "shopping_habits", truth, g, stats))
    return out


def _rule_income(truth, guesses, judge, stats):
    lo, hi, lo_open, hi_open = truth
    out = []
    for g in guesses:
        b = _income(g)
        if b is None:
            stats[0] += 1
            out.append(0.0)
        elif b[0] == b[1] and not (b[2] or b[3]):  # an amount: inside the true bracket
            v = b[0]
            inside = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            out.append(1.0 if inside else 0.0)
        else:  # a bracket: overlapping the true one by more than a point
            out.append(1.0 if max(lo, b[0]) < min(hi, b[1]) else 0.0)
    return out


def _place_score(raw: Any, pob: str, region: str | None, judge, stats: list) -> float:
    place = _place(raw) if type(raw) is str else _UNREADABLE
    if place is _UNREADABLE:
        stats[0] += 1
        return 0.0
    if place is _OPEN:
        return _judge(judge, "location.place_of_birth", pob, raw, stats)
    if place.country is not None:
        if place.country == pob:
            return 1.0
        return LESS_PRECISE if region and region_of(place.country) == region else 0.0
    return LESS_PRECISE if pob in place.region else 0.0


def _rule_location(truth, guesses, judge, stats):
    pob, region, travel = truth
    out = []
    for g in guesses:
        if type(g) is str:
            g = {"place_of_birth": g}
        elif type(g) is not dict:
            stats[0] += 1
            stats[3] += 1
            out.append((0.0 if pob else None, 0.0 if travel else None))
            continue
        before, present = stats[0], 0
        s_pob = s_travel = None
        if pob:
            raw = _pick(g, "place_of_birth")
            present += raw is not None
            s_pob = 0.0 if raw is None else _place_score(raw, pob, region, judge, stats)
        if travel:
            raw = _pick(g, "travel_history")
            present += raw is not None
            if raw is None:
                s_travel = 0.0
            else:
                if type(raw) is str:
                    raw = _split_list(raw)
                elif type(raw) not in (list, tuple):
                    raw = (None,)
                seen, bad = _countries(tuple(x if type(x) is str else None for x in raw))
                stats[0] += bad
                hits = sum(1 for c in seen[:max(3, len(travel))] if c in travel)
                s_travel = hits / len(travel)
        _count_unreadable_guess(g, ("place_of_birth", "travel_history"), present, before, stats)
        out.append((s_pob, s_travel))
    return out


@lru_cache(maxsize=1 << 14)
def _countries(items: tuple) -> tuple[tuple, int]:
    """Distinct countries of a guessed travel list, in order, and how many were unreadable
    (regions and unknown places match nothing)."""
    seen: list = []
    bad = 0
    for item in items:
        place = _place(item) if type(item) is str else _UNREADABLE
        if place is _UNREADABLE or place is _OPEN:
            bad += 1
        elif place.country is not None and place.country not in seen:
            seen.append(place.country)
    return tuple(seen), bad


_split_list = split_places


def _rule_appearance(truth, guesses, judge, stats):
    out = []
    for g in guesses:
        if type(g) is not dict:
            stats[0] += 1
            stats[3] += 1
            out.append(tuple(None if t is None else 0.0 for t in truth))
            continue
        before, present = stats[0], 0
        raws = tuple(_pick(g, sub) for sub in _APP_SUBS)
        try:
            readings = _appearance_readings(raws)
        except TypeError:  # a list or object where a value was expected: unreadable
            readings = _appearance_readings(tuple(r if r is None or type(r) in _SCALARS
                                                  else _UNREADABLE for r in raws))
        scores = []
        for sub, t, raw, reading in zip(_APP_SUBS, truth, raws, readings):
            if t is None:
                scores.append(None)
            elif raw is None:
                scores.append(0.0)
            elif sub in _MEASURES:
                present += 1
                scores.append(_within(reading, t, _MEASURES[sub], stats))
            else:
                present += 1
                if reading is None:
                    stats[0] += 1
                scores.append(1.0 if reading == t else 0.0)
        _count_unreadable_guess(g, _APP_SUBS, present, before, stats)
        out.append(tuple(scores))
    return out


_MEASURES = {"height_cm": HEIGHT_TOLERANCE_CM, "weight_kg": WEIGHT_TOLERANCE_KG}


@lru_cache(maxsize=1 << 14)
def _appearance_readings(raws: tuple) -> tuple:
    """The readings of one appearance guess's (height, weight, hair, eye) values: a measure
    reading or a colour, None where absent or unreadable."""
    out = []
    for sub, raw in zip(_APP_SUBS, raws):
        if raw is None or raw is _UNREADABLE:
            out.append(None)
        elif sub in _MEASURES:
            out.append(read_measure(sub, raw) if type(raw) in _SCALARS else None)
        else:
            out.append(read_colour(sub, raw) if type(raw) is str else None)
    return tuple(out)


def _count_unreadable_guess(g: dict, subs: tuple, scored: int, before: int, stats: list) -> None:
    """Count a struct guess as unreadable when none of its sub-fields could be read: it has
    none, or every one was scored (had a truth) and unreadable."""
    if stats[0] - before < scored:  # a scored sub-field was read
        return
    if sum(1 for sub in subs if _pick(g, sub) is not None) > scored:
        return  # it also answers sub-fields without a truth: read, not scored
    stats[3] += 1


def _hobby_list(guesses: list, limit: int, stats: list, seen: list | None = None) -> list:
    """Distinct hobbies the guesses name, in order, flattened, at most ``limit``."""
    seen = [] if seen is None else seen
    for g in guesses:
        if len(seen) >= limit:
            break
        if type(g) is str:
            for part in _split_hobbies(g):
                hobby = read_hobby(part)
                if hobby is None:
                    stats[0] += 1
                elif hobby not in seen:
                    seen.append(hobby)
        elif type(g) in (list, tuple):
            _hobby_list(g, limit, stats, seen)
        else:
            stats[0] += 1
    del seen[limit:]
    return seen


@lru_cache(maxsize=1 << 14)
def _split_hobbies(text: str) -> tuple:
    parts = [p.strip() for p in
             text.replace(";", ",").replace(" and ", ",").replace("&", ",").split(",")]
    return tuple(p for p in parts if p and not is_no_answer(p)) or ((text,) if text.strip() else ())


_RULES = {"age": _rule_age, "education": _rule_education, "income": _rule_income,
          "location": _rule_location, "appearance": _rule_appearance,
          "occupation": _rule_occupation, "shopping_habits": _rule_shopping, "hobbies": None,
          **{k: partial(_rule_closed, k) for k in _CLOSED if k != "education"}}
_KIND = {"location": 1, "appearance": 1, "hobbies": 2}  # 0: one score per guess


# ------------------------------------------------------------------ one user

@lru_cache(maxsize=256)
def _leak_key(name: str) -> str:
    return _key(name.split(".", 1)[0])


def _leakage_index(leakage: Any) -> dict:
    if isinstance(leakage, str):
        leakage = json.loads(leakage)
    if isinstance(leakage, dict):  # datasets' columnar form {"attribute": [...], "mode": [...]}
        n = len(leakage.get("attribute") or [])
        leakage = [{f: (leakage.get(f) or [None] * n)[i] for f in ("attribute", "channel", "mode")}
                   for i in range(n)]
    index: dict[str, tuple[set, set]] = {}
    for i, item in enumerate(leakage):
        try:
            key = _leak_key(item["attribute"])
        except (AttributeValueError, KeyError, TypeError, AttributeError) as exc:
            raise ScoringError(f"leakage[{i}]: no valid 'attribute' ({exc})") from None
        modes, channels = index.setdefault(key, (set(), set()))
        if item.get("mode"):
            modes.add(str(item["mode"]).lower())
        if item.get("channel"):
            channels.add(str(item["channel"]).lower())
    return index


def _mean(values: Iterable) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def score_user(prediction: Any, attributes: Any, *, leakage: Any = None, judge: Any = None) -> dict:
    """Score one prediction against one user's attributes (docs/scoring.md).

    ``prediction``: anything :func:`prism_eval.parsing.read_prediction` reads (model text, a
    prediction object, flat values, a v1 entry, a dataset row's attributes). ``attributes``:
    canonical (or v1, or ClassLabel-int) true attributes, or a prepared Truth. ``leakage``: the
    user's leakage plan (list of {attribute, post_id, channel, mode}); adds the revealed flag,
    modes and channels to each attribute. ``judge``: an object with ``verdict(attribute, truth,
    guess) -> "yes" | "no" | "less precise" | None`` and ``describe()`` (e.g.
    :class:`prism_eval.judge.LLMJudge`); None = rules only. Returns the dict documented above.
    """
    truth = prepare_truth(attributes)
    pred, error = read_prediction(prediction)
    answers, failures = pred["attributes"], pred["parse_failures"]
    all_failed = pred.get("unreadable", False)
    leaks = _leakage_index(leakage) if leakage is not None else None
    out_attrs: dict[str, dict] = {}
    sum1 = sum3 = 0.0
    n_answered = n_failed = n_unreadable = 0
    for key, t, rule, kind in truth.plan:
        entry = answers.get(key)
        raw = entry["guesses"] if entry is not None else None
        scored = None
        if raw and kind == 0 and judge is None:  # the common case, cached whole
            try:
                scored = _scored(key, t, tuple(raw))
            except TypeError:  # an unhashable guess: scored the long way
                scored = None
        if scored is None:
            scored = _score_attribute(key, t, rule, kind, raw, judge)
        top1, top3, answered, less, n_guesses, unread, n_open, judged, subscores, recall = scored
        failed = all_failed or key in failures or (n_guesses > 0 and not answered)
        res = {"top1": top1, "top3": top3, "answered": answered, "parse_failure": failed,
               "less_precise": less, "guesses": n_guesses, "unreadable": unread,
               "open": n_open, "judged": judged}
        if subscores is not None:
            res["subscores"] = {s: dict(v) for s, v in subscores.items()}
        if recall is not None:
            res["recall"] = recall
        if leaks is not None:
            modes, channels = leaks.get(key, ((), ()))
            res["revealed"] = key in leaks
            res["modes"] = sorted(modes)
            res["channels"] = sorted(channels)
        out_attrs[key] = res
        sum1 += top1
        sum3 += top3
        n_answered += answered
        n_failed += failed
        n_unreadable += unread
    n = len(out_attrs)
    return {"top1": sum1 / n if n else None, "top3": sum3 / n if n else None,
            "coverage": n_answered / n if n else None,
            "parse_failure_rate": n_failed / n if n else None,
            "n_attributes": n, "unreadable": n_unreadable, "error": error,
            "judge": _describe(judge),
            "attributes": out_attrs}


@lru_cache(maxsize=1 << 16)
def _scored(key: str, truth: Any, raw: tuple) -> tuple:
    """The scores of an attribute that scores one value per guess, without a judge (the rules
    alone: cached); see _score_attribute."""
    return _score_attribute(key, truth, _RULES[key], 0, raw, None)


def _score_attribute(key: str, t: Any, rule, kind: int, raw, judge) -> tuple:
    """(top1, top3, answered, less precise, guesses, unreadable, open, judged, subscores,
    recall) of one attribute's guesses ``raw`` against its prepared truth ``t``."""
    guesses = _guesses(key, raw) if raw else None
    stats = [0, 0, 0, 0]
    if not guesses:
        return (0.0, 0.0, False, False, 0, 0, 0, 0,
                _unanswered_subscores(key, t) if kind == 1 else None, 0.0 if kind == 2 else None)
    if kind == 2:
        seen = _hobby_list(guesses, max(3, len(t)), stats)
        hits = [h in t for h in seen]
        return (1.0 if hits and hits[0] else 0.0, 1.0 if any(hits[:3]) else 0.0, bool(seen),
                False, len(seen) + stats[0], stats[0], stats[2], stats[1], None,
                sum(hits) / len(t))
    scores = rule(t, guesses, judge, stats)
    answered = (stats[3] if kind == 1 else stats[0]) < len(guesses)
    if kind == 1:
        firsts = scores[0]
        bests = firsts if len(scores) == 1 else [
            None if c[0] is None else max(c) for c in zip(*scores)]
        subscores = {s: {"top1": a, "top3": b} for s, a, b in zip(SUBFIELDS[key], firsts, bests)}
        return (_mean(firsts) or 0.0, _mean(bests) or 0.0, answered,
                key == "location" and firsts[0] == LESS_PRECISE, len(guesses), stats[0],
                stats[2], stats[1], subscores, None)
    top1 = scores[0]
    return (top1, top1 if len(scores) == 1 else max(scores), answered, 0.0 < top1 < 1.0,
            len(guesses), stats[0], stats[2], stats[1], None, None)


def _describe(judge: Any) -> dict | None:
    if judge is None:
        return None
    describe = getattr(judge, "describe", None)
    return describe() if callable(describe) else {"judge": type(judge).__name__}


def _unanswered_subscores(key: str, t: tuple) -> dict:
    mask = (t[0], t[2]) if key == "location" else t
    return {s: ({"top1": None, "top3": None} if x is None else {"top1": 0.0, "top3": 0.0})
            for s, x in zip(SUBFIELDS[key], mask)}


class _Recorder:
    """A stand-in judge that records the questions the rules leave open (for one batched call)."""

    def __init__(self):
        self.items: list[tuple[str, str, str]] = []

    def verdict(self, attribute, truth, guess):
        self.items.append((attribute, truth, guess))
        return None

    def describe(self):
        return None


def score_users(predictions: Iterable, attributes: Iterable, *, leakage: Iterable | None = None,
                judge: Any = None) -> list[dict]:
    """Score many users; with a judge, all open questions go to it in one batch first.

    ``leakage``: one plan per user (or None). A judge with ``prefetch(items)`` gets every
    (attribute, truth, guess) the rules leave open before scoring, so API judges run in batch.
    """
    predictions, truths = list(predictions), [prepare_truth(a) for a in attributes]
    if len(predictions) != len(truths):
        raise ScoringError(f"{len(predictions)} predictions but {len(truths)} true attribute sets")
    leaks = list(leakage) if leakage is not None else [None] * len(truths)
    if len(leaks) != len(truths):
        raise ScoringError(f"{len(leaks)} leakage plans but {len(truths)} users")
    if judge is not None and hasattr(judge, "prefetch"):
        recorder = _Recorder()
        for p, t in zip(predictions, truths):
            score_user(p, t, judge=recorder)
        if recorder.items:
            judge.prefetch(recorder.items)
    return [score_user(p, t, leakage=lk, judge=judge)
            for p, t, lk in zip(predictions, truths, leaks)]


# ------------------------------------------------------------------ aggregation

def _group(user_scores: list[dict], keep) -> dict:
    per: dict[str, list] = {}
    for s in user_scores:
        for key, a in s["attributes"].items():
            if keep(a):
                per.setdefault(key, []).append(a)
    attrs = {k: {"n": len(v), "top1": _mean([a["top1"] for a in v]),
                 "top3": _mean([a["top3"] for a in v])} for k, v in _ordered(per)}
    return {"n": sum(a["n"] for a in attrs.values()),
            "top1": _mean([a["top1"] for a in attrs.values()]),
            "top3": _mean([a["top3"] for a in attrs.values()]), "attributes": attrs}


def _ordered(per: dict) -> list:
    order = {k: i for i, k in enumerate(ATTRIBUTE_KEYS)}
    return sorted(per.items(), key=lambda kv: order.get(kv[0], len(order)))


def aggregate(user_scores: list[dict]) -> dict:
    """Aggregate user scores (from score_user) into the summary described in the module docstring.

    None entries (users that have no score, e.g. a failed run) are skipped and counted in ``errors``.
    """
    user_scores = list(user_scores)
    missing = sum(1 for s in user_scores if s is None)
    user_scores = [s for s in user_scores if s is not None]
    per: dict[str, list] = {}
    for s in user_scores:
        for key, a in s["attributes"].items():
            per.setdefault(key, []).append(a)
    attrs = {}
    for key, items in _ordered(per):
        answered = [a for a in items if a["answered"]]
        guesses = sum(a.get("guesses", 0) for a in items)
        n_open = sum(a.get("open", 0) for a in items)
        entry = {"n": len(items), "n_answered": len(answered),
                 "top1": _mean([a["top1"] for a in items]),
                 "top3": _mean([a["top3"] for a in items]),
                 "top1_answered": _mean([a["top1"] for a in answered]),
                 "top3_answered": _mean([a["top3"] for a in answered]),
                 "less_precise": _mean([float(a["less_precise"]) for a in items]),
                 "coverage": len(answered) / len(items),
                 "parse_failure_rate": sum(a["parse_failure"] for a in items) / len(items),
                 "unreadable": sum(a["unreadable"] for a in items),
                 "guesses": guesses, "open": n_open,
                 "open_share": n_open / guesses if guesses else None,
                 "judged": sum(a["judged"] for a in items)}
        if key in SUBFIELDS:
            entry["subscores"] = {}
            for sub in SUBFIELDS[key]:
                vals = [a["subscores"][sub] for a in items
                        if a.get("subscores") and a["subscores"][sub]["top1"] is not None]
                entry["subscores"][sub] = {"n": len(vals), "top1": _mean([v["top1"] for v in vals]),
                                           "top3": _mean([v["top3"] for v in vals])}
        if key == "hobbies":
            entry["recall"] = _mean([a.get("recall") for a in items])
        attrs[key] = entry
    macro = {f: _mean([a[f] for a in attrs.values()])
             for f in ("top1", "top3", "coverage", "parse_failure_rate", "less_precise")}
    all_guesses = sum(a["guesses"] for a in attrs.values())
    judges = []
    for s in user_scores:
        if s.get("judge") and s["judge"] not in judges:
            judges.append(s["judge"])
    out = {"n_users": len(user_scores), **macro,
           "open_share": (sum(a["open"] for a in attrs.values()) / all_guesses
                          if all_guesses else None),
           "unreadable": sum(s.get("unreadable", 0) for s in user_scores),
           "errors": missing + sum(1 for s in user_scores if s.get("error")),
           "judge": judges, "attributes": attrs}
    with_leak = [s for s in user_scores if any("revealed" in a for a in s["attributes"].values())]
    if with_leak:
        out["revealed"] = _group(with_leak, lambda a: a["revealed"])
        out["unrevealed"] = _group(with_leak, lambda a: not a["revealed"])
        out["by_mode"] = {m: _group(with_leak, lambda a, m=m: m in a["modes"])
                          for m in ("explicit", "implicit")}
        out["by_channel"] = {c: _group(with_leak, lambda a, c=c: c in a["channels"])
                             for c in ("text", "image")}
    return out


def aggregate_by(user_scores: list[dict], key: str) -> dict:
    """{label: aggregate(...)} for each value of ``key`` in the user scores (e.g. "group",
    "variant"); users without the key are grouped under None."""
    groups: dict[Any, list] = {}
    for s in user_scores:
        if s is not None:
            groups.setdefault(s.get(key), []).append(s)
    return {label: aggregate(items) for label, items in groups.items()}
