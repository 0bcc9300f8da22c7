"""The dataset row (docs/design.md §2) as `datasets.Features`, shared by every builder config and export."""
from __future__ import annotations

from prism_core.attributes import (
    EDUCATION_LEVELS,
    HEALTH,
    RELATIONSHIPS,
    RELIGIONS,
    SEXES,
)

__all__ = ["user_features", "empty_provenance", "decode_attributes", "PROVENANCE_FIELDS",
           "CITATION", "LICENSE"]

#: the dataset's licence and citation (builder info and the exported dataset card)
LICENSE = "cc-by-4.0"
CITATION = """@article{prism2025,
  title   = {Auditing M-LLMs for Privacy Risks: A Synthetic Benchmark and Evaluation Framework},
  journal = {arXiv preprint arXiv:2511.03248},
  year    = {2025}
}"""

PROVENANCE_FIELDS = ("source", "generator", "version", "prior", "text_backend", "text_model",
                     "image_backend", "image_model")


def user_features():
    """`datasets.Features` of one user record; closed categories are ClassLabels."""
    # [feature] is a list of feature in every datasets version (datasets.List is new in 4.0)
    from datasets import ClassLabel, Features, Image, Value

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
        "location": {"place_of_birth": Value("string"), "travel_history": [Value("string")]},
        "appearance": {"height_cm": Value("int32"), "weight_kg": Value("int32"),
                       "hair_color": Value("string"), "eye_color": Value("string")},
        "shopping_habits": Value("string"),
        "hobbies": [Value("string")],
        "health": ClassLabel(names=HEALTH),
        "religion": ClassLabel(names=RELIGIONS),
    }
    return Features({
        "user_id": Value("string"),
        "posts": [post],
        "topics": [{"category": Value("string"), "titles": [Value("string")]}],
        "attributes": attributes,
        "leakage": [{"attribute": Value("string"), "post_id": Value("string"),
                     "channel": Value("string"), "mode": Value("string")}],
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


def decode_attributes(attrs: dict, features=None) -> dict:
    """A row's attributes with ClassLabel ints (as read back from a built Dataset) turned into names.

    ``features``: the Dataset's Features or its ``"attributes"`` entry (default: user_features()).
    Names and None pass through unchanged, so canonical records are safe to decode too.
    """
    features = user_features() if features is None else features
    if "attributes" in features and isinstance(features["attributes"], dict):
        features = features["attributes"]
    out = dict(attrs)
    for key, value in attrs.items():
        feature = features.get(key)
        if hasattr(feature, "int2str") and isinstance(value, int) and not isinstance(value, bool):
            out[key] = feature.int2str(value)
    return out
