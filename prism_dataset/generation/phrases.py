"""The template backend's phrase bank (``phrases.yaml``): reveal sentences, caption fragments,
surface forms of values, and the checks that explicit reveals name a value and implicit ones
do not.

A *reveal key* is an attribute key, or ``attribute.part`` for the parts of ``location`` and
``appearance`` (the ``leakage`` field uses the same names). Its *value* for a profile is
:func:`reveal_value`; list attributes (hobbies, travel history) reveal one item at a time.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["REVEAL_KEYS", "Phrasebook", "load_phrasebook", "reveal_value", "surfaces",
           "implicit_group", "mentions", "LIST_KEYS", "country_name", "article"]

PHRASES_PATH = Path(__file__).resolve().parent / "phrases.yaml"

REVEAL_KEYS = ("age", "sex", "education", "occupation", "income", "relationship",
               "location.place_of_birth", "location.travel_history", "appearance.height_cm",
               "appearance.weight_kg", "appearance.hair_color", "appearance.eye_color",
               "shopping_habits", "hobbies", "health", "religion")
LIST_KEYS = ("location.travel_history", "hobbies")
_THE = {"USA", "UK", "Philippines"}
_AGE_BANDS = ((15, 17), (18, 24), (25, 34), (35, 49), (50, 64), (65, 75))


def reveal_value(profile: dict, key: str, item: Any = None) -> Any:
    """The value a reveal of ``key`` states: the attribute (or its part), or ``item`` for lists."""
    if key in LIST_KEYS:
        return item
    attr, _, part = key.partition(".")
    value = profile[attr]
    return value[part] if part else value


def article(word: str) -> str:
    """``word`` with "a " or "an " before it (by its first letter: "an" before a, e, i, o, u in
    either case, and before an empty word)."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def country_name(name: str) -> str:
    """A country as written in a sentence (\"the USA\", \"Japan\")."""
    return f"the {name}" if name in _THE else name


def surfaces(key: str, value: Any, aliases: dict | None = None) -> list[str]:
    """Ways an explicit reveal may write ``value`` (first preferred); each maps back to it."""
    if key == "age":
        return [str(value)]
    if key == "income":
        lo, hi = value["min"], value["max"]
        if hi is None:
            return [f"over ${lo:,}", f"more than {lo // 1000}k"]
        if not lo:
            return [f"under ${hi:,}", f"less than {hi // 1000}k"]
        return [f"${lo:,} to ${hi:,}", f"{lo // 1000}k to {hi // 1000}k"]
    if key.startswith("location."):
        return [country_name(value)] + ([value] if value in _THE else [])
    if key == "appearance.height_cm":
        return [f"{value} cm"]
    if key == "appearance.weight_kg":
        return [f"{value} kg"]
    aliases = load_phrasebook().aliases if aliases is None else aliases
    return list(aliases.get(key, {}).get(value) or [value])


def implicit_group(key: str, value: Any, profile: dict) -> str:
    """The row of implicit cues for ``value``: age band, income level, body class, or the value."""
    if key == "age":
        return next(f"{lo}-{hi}" for lo, hi in _AGE_BANDS if lo <= value <= hi)
    if key == "income":
        if value["max"] is not None and value["max"] <= 60000:
            return "low"
        return "high" if value["min"] >= 130000 else "middle"
    if key == "appearance.height_cm":
        tall, short = (183, 167) if profile["sex"] == "male" else (170, 155)
        return "tall" if value >= tall else "short" if value <= short else "average"
    if key == "appearance.weight_kg":
        bmi = value / (profile["appearance"]["height_cm"] / 100) ** 2
        return "slim" if bmi < 18.5 else "normal" if bmi < 25 else "overweight" if bmi < 30 else "obese"
    return str(value)


def _pattern(surface: str) -> re.Pattern:
    return re.compile(r"(?<![\w$])" + re.escape(surface.lower()) + r"(?![\w])")


def mentions(text: str, key: str, value: Any) -> bool:
    """Whether ``text`` writes ``value`` in one of its surface forms (whole words, any case)."""
    low = text.lower()
    if key == "age":  # a bare number, not part of an amount, a measure or a longer number
        return re.search(rf"(?<![\d$,.]){value}(?!\d|,\d|\.\d|\s*(?:kg|cm|%))", low) is not None
    return any(_pattern(s).search(low) for s in surfaces(key, value))


class Phrasebook:
    """Sentences and fragments of ``phrases.yaml`` with lookup by (key, mode, value)."""

    def __init__(self, data: dict):
        self.data = data
        self.aliases: dict = data.get("aliases") or {}
        self.countries: dict = data.get("countries") or {}

    # ------------------------------------------------------------ lookup

    def _options(self, section: str, key: str, mode: str, value: Any, profile: dict) -> list[str]:
        table = ((self.data.get(section) or {}).get(key) or {}).get(mode) or {}
        if mode == "implicit" and key not in ("location.place_of_birth", "location.travel_history"):
            row = implicit_group(key, value, profile)
            return list(table.get(row) or [])
        row = str(value) if not isinstance(value, dict) else "*"
        if row in table:
            return list(table[row] or [])
        return list(table.get("*") or [])

    def available(self, channel: str, key: str, mode: str, value: Any, profile: dict) -> bool:
        """Whether a reveal of ``value`` over ``channel`` in ``mode`` can be written."""
        if key.startswith("location.") and value not in self.countries:
            return mode == "explicit" and bool(self._options(
                "text" if channel == "text" else "image", key, mode, value, profile))
        return bool(self._options("text" if channel == "text" else "image", key, mode, value,
                                  profile))

    def render(self, channel: str, key: str, mode: str, value: Any, profile: dict,
               rng: random.Random) -> str:
        """A sentence (text) or caption fragment (image) revealing ``value``."""
        options = self._options("text" if channel == "text" else "image", key, mode, value,
                                profile)
        if not options:
            raise KeyError(f"no {channel} {mode} phrase for {key}={value!r}")
        template = rng.choice(options)
        surface = rng.choice(surfaces(key, value, self.aliases)) if mode == "explicit" else ""
        country = self.countries.get(value, {}) if key.startswith("location.") else {}
        text = template.format(v=surface, a_v=article(surface) if surface else "",
                               landmark=country.get("landmark", ""), dish=country.get("dish", ""))
        return text[:1].upper() + text[1:] if channel == "text" else text

    def pick(self, section: str, kind: str, rng: random.Random) -> str:
        options = (self.data.get(section) or {}).get(kind) or (self.data.get(section) or {}).get(
            "everyday") or [""]
        return rng.choice(options)

    def pick_list(self, section: str, rng: random.Random) -> str:
        return rng.choice(self.data.get(section) or [""])

    def category(self, kind: str, value: Any = None) -> str | None:
        table = (self.data.get("categories") or {}).get(kind)
        if isinstance(table, str) or table is None:
            return table
        return table.get(value, table.get("*"))

    def topic_titles(self, kind: str) -> list[str]:
        return list((self.data.get("topics") or {}).get(kind) or [])


@lru_cache(maxsize=1)
def load_phrasebook() -> Phrasebook:
    """The package's phrase bank (parsed once per process)."""
    import yaml
    return Phrasebook(yaml.safe_load(PHRASES_PATH.read_text(encoding="utf-8")))
