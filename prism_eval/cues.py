"""Where a text gives an attribute away: character spans of attribute cues.

Two sources, one result type (:class:`Cue`):

- **strong** cues are the ``lexicon`` attacker's own rules (prism_eval/attackers/lexicon.py),
  run over the raw text so that each match keeps its position: what the keyword baseline reads
  verbatim. Redaction (prism_eval/defences/text.py) removes these, and ``prism warn`` shows them.
  The rules are read from the lexicon, never copied, so the two cannot drift apart.
- **weak** cues are a handful of patterns a capable reader picks up but the lexicon does not
  score (a bare "29" standing as a clause; "my nursing badge" for a nurse). They exist for
  warnings, which should err on the side of telling: ``prism warn`` reports them with a low
  confidence, and redaction removes them only with ``weak=true``.

A cue's span is the part of the match that carries the value (the rule's capture groups when it
has any, the whole match otherwise, a whole hashtag for a hashtag rule).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prism_core.attributes import OCCUPATIONS, try_normalise

from .attackers import lexicon

__all__ = ["Cue", "find_cues", "attribute_of"]


@dataclass(frozen=True)
class Cue:
    """One cue: the attribute it reveals (``slot`` keeps sub-fields such as
    ``location.place_of_birth``), the canonical value, the span [start, end) and its text."""
    attribute: str
    slot: str
    value: Any
    start: int
    end: int
    text: str
    weight: float = 1.0
    weak: bool = False

    def as_dict(self) -> dict:
        return {"attribute": self.attribute, "slot": self.slot, "value": self.value,
                "start": self.start, "end": self.end, "text": self.text,
                "weight": self.weight, "weak": self.weak}


def attribute_of(slot: str) -> str:
    """The attribute key of a lexicon slot ("location.travel_history" -> "location")."""
    return slot.split(".", 1)[0]


def _same_length_tidy(text: str) -> str:
    """The lexicon's quote normalising, keeping every character's position."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _value_span(m: re.Match) -> tuple[int, int]:
    if m.group(0).startswith("#"):
        return m.span()
    groups = [m.span(i) for i in range(1, (m.re.groups or 0) + 1)
              if m.span(i)[0] >= 0 and m.span(i)[1] > m.span(i)[0]]
    if not groups:
        return m.span()
    return min(s for s, _ in groups), max(e for _, e in groups)


def _strong(text: str) -> list[Cue]:
    body = _same_length_tidy(text)
    out = []
    for slot, pattern, fn, weight in lexicon.RULES:
        for m in pattern.finditer(body):
            try:
                value = fn(m)
            except Exception:  # a cue whose value cannot be read is no cue (as in the lexicon)
                continue
            if value is None:
                continue
            if slot == "age" and not (isinstance(value, int) and 13 <= value <= 100):
                continue
            s, e = _value_span(m)
            out.append(Cue(attribute_of(slot), slot, value, s, e, text[s:e], float(weight)))
    return out


# ------------------------------------------------------------------ weak cues (warnings)

_UNIT = (r"(?!\s*(?:%|percent|kg|kilos?|lbs?|pounds?|cm|km|k\b|miles?|mins?|minutes?|hours?|"
         r"hrs?|days?|weeks?|months?|times?|ft|feet|inch(?:es)?|am\b|pm\b|[:.,/]\d|-\d|\$))")
#: a two-digit number standing as a clause of its own: "..., 29 and finally debt-free!"
_BARE_AGE = re.compile(r"(?:^|[,;:!?]\s+|\.\s+|\s[-\u2013\u2014]\s)(\d{2})" + _UNIT +
                       r"(?=\s*(?:[,;!?.]|$|\s(?:and|&|now|today|tomorrow|years?|y/?o|yrs?|"
                       r"going|soon|already|finally|but)\b))")
#: nouns that make an "-ing" occupation word a job: "my nursing badge", "teaching job" (not
#: licence, school or exam: "driving licence" says nothing about a job)
_WORK = (r"(?:badge|shift|shifts|job|jobs|career|degree|uniform|scrubs|certificate|"
         r"certification|contract|gig|staff|team|crew|rota|roster|union|work|duty|colleagues?)")
_ING = re.compile(r"\b([A-Za-z]{3,}ing)\s+(?:\w+\s+)?" + _WORK + r"\b", re.I)


def _occupation_of(word: str) -> str | None:
    stem = word.lower()[:-3]
    for cand in (stem + "e", stem + "er", stem, stem[:-1] + "er" if len(stem) > 3 and
                 stem[-1] == stem[-2] else None):
        if cand:
            occ = try_normalise("occupation", cand)
            if occ in OCCUPATIONS:
                return occ
    return None


def _weak(text: str) -> list[Cue]:
    out = []
    for m in _BARE_AGE.finditer(text):
        age = int(m.group(1))
        if 13 <= age <= 99:
            out.append(Cue("age", "age", age, m.start(1), m.end(1), m.group(1), 0.4, True))
    for m in _ING.finditer(text):
        occ = _occupation_of(m.group(1))
        if occ:
            out.append(Cue("occupation", "occupation", occ, m.start(1), m.end(1), m.group(1),
                           0.4, True))
    return out


def find_cues(text: str | None, *, weak: bool = True) -> list[Cue]:
    """Cues in ``text``, by position (strong first where a weak cue covers the same span)."""
    if not text:
        return []
    cues = _strong(text)
    if weak:
        taken = {(c.attribute, c.start, c.end) for c in cues}
        cues += [c for c in _weak(text) if (c.attribute, c.start, c.end) not in taken
                 and not any(c.attribute == s.attribute and s.start <= c.start < s.end
                             for s in cues)]
    best: dict[tuple, Cue] = {}
    for c in cues:  # one cue per attribute and span: the strongest rule's
        k = (c.attribute, c.start, c.end)
        if k not in best or c.weight > best[k].weight:
            best[k] = c
    return sorted(best.values(), key=lambda c: (c.start, -c.end, c.weak, c.slot))
