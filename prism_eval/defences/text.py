"""``redact``: rule-based redaction of attribute cues, offline.

Every span the ``lexicon`` attacker's rules read as a cue (prism_eval/cues.py, which runs the
lexicon's own rules with positions) is replaced by a placeholder naming the attribute, e.g.
"I'm a nurse" -> "I'm a [occupation]". Options:

- ``attributes``: only these attributes (``redact[attributes=age|occupation]``; default all);
- ``weak``: also the weak cues ``prism warn`` shows (default false: only what the lexicon reads);
- ``placeholder``: ``label`` ("[occupation]", default) or ``blank`` ("[…]", which does not even
  say which attribute was there).

Because the same rules decide, redaction removes exactly what the keyword baseline reads in
text: it is the upper bound of what keyword redaction buys against that attacker, and a model
that infers from context (implicit leakage) is what it leaves to measure.
"""
from __future__ import annotations

from prism_core.attributes import ATTRIBUTE_KEYS
from prism_core.errors import PrismError

from ..cues import find_cues
from .base import Defence

__all__ = ["CueRedaction", "redact"]


def redact(text: str, *, attributes: list[str] | None = None, weak: bool = False,
           placeholder: str = "label") -> str:
    """``text`` with its cue spans replaced (overlapping spans merge into one placeholder)."""
    if not text:
        return text
    cues = [c for c in find_cues(text, weak=weak) if attributes is None or c.attribute in attributes]
    spans: list[list] = []
    for c in sorted(cues, key=lambda c: (c.start, -c.end)):
        if spans and c.start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], c.end)
            continue
        spans.append([c.start, c.end, c.attribute])
    out, pos = [], 0
    for start, end, attribute in spans:
        out += [text[pos:start], f"[{attribute}]" if placeholder == "label" else "[\u2026]"]
        pos = end
    return "".join(out + [text[pos:]])


class CueRedaction(Defence):
    """The ``redact`` defence (see module docstring)."""
    name = "redact"
    channel = "text"

    def __init__(self, attributes: list[str] | str | None = None, weak: bool = False,
                 placeholder: str = "label"):
        if isinstance(attributes, str):
            attributes = [attributes]
        unknown = [a for a in attributes or [] if a not in ATTRIBUTE_KEYS]
        if unknown:
            raise PrismError(f"redact: unknown attribute(s) {unknown} (from {', '.join(ATTRIBUTE_KEYS)})")
        if placeholder not in ("label", "blank"):
            raise PrismError(f"redact: placeholder must be label or blank, not {placeholder!r}")
        super().__init__(**{k: v for k, v in (("attributes", attributes), ("weak", bool(weak)),
                                              ("placeholder", placeholder)) if v is not None})
        self.attributes, self.weak, self.placeholder = attributes, bool(weak), placeholder

    def describe(self) -> dict:
        return {**super().describe(), "rules": "prism_eval.attackers.lexicon"}

    def texts(self, texts: list[str]) -> list[str]:
        return [redact(t, attributes=self.attributes, weak=self.weak,
                       placeholder=self.placeholder) for t in texts]
