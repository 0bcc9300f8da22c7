"""Text folding shared by the knowledge tables, their generator and every reader of them.

A spelling and a guess are compared after the same fold: accents removed, case folded, "&" read
as "and", dots and quotes dropped, dashes and underscores as spaces, runs of space collapsed.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["fold", "strip_accents"]

_FOLD = str.maketrans({".": "", "'": "", "\u2019": "", "\u2018": "", "`": "", '"': "",
                       "\u201c": "", "\u201d": "", "\u00b4": "", "_": " ", "-": " ",
                       "\u2010": " ", "\u2011": " ", "\u2012": " ", "\u2013": " ", "\u2014": " ",
                       "\u2015": " ", "&": " and "})
_EDGES = " ,;:!?()[]{}"


def strip_accents(text: str) -> str:
    """``text`` without combining marks ("México" -> "Mexico"); other scripts are kept."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed
                                                if not unicodedata.combining(c)))


@lru_cache(maxsize=1 << 17)
def fold(text: str) -> str:
    """The comparison form of a spelling: "Côte d'Ivoire" -> "cote divoire", "U.S.A." -> "usa"."""
    if not text.isascii():
        text = strip_accents(text)
    return " ".join(text.casefold().translate(_FOLD).split()).strip(_EDGES)
