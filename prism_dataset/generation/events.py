"""Stage Events: a dated life history of 6-12 events over the last months, consistent with the
profile (a birthday at the age the profile has, trips to the countries it travelled to, the
religious holidays of its faith, ...). The skeleton is procedural; a text backend words it.
"""
from __future__ import annotations

import datetime as dt
import random

from .phrases import country_name, load_phrasebook

__all__ = ["HISTORY_END", "HISTORY_MONTHS", "plan_events", "event_facts_text"]

HISTORY_END = dt.date(2025, 6, 30)   # fixed, so the same seed gives the same dates every year
HISTORY_MONTHS = 12

_LOOK_KEYS = ("appearance.hair_color", "appearance.eye_color", "appearance.height_cm",
              "appearance.weight_kg")

# fixed-date occasions inside the history window, per religion
_OCCASIONS = {
    "Christianity": [("Christmas", dt.date(2024, 12, 25)), ("Easter", dt.date(2025, 4, 20))],
    "Islam": [("Eid al-Fitr", dt.date(2025, 3, 30)), ("Eid al-Adha", dt.date(2025, 6, 6))],
    "Hinduism": [("Diwali", dt.date(2024, 11, 1)), ("Holi", dt.date(2025, 3, 14))],
    "Buddhism": [("Vesak", dt.date(2025, 5, 12)), ("the lunar new year", dt.date(2025, 1, 29))],
    "Judaism": [("Hanukkah", dt.date(2024, 12, 26)), ("Passover", dt.date(2025, 4, 13))],
    "Shinto": [("hatsumode", dt.date(2025, 1, 1)), ("Obon", dt.date(2024, 8, 15))],
    "atheist": [("a humanist meetup", None)], "agnostic": [("a philosophy evening", None)],
}
_FAMILY = {"single": "a first date", "married": "a wedding anniversary dinner",
           "divorced": "a custody weekend with the kids",
           "widowed": "the anniversary of the partner's death"}


def _start() -> dt.date:
    return HISTORY_END - dt.timedelta(days=int(HISTORY_MONTHS * 30.44))


def _random_date(rng: random.Random) -> dt.date:
    span = (HISTORY_END - _start()).days
    return _start() + dt.timedelta(days=rng.randrange(span + 1))


def _candidates(profile: dict, rng: random.Random) -> list[dict]:
    """Every event this profile could have, each once (weights favour variety)."""
    out = [{"kind": "birthday", "key": "age", "facts": {"age": profile["age"]}},
           {"kind": "home", "key": "location.place_of_birth",
            "facts": {"country": profile["location"]["place_of_birth"]}},
           {"kind": "work", "key": "occupation", "facts": {"occupation": profile["occupation"]}},
           {"kind": "study", "key": "education", "facts": {"education": profile["education"]}},
           {"kind": "health", "key": "health", "facts": {"health": profile["health"]}},
           {"kind": "family", "key": "relationship",
            "facts": {"relationship": profile["relationship"],
                      "occasion": _FAMILY[profile["relationship"]]}},
           {"kind": "money", "key": "income", "facts": {"income": profile["income"]["label"]}},
           {"kind": "shopping", "key": "shopping_habits",
            "facts": {"habit": profile["shopping_habits"]}}]
    occasion, date = rng.choice(_OCCASIONS.get(profile["religion"], [("a quiet holiday", None)]))
    out.append({"kind": "faith", "key": "religion",
                "facts": {"religion": profile["religion"], "occasion": occasion}, "date": date})
    for country in profile["location"]["travel_history"][:2]:
        out.append({"kind": "trip", "key": "location.travel_history", "item": country,
                    "facts": {"country": country}})
    for hobby in profile["hobbies"][:2]:
        out.append({"kind": "hobby", "key": "hobbies", "item": hobby, "facts": {"hobby": hobby}})
    look = rng.choice(_LOOK_KEYS)
    out.append({"kind": "look", "key": look,
                "facts": {look.split(".")[1]: profile["appearance"][look.split(".")[1]]}})
    return out


def plan_events(profile: dict, rng: random.Random, at_least: int = 0) -> list[dict]:
    """6-12 dated events (at least ``at_least``), sorted by date; each has ``date``, ``kind``,
    ``key`` (the reveal key it is about, or None), ``item`` (list attributes), ``facts``."""
    n = max(rng.randint(6, 12), at_least)
    pool = _candidates(profile, rng)
    rng.shuffle(pool)
    events = pool[:n - rng.randint(0, 2)]   # and a couple of ordinary days
    while len(events) < n:
        events.append({"kind": "everyday", "key": None, "facts": {}})
    out = []
    for e in events:
        date = e.get("date") or _random_date(rng)
        hour, minute = rng.randint(7, 22), rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50))
        out.append({"date": date.isoformat(), "timestamp": f"{date.isoformat()}T{hour:02d}:"
                    f"{minute:02d}:00", "kind": e["kind"], "key": e.get("key"),
                    "item": e.get("item"), "facts": e["facts"], "description": None})
    out.sort(key=lambda e: (e["timestamp"], e["kind"]))
    return out


def event_facts_text(event: dict) -> str:
    """A plain statement of an event's facts: the template backend's description, and the
    hint a model backend words."""
    f, kind = event["facts"], event["kind"]
    book = load_phrasebook()
    if kind == "birthday":
        return f"Turned {f['age']}."
    if kind == "trip":
        return f"Trip to {country_name(f['country'])}."
    if kind == "home":
        dish = book.countries.get(f["country"], {}).get("dish", "a dish from home")
        return f"Cooked {dish} and called family in {country_name(f['country'])}."
    if kind == "work":
        occ = f["occupation"]
        return {"student": "Exam week at school.", "retired": "A lazy weekday in retirement."}.get(
            occ, f"A demanding week at work as {'an' if occ[0] in 'aeiou' else 'a'} {occ}.")
    if kind == "study":
        if f["education"] == "no schooling":
            return "Talked with friends about growing up without going to school."
        return f"Met old classmates; talked about school days (education: {f['education']})."
    if kind == "hobby":
        return f"Spent a free day on {f['hobby']}."
    if kind == "health":
        return f"Medical check-up (health: {f['health']})."
    if kind == "faith":
        return f"Celebrated {f['occasion']} ({f['religion']})."
    if kind == "family":
        return f"{f['occasion'][0].upper()}{f['occasion'][1:]} ({f['relationship']})."
    if kind == "money":
        return f"Did the yearly budget (income {f['income']})."
    if kind == "shopping":
        return f"Shopping day ({f['habit']})."
    if kind == "look":
        (part, value), = f.items()
        return {"hair_color": f"Got a haircut ({value} hair).",
                "eye_color": f"Eye test at the optician ({value} eyes).",
                "height_cm": f"Measured at the doctor's ({value} cm).",
                "weight_kg": f"Weighed in at the gym ({value} kg)."}[part]
    return "An ordinary day at home."
