"""Where the text in a picture is: word boxes from Tesseract, and the boxes of attribute cues.

The OCR engine is the one the offline image baseline reads with (prism_eval/attackers/ocr.py:
Debian's ``tesseract-ocr``, found by :func:`~prism_eval.attackers.ocr.engine`); here it is asked
for its TSV output, which gives each word's box. Images are enlarged the same way (greyscale,
about 1000 px on the long side, at most 4x) and boxes are mapped back to the image's own pixels.
:func:`cue_regions` runs the attribute-cue rules (prism_eval/cues.py) over each OCR line and
returns the boxes of the words a cue spans: what ``prism warn`` shows for a picture and what
``blur-text[only=cues]`` hides.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass

from prism_core.errors import PrismError
from prism_core.images import decode_image, memo_by_image, png_bytes

__all__ = ["Word", "Region", "ocr_words", "cue_regions", "require_engine"]

_TARGET_PX = 1000


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 in the image's pixels
    line: tuple[int, int, int]       # block, paragraph, line
    conf: float


@dataclass(frozen=True)
class Region:
    """A cue found in a picture: the attribute, value, the text read and its box."""
    attribute: str
    value: object
    text: str
    box: tuple[int, int, int, int]
    weak: bool = False

    def as_dict(self) -> dict:
        return {"attribute": self.attribute, "value": self.value, "text": self.text,
                "box": list(self.box), "weak": self.weak}


def require_engine():
    """The OCR engine, or a PrismError saying how to install it."""
    from ..attackers.ocr import engine
    found, why = engine()
    if found is None:
        raise PrismError(f"text in images cannot be found: {why}")
    return found


def ocr_words(data: bytes, ocr=None) -> list[Word]:
    """The words Tesseract reads in an encoded image, with their boxes (memoised per image)."""
    return _words(data, ocr or require_engine())


@memo_by_image(1024)
def _words(data: bytes, ocr) -> list[Word]:
    from PIL import Image

    try:
        im = decode_image(data).convert("L")
    except ValueError:
        return []
    scale = min(4.0, _TARGET_PX / max(im.size))
    if scale > 1.2:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    else:
        scale = 1.0
    with tempfile.TemporaryDirectory(prefix="prism-ocr-") as tmp:
        path = os.path.join(tmp, "in.png")
        with open(path, "wb") as f:
            f.write(png_bytes(im))
        try:
            out = subprocess.run([ocr.path, path, "stdout", "-l", "eng", "--psm", "3", "tsv"],
                                 capture_output=True, timeout=60,
                                 env={**os.environ, "OMP_THREAD_LIMIT": "1"})
            tsv = out.stdout.decode("utf-8", "replace") if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            tsv = ""
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        box = (int(left / scale), int(top / scale), int((left + width) / scale + 0.999),
               int((top + height) / scale + 0.999))
        text = cols[11].strip().replace("\u2018", "'").replace("\u2019", "'")
        words.append(Word(text, box, (int(cols[2]), int(cols[3]), int(cols[4])), float(cols[10])))
    return words


def _union(boxes) -> tuple[int, int, int, int]:
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def cue_regions(data: bytes, ocr=None, *, weak: bool = True) -> list[Region]:
    """Attribute cues in the text of a picture, each with the box of the words it spans."""
    from ..cues import find_cues

    lines: dict[tuple, list[Word]] = {}
    for w in ocr_words(data, ocr):
        lines.setdefault(w.line, []).append(w)
    out = []
    for words in lines.values():
        text, offsets = "", []
        for w in words:
            start = len(text) + (1 if text else 0)
            text = f"{text} {w.text}" if text else w.text
            offsets.append((start, start + len(w.text)))
        for cue in find_cues(text, weak=weak):
            hit = [w for w, (s, e) in zip(words, offsets) if s < cue.end and cue.start < e]
            if hit:
                out.append(Region(cue.attribute, cue.value, cue.text, _union(w.box for w in hit),
                                  cue.weak))
    return out
