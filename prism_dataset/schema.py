"""The dataset row (DESIGN.md §3) as `datasets.Features`, shared by every builder config and export."""
from __future__ import annotations

from .attributes import EDUCATION_LEVELS, HEALTH, RELATIONSHIPS, RELIGIONS, SEXES

__all__ = ["user_features", "empty_provenance", "PROVENANCE_FIELDS"]

PROVENANCE_FIELDS = ("source", "generator", "version", "prior", "text_backend", "text_model",
                     "image_backend", "image_model")


def user_features():
    """`datasets.Features` of one user record; closed categories are ClassLabels."""
    from datasets import ClassLabel, Features, Image, List, Value

    post = {
        "post_id": Value("string"),
        "text": Value("string"),          # None: an image without a post (a v1 quirk)
        "image": Image(),                 # None: no image, or an unreadable one
        "image_ref": Value("string"),     # the release's reference ("./images/1.jpg", "none")
        "caption": Value("string"),
        "timestamp": Value("string"),
        "event": Value("string"),
    }
    attributes = {
        "age": Value("int32"),
        "sex": ClassLabel(names=SEXES),
        "education": ClassLabel(names=EDUCATION_LEVELS),
        "occupation": Value("string"),
        "income": {"label": Value("string"), "min": Value("int64"), "max": Value("int64")},
        "relationship": ClassLabel(names=RELATIONSHIPS),
        "location": {"place_of_birth": Value("string"), "travel_history": List(Value("string"))},
        "appearance": {"height_cm": Value("int32"), "weight_kg": Value("int32"),
                       "hair_color": Value("string"), "eye_color": Value("string")},
        "shopping_habits": Value("string"),
        "hobbies": List(Value("string")),
        "health": ClassLabel(names=HEALTH),
        "religion": ClassLabel(names=RELIGIONS),
    }
    return Features({
        "user_id": Value("string"),
        "posts": List(post),
        "topics": List({"category": Value("string"), "titles": List(Value("string"))}),
        "attributes": attributes,
        "leakage": List({"attribute": Value("string"), "post_id": Value("string"),
                         "channel": Value("string"), "mode": Value("string")}),
        "provenance": {**{f: Value("string") for f in PROVENANCE_FIELDS}, "seed": Value("int64")},
    })


def empty_provenance(**values) -> dict:
    """A provenance struct with every field present (unset ones None)."""
    out = {f: None for f in PROVENANCE_FIELDS}
    out["seed"] = None
    unknown = set(values) - set(out)
    if unknown:
        raise ValueError(f"unknown provenance field(s): {sorted(unknown)}")
    out.update(values)
    return out
