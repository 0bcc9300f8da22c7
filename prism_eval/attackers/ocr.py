"""Text in pictures: OCR for the offline image baseline (the ``lexicon`` attacker's eyes).

Signs, certificates, name badges, screenshots and captions burnt into a picture leak as much as
a post does. :func:`read_text` returns the text Tesseract finds in an image; the ``lexicon``
backend feeds it to the same rules it applies to posts, so the image channel is measured offline
without a vision model.

Why Tesseract: Debian's ``tesseract-ocr`` (Apache-2.0, English data included, ~10 MB) installs
from the package registry in seconds, needs no Python package (it is run as a program) and
reads a picture in a fraction of a second on one CPU core. The PyPI alternatives either download
their weights at run time (easyocr, recent rapidocr), which fails offline, or pull in OpenCV and
ONNX Runtime for the same job (rapidocr-onnxruntime). When the program is absent,
:func:`engine` says why once, and the lexicon reports the image channel as not measured.

Small text is read better when enlarged, so images are scaled to about 1000 px on the long side
(at most 4x) and turned to greyscale first. Results are memoised per image in the process.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache

from prism_core.images import decode_image, memo_by_image, png_bytes

__all__ = ["OCREngine", "engine", "read_text", "INSTALL_HINT"]

log = logging.getLogger(__name__)
INSTALL_HINT = "apt-get install tesseract-ocr"
_TARGET_PX = 1000
_TIMEOUT_S = 60


@dataclass(frozen=True)
class OCREngine:
    """The OCR program found here: its path and version (e.g. "tesseract 5.3.0")."""
    path: str
    version: str


@lru_cache(maxsize=None)
def _probe(path: str | None) -> tuple[OCREngine | None, str]:
    if path is None:
        return None, f"no OCR engine: the tesseract program is not installed ({INSTALL_HINT})"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        first = (out.stdout or out.stderr).strip().splitlines()[0]
        langs = subprocess.run([path, "--list-langs"], capture_output=True, text=True,
                               timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return None, f"no OCR engine: {path} does not run ({type(exc).__name__}: {exc})"
    if "eng" not in langs:
        return None, f"no OCR engine: tesseract has no English data ({INSTALL_HINT})"
    return OCREngine(path, first), ""


def engine() -> tuple[OCREngine | None, str]:
    """(engine, "") when Tesseract runs here, else (None, the reason: whoever goes without the
    image channel says so, e.g. the chain once per model that reads no images).

    ``PRISM_OCR=off`` in the environment disables OCR (as if it were not installed).
    """
    if os.environ.get("PRISM_OCR", "").lower() in ("0", "off", "false", "no"):
        return None, "no OCR engine: OCR is turned off (PRISM_OCR=off)"
    return _probe(shutil.which("tesseract"))


def _prepare(data: bytes) -> bytes:
    """PNG bytes of the image in greyscale, enlarged so that small text is readable."""
    from PIL import Image

    im = decode_image(data).convert("L")
    scale = min(4.0, _TARGET_PX / max(im.size))
    if scale > 1.2:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    return png_bytes(im)


@memo_by_image()
def read_text(data: bytes, ocr: OCREngine) -> str:
    """The text in an encoded image, on one line ("" when there is none or OCR fails)."""
    try:
        png = _prepare(data)
    except Exception as exc:  # an undecodable image has no text
        log.info("OCR: cannot decode image: %s", exc)
        return ""
    with tempfile.TemporaryDirectory(prefix="prism-ocr-") as tmp:
        path = os.path.join(tmp, "in.png")
        with open(path, "wb") as f:
            f.write(png)
        try:
            out = subprocess.run([ocr.path, path, "stdout", "-l", "eng", "--psm", "3"],
                                 capture_output=True, timeout=_TIMEOUT_S,
                                 env={**os.environ, "OMP_THREAD_LIMIT": "1"})
            text = out.stdout.decode("utf-8", "replace") if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("OCR failed: %s", exc)
            text = ""
    return " ".join(text.replace("\u2018", "'").replace("\u2019", "'").split())

