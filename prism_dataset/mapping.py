"""A ``datasets`` Dataset of someone else's making as PRISM user records: columns mapped by name.

What ``datasets.load_dataset(REPO)`` returns depends on the files it finds; :func:`as_prism`
takes it as it is. PRISM's own rows (``user_id``, ``posts`` of {text, image, ...}) pass unchanged;
rows with one user each are mapped column by column (a user id column; posts as a post-id ->
text object, a list of texts or a list of {text, image}; images as ``img_urls`` references and/or
an ``images`` list parallel to the posts; ``topics``; attributes as a canonical ``attributes``
object, a v1 ``target`` object, or one column per attribute; objects ``datasets`` stored as JSON
text are decoded), keeping the v1 quirks through
:func:`prism_dataset.release.v1_posts`. Anything else raises :class:`SchemaError` naming the
columns that are missing.
"""
from __future__ import annotations

from typing import Any, Iterator

from prism_core.attributes import (
    ATTRIBUTE_KEYS,
    V1_KEYS,
    AttributeValueError,
    from_v1,
    normalise,
)
from prism_core.errors import PrismError

from .release import NO_IMAGE, ReleaseError, v1_posts
from .schema import empty_provenance, user_features

__all__ = ["as_prism", "prism_records", "column_map", "SchemaError", "is_prism_dataset"]

USER_ID = ("user_id", "user", "person", "person_id", "uid", "id")
POSTS = ("posts", "post_texts", "texts", "post", "text")
IMAGES = ("images", "post_images", "image")
REFS = ("img_urls", "image_refs", "image_paths", "image_urls", "image_ref")
TOPICS = ("topics",)
ATTRIBUTES = ("attributes", "target", "targets")


class SchemaError(PrismError, ValueError):
    """A dataset whose columns cannot be mapped onto PRISM's; names the missing ones."""


def _feature_names(ds) -> list[str]:
    names = getattr(ds, "column_names", None)
    if names is None and getattr(ds, "features", None) is not None:
        names = list(ds.features)
    return list(names or [])


def is_prism_dataset(ds) -> bool:
    """Rows already in PRISM's form: ``user_id`` and ``posts`` as a list of {text, ...}."""
    features = getattr(ds, "features", None) or {}
    posts = features.get("posts") if hasattr(features, "get") else None
    item = posts[0] if isinstance(posts, list) and posts else getattr(posts, "feature", None)
    return "user_id" in _feature_names(ds) and isinstance(item, dict) and "text" in item


def column_map(ds, source: str = "the dataset") -> dict[str, Any]:
    """role -> column for a dataset of one user per row; raises SchemaError naming what is
    missing (with a hint when the dataset holds images only, like an imagefolder)."""
    names = _feature_names(ds)

    def first(options):
        return next((c for c in options if c in names), None)

    roles: dict[str, Any] = {"user_id": first(USER_ID), "posts": first(POSTS),
                             "images": first(IMAGES), "refs": first(REFS),
                             "topics": first(TOPICS), "attributes": first(ATTRIBUTES)}
    if roles["attributes"] is None:
        if all(k in names for k in ATTRIBUTE_KEYS):
            roles["attributes"] = ("columns", list(ATTRIBUTE_KEYS))
        elif all(k in names for k in V1_KEYS):
            roles["attributes"] = ("v1 columns", list(V1_KEYS))
    missing = []
    if roles["user_id"] is None:
        missing.append(f"a user id ({' / '.join(USER_ID)})")
    if roles["posts"] is None:
        missing.append(f"posts ({' / '.join(POSTS[:3])})")
    if roles["attributes"] is None:
        missing.append("attributes ('attributes', a v1 'target' object, or one column per "
                       f"attribute: {', '.join(ATTRIBUTE_KEYS)})")
    if missing:
        hint = ""
        if roles["user_id"] is None and roles["posts"] is None and (roles["images"] or roles["refs"]):
            hint = ("; it holds images only (an imagefolder?): read the release with "
                    "--dataset hub:REPO or PrismBuilder(config_name='v1', repo_id=REPO), which "
                    "pair them with posts.json and target.json")
        raise SchemaError(f"{source} is not PRISM user records and its columns cannot be "
                          f"mapped onto them: it has column(s) {names}; missing "
                          f"{'; '.join(missing)}{hint}")
    return roles


def _decode(features, column: str, value: Any) -> Any:
    feature = features.get(column) if features is not None else None
    if hasattr(feature, "int2str") and isinstance(value, int) and not isinstance(value, bool):
        return feature.int2str(value)
    return value


def _attributes(row: dict, roles: dict, features, user: str, source: str) -> dict:
    spec = roles["attributes"]
    if isinstance(spec, tuple):
        value = {c: _decode(features, c, row.get(c)) for c in spec[1]}
        v1 = spec[0] == "v1 columns"
    else:
        value = row.get(spec)
        if not isinstance(value, dict):
            raise ReleaseError(source, f"expected an object of attributes, got {value!r}", user,
                               spec)
        sub = features.get(spec) if features is not None else None
        value = {k: _decode(sub if isinstance(sub, dict) else None, k, v) for k, v in value.items()}
        v1 = any(k in V1_KEYS and k not in ATTRIBUTE_KEYS for k in value)
    value = {k: v for k, v in value.items() if v is not None}  # Arrow fills absent keys with None
    try:
        if v1:
            return from_v1(value, strict=False)
        return {k: (normalise(k, value[k]) if k in value else None) for k in ATTRIBUTE_KEYS}
    except AttributeValueError as exc:
        raise ReleaseError(source, str(exc), user, exc.field) from None


def _topics(value: Any) -> dict[str, list[str]]:
    if isinstance(value, dict):
        return {str(k): [str(t) for t in v] for k, v in value.items() if v is not None}
    out: dict[str, list[str]] = {}
    for item in value or []:
        if isinstance(item, dict):
            out[str(item.get("category"))] = [str(t) for t in item.get("titles") or []]
        elif isinstance(item, str):
            out[item] = []
    return out


_TEXT_KEYS = ("text", "post", "content", "body")
_IMAGE_KEYS = ("image", "img")
_REF_KEYS = ("image_ref", "img_url", "image_path", "image_url")


def _json(value: Any) -> Any:
    """A column ``datasets`` stores as JSON text (its Json feature, for objects whose keys vary
    from row to row, like posts.json's), decoded; other values unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        import json
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _record(row: dict, roles: dict, features, source: str) -> dict:
    row = {k: _json(v) for k, v in row.items()}
    user = str(row[roles["user_id"]])
    posts = row.get(roles["posts"])
    images = row.get(roles["images"]) if roles["images"] else None
    refs = row.get(roles["refs"]) if roles["refs"] else None
    images = images if isinstance(images, list) else ([] if images is None else [images])
    refs = refs if isinstance(refs, list) else ([] if refs is None else [refs])
    if isinstance(posts, str):
        posts = [posts]
    texts: dict[str, str] = {}
    if isinstance(posts, dict):  # a v1 posts object (an Arrow struct fills absent ids with None)
        texts = {str(k): v for k, v in posts.items() if v is not None}
    elif isinstance(posts, list):
        for i, p in enumerate(posts):
            if isinstance(p, dict):
                pid = str(p.get("post_id") or p.get("id") or f"post{i + 1}")
                texts[pid] = next((p[k] for k in _TEXT_KEYS if isinstance(p.get(k), str)), "")
                if i >= len(images):
                    images += [None] * (i + 1 - len(images))
                if images[i] is None:
                    images[i] = next((p[k] for k in _IMAGE_KEYS if p.get(k) is not None), None)
                if i >= len(refs):
                    refs += [None] * (i + 1 - len(refs))
                if refs[i] is None:
                    refs[i] = next((p[k] for k in _REF_KEYS if isinstance(p.get(k), str)), None)
            else:
                texts[f"post{i + 1}"] = p if isinstance(p, str) else ""
    elif posts is not None:
        raise ReleaseError(source, f"posts must be text, a list or an object, got {posts!r}",
                           user, roles["posts"])
    n = max(len(texts), len(images), len(refs))
    by_ref: dict[str, Any] = {}
    img_urls = []
    for i in range(n):
        image = images[i] if i < len(images) else None
        ref = refs[i] if i < len(refs) and isinstance(refs[i], str) else None
        if ref is None and image is not None:
            path = image.get("path") if isinstance(image, dict) else None
            ref = path or f"{user}/image{i + 1}"
        elif ref is None:
            ref = NO_IMAGE if i < len(texts) else f"{user}/image{i + 1}"
        if image is not None:
            by_ref[ref] = image
        img_urls.append(ref)
    entry = {"posts": texts, "topics": _topics(row.get(roles["topics"]) if roles["topics"] else None),
             "img_urls": img_urls}
    rows, topics = v1_posts(user, entry, lambda u, f, ref: by_ref.get(ref), posts_file=source)
    return {"user_id": user, "posts": rows, "topics": topics,
            "attributes": _attributes(row, roles, features, user, source), "leakage": [],
            "provenance": empty_provenance(source=source)}


def _raw_rows(ds) -> Iterator[dict]:
    """Rows with images left encoded ({"bytes", "path"}), in order."""
    import datasets
    if isinstance(ds, datasets.Dataset):
        for batch in ds.with_format("arrow").iter(batch_size=64):
            yield from batch.to_pylist()
    else:
        yield from (ds.decode(False) if hasattr(ds, "decode") else ds)


def prism_records(ds, source: str = "the dataset") -> Iterator[dict]:
    """PRISM user records (canonical attributes, images encoded) of a mapped dataset."""
    roles = column_map(ds, source)
    features = getattr(ds, "features", None)
    for row in _raw_rows(ds):
        yield _record(row, roles, features, source)


def as_prism(ds, source: str = "the dataset"):
    """A dataset ``evaluate`` and ``prism stats`` can read: ``ds`` itself when its rows already
    are PRISM's, else an IterableDataset of the mapped records (with PRISM's features). A
    DatasetDict gives its "test" split, or its only one. Raises SchemaError."""
    import datasets
    if isinstance(ds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        names = list(ds)
        if "test" not in names and len(names) != 1:
            raise SchemaError(f"{source} has splits {names}: choose one (ds[split])")
        ds = ds["test" if "test" in names else names[0]]
    if is_prism_dataset(ds):
        return ds
    column_map(ds, source)  # fail now, not at the first row

    def gen():
        yield from prism_records(ds, source)
    return datasets.IterableDataset.from_generator(gen, features=user_features())
