"""prism's attribute knowledge: one table of every spelling the readers of attributes use.

``attributes.yaml`` holds attribute keys and their spellings, sub-fields, value spaces, value
aliases, income words, degree names, relationship states, religions, hobbies, shopping phrases
and the words that mean "no answer"; ``places.json`` (with :mod:`.places`) countries, states,
cities and regions. The parser, the scorer, the metric, the lexicon, the judge, the generator
and the report all read these; docs/scoring.md says how the rules use them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import yaml

from .text import fold, strip_accents

__all__ = ["VOCAB", "PhraseIndex", "fold", "strip_accents"]

#: The attribute knowledge table (attributes.yaml), loaded once.
VOCAB: dict = yaml.safe_load((Path(__file__).resolve().parent / "attributes.yaml")
                             .read_text("utf-8"))


class PhraseIndex:
    """Whole-word search for known phrases in folded text: ``find`` gives the leftmost match
    (the longest at that place), ``findall`` every match left to right without overlaps."""

    def __init__(self, table: dict[str, Iterable[str]], *, include_values: bool = True):
        self.value_of: dict[str, str] = {}
        for value, aliases in table.items():
            for alias in ([value] if include_values else []) + list(aliases or []):
                key = fold(str(alias))
                if key and key not in self.value_of:
                    self.value_of[key] = value
        keys = sorted(self.value_of, key=len, reverse=True)
        body = "|".join(re.escape(k) for k in keys) or r"(?!)"
        self._pattern = re.compile(rf"(?<![\w])(?:{body})(?![\w])")

    def exact(self, folded: str) -> str | None:
        """The value of a phrase that is the whole folded text, or None."""
        return self.value_of.get(folded)

    def find(self, folded: str) -> tuple[str, int, int] | None:
        """(value, start, end) of the leftmost known phrase in ``folded``, or None."""
        m = self._pattern.search(folded)
        return (self.value_of[m.group(0)], m.start(), m.end()) if m else None

    def findall(self, folded: str) -> list[tuple[str, int, int]]:
        """Every known phrase in ``folded``, left to right, as (value, start, end)."""
        return [(self.value_of[m.group(0)], m.start(), m.end())
                for m in self._pattern.finditer(folded)]
