"""prism's attribute knowledge: one table of every spelling the readers of attributes use.

``attributes.yaml`` holds attribute keys and their spellings, sub-fields, value spaces, value
aliases, income words, degree names, relationship states, religions, hobbies, shopping phrases
and the words that mean "no answer"; ``places.json`` (with :mod:`.places`) countries, states,
cities and regions. The parser, the scorer, the metric, the lexicon, the judge, the generator
and the report all read these; docs/scoring.md says how the rules use them.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from .text import fold, strip_accents

__all__ = ["VOCAB", "PhraseIndex", "fold", "strip_accents", "words_of"]

#: The attribute knowledge table (attributes.yaml), loaded once.
VOCAB: dict = yaml.safe_load((Path(__file__).resolve().parent / "attributes.yaml")
                             .read_text("utf-8"))


_WORD = re.compile(r"[^\s,;:!?()\[\]{}]+")


@lru_cache(maxsize=1 << 16)
def words_of(folded: str) -> tuple[str, ...]:
    """The words of folded text, punctuation between them dropped."""
    return tuple(_WORD.findall(folded))


class PhraseIndex:
    """Whole-word search for known phrases in folded text: ``find`` gives the leftmost match
    (the longest at that place), ``findall`` every match left to right without overlaps.
    Positions are word indexes; phrases are looked up as word n-grams in a dict."""

    def __init__(self, table: dict[str, Iterable[str]], *, include_values: bool = True):
        self.value_of: dict[str, str] = {}
        for value, aliases in table.items():
            for alias in ([value] if include_values else []) + list(aliases or []):
                key = fold(str(alias))
                if key and key not in self.value_of:
                    self.value_of[key] = value
        # the longest phrase starting with each word: a position whose word starts no phrase
        # is skipped without a look-up
        self._longest: dict[str, int] = {}
        for k in self.value_of:
            words = k.split()
            if words:
                self._longest[words[0]] = max(self._longest.get(words[0], 0), len(words))

    def exact(self, folded: str) -> str | None:
        """The value of a phrase that is the whole folded text, or None."""
        return self.value_of.get(folded)

    def _at(self, words: tuple[str, ...], start: int) -> tuple[str, int] | None:
        longest = self._longest.get(words[start])
        if longest is None:
            return None
        get = self.value_of.get
        for n in range(min(longest, len(words) - start), 0, -1):
            value = get(" ".join(words[start:start + n]) if n > 1 else words[start])
            if value is not None:
                return value, start + n
        return None

    def find(self, folded: str) -> tuple[str, int, int] | None:
        """(value, first word, word after the match) of the leftmost known phrase, or None."""
        words = words_of(folded)
        for start in range(len(words)):
            hit = self._at(words, start)
            if hit is not None:
                return hit[0], start, hit[1]
        return None

    def findall(self, folded: str) -> list[tuple[str, int, int]]:
        """Every known phrase in ``folded``, left to right, as (value, first word, word after)."""
        words, out, start = words_of(folded), [], 0
        while start < len(words):
            hit = self._at(words, start)
            if hit is None:
                start += 1
            else:
                out.append((hit[0], start, hit[1]))
                start = hit[1]
        return out
