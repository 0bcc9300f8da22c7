"""Reads the published PRISM release layout (``posts.json``, ``target.json``, optional ``images/``).

Release quirks are kept, not fixed: a post whose image is ``"none"`` keeps ``image_ref="none"``;
an image reference beyond the last post becomes an entry with ``text=None``; unfilled topic
templates ("[Favorite Game Name]") stay as written. Problems that spoil one record raise
:class:`ReleaseError` naming the file, user and field; problems that only lose an image are
recorded once as a :class:`ReleaseWarning` and the record keeps ``image=None``. A release
published without its image folder (like the shared v1 files) gets one note, not a warning per image.
:func:`count_images` (and :meth:`Release.image_counts`) says how many referenced images were found,
missing or unreadable, so a run without images is never mistaken for one with them. Fetching the
release from the Hub, whatever the repository's layout, is in :mod:`prism_dataset.hub_release`.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from prism_core.attributes import AttributeValueError, from_v1
from prism_core.errors import PrismError
from prism_core.images import check_image, encoded_bytes

from .schema import empty_provenance

__all__ = ["ReleaseError", "ReleaseWarning", "Release", "read_json", "NO_IMAGE", "HUB_REPO_ID",
           "image_status", "count_images", "add_image_counts",
           "v1_posts", "v1_record"]

log = logging.getLogger(__name__)
HUB_REPO_ID = "xaddh/multimodal-privacy"
NO_IMAGE = "none"
TEMPLATE_SLOT = re.compile(r"\[[^\[\]]+\]")




#: the outcomes :func:`image_status` gives a post that references an image
IMAGE_STATUSES = ("found", "missing", "unreadable")


def image_status(post: dict) -> str | None:
    """"found", "missing" or "unreadable" for a post that references an image, None for one that
    does not (no reference, or "none"); a present image is decoded to tell found from unreadable."""
    ref, image = post.get("image_ref"), post.get("image")
    if image is None:
        return None if ref in (None, NO_IMAGE) else "missing"
    if isinstance(image, dict) and image.get("bytes") is not None:
        data = bytes(image["bytes"])  # even b"": an empty file is there, and unreadable
    else:
        try:
            data = encoded_bytes(image)
        except OSError:  # a stored path that no longer exists
            return "missing"
    if data is None:
        return "missing"
    try:
        check_image(data)
    except Exception:  # any decoder error: the image cannot be shown to a model
        return "unreadable"
    return "found"


def count_images(records: Iterable[dict]) -> dict:
    """{"referenced", "found", "missing", "unreadable"}: the image references of user records
    and what became of them (see :func:`image_status`); one definition for stats and reports."""
    counts = dict.fromkeys(("referenced", *IMAGE_STATUSES), 0)
    for rec in records:
        add_image_counts(counts, rec)
    return counts


def add_image_counts(counts: dict, record: dict) -> None:
    """Add one user record's image references to ``counts`` (the loop of :func:`count_images`)."""
    for post in record.get("posts") or []:
        status = image_status(post)
        if status is not None:
            counts["referenced"] += 1
            counts[status] += 1


class ReleaseError(PrismError, ValueError):
    """A release file that cannot be read as PRISM data; names the file, user and field."""

    def __init__(self, file, message: str, user: str | None = None, field: str | None = None):
        self.file, self.user, self.field = str(file), user, field
        where = [f"file {self.file}"]
        if user is not None:
            where.append(f"user {user!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class ReleaseWarning:
    """A recoverable problem (the record is kept, without the affected image)."""
    file: str
    user: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"file {self.file}, user {self.user!r}, field {self.field!r}: {self.message}"


def _no_duplicate_keys(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


def read_json(path: Path) -> dict:
    """Load a JSON object, turning truncated, non-JSON or duplicate-key files into a ReleaseError."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except FileNotFoundError:
        raise ReleaseError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ReleaseError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ReleaseError(path, f"not valid JSON (truncated or corrupt?): {exc.msg} at line "
                                 f"{exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # a duplicate key would silently drop a user or a post
        raise ReleaseError(path, str(exc)) from None
    if not isinstance(data, dict):
        raise ReleaseError(path, f"expected a JSON object keyed by user id, got {type(data).__name__}")
    return data


class Release:
    """A release folder. Iterate with :meth:`records`; problems met so far are in ``warnings``."""

    POSTS, TARGET, IMAGES = "posts.json", "target.json", "images"

    def __init__(self, data_dir, *, load_images: bool = True):
        self.root = Path(data_dir).resolve()
        if not self.root.is_dir():
            raise ReleaseError(self.root, "release folder not found")
        self.load_images = load_images
        self.posts_path, self.target_path = self.root / self.POSTS, self.root / self.TARGET
        self.posts = read_json(self.posts_path)
        self.target = read_json(self.target_path)
        only_posts = [u for u in self.posts if u not in self.target]
        only_target = [u for u in self.target if u not in self.posts]
        if only_posts:
            raise ReleaseError(self.target_path, f"missing from {self.TARGET} but present in "
                               f"{self.POSTS} ({len(only_posts)} user(s))", user=only_posts[0])
        if only_target:
            raise ReleaseError(self.posts_path, f"missing from {self.POSTS} but present in "
                               f"{self.TARGET} ({len(only_target)} user(s))", user=only_target[0])
        self.warnings: list[ReleaseWarning] = []
        self.absent_folders: dict[str, int] = {}  # image folder missing entirely -> references

    @property
    def notes(self) -> list[str]:
        """One line per image folder the release does not ship (its images are all None)."""
        return [f"folder {folder!r} is absent from {self.root}: {n} image reference(s) kept as "
                f"image_ref with image=None" for folder, n in self.absent_folders.items()]

    @property
    def user_ids(self) -> list[str]:
        return list(self.posts)

    def __len__(self) -> int:
        return len(self.posts)

    def _warn(self, file, user: str, field: str, message: str) -> None:
        w = ReleaseWarning(str(file), user, field, message)
        self.warnings.append(w)
        log.warning("%s", w)

    def resolve_image(self, user: str, field: str, ref: str) -> Path:
        """The file an image reference points to; refuses references that leave the release."""
        if not isinstance(ref, str) or not ref.strip():
            raise ReleaseError(self.posts_path, f"image reference must be text, got {ref!r}", user, field)
        if os.path.isabs(ref) or ref.startswith(("\\", "~")) or re.match(r"^[a-zA-Z]:", ref):
            raise ReleaseError(self.posts_path, f"absolute image path {ref!r} is not allowed", user, field)
        path = Path(os.path.normpath(self.root / ref.replace("\\", "/")))
        if self.root not in path.parents:
            raise ReleaseError(self.posts_path, f"image path {ref!r} escapes the release folder",
                               user, field)
        return path

    def image_counts(self) -> dict:
        """How many of the images posts.json references are found, missing or unreadable on disk
        (:func:`count_images`; each file is read and decoded once, one user at a time)."""
        def users():
            for user, entry in self.posts.items():
                refs = entry.get("img_urls") if isinstance(entry, dict) else None
                yield {"posts": [{"image_ref": r, "image": self._raw_image(user, f"img_urls[{i}]", r)
                                  if isinstance(r, str) and r != NO_IMAGE else None}
                                 for i, r in enumerate(refs if isinstance(refs, list) else [])]}
        return count_images(users())

    def _raw_image(self, user: str, field: str, ref: str) -> dict | None:
        """The referenced file as read (undecoded), or None when absent; records nothing."""
        path = self.resolve_image(user, field, ref)
        if not path.is_file() or not self._inside(path):  # a link out of the release is not read
            return None
        return {"bytes": path.read_bytes(), "path": os.path.relpath(path, self.root)}

    def _allowed_roots(self) -> list[Path]:
        """Where an image file may really be: the release folder, and for a Hub snapshot
        (``.../snapshots/<rev>/``) the repository's ``blobs/`` folder its files link to."""
        roots = [self.root]
        for parent in (self.root, *self.root.parents):  # the release may be a snapshot subfolder
            if parent.parent.name == "snapshots":
                roots.append((parent.parent.parent / "blobs").resolve())
                break
        return roots

    def _inside(self, path: Path) -> bool:
        """Whether ``path``, symlinks resolved, stays inside the release (see _allowed_roots)."""
        real = path.resolve()
        return any(real == r or r in real.parents for r in self._allowed_roots())

    def _image(self, user: str, field: str, ref: str) -> dict | None:
        path = self.resolve_image(user, field, ref)
        if not self.load_images:
            return None
        if not path.is_file():
            if not path.parent.is_dir():  # the whole folder is missing: one note, not N warnings
                folder = os.path.relpath(path.parent, self.root)
                self.absent_folders[folder] = self.absent_folders.get(folder, 0) + 1
            else:
                self._warn(path, user, field, f"image {ref!r} (listed in {self.POSTS}) not found")
            return None
        if not self._inside(path):
            self._warn(path, user, field, f"image {ref!r} is a link to {path.resolve()}, outside "
                                          "the release folder: not read")
            return None
        from PIL import Image, UnidentifiedImageError
        try:
            data = path.read_bytes()
            check_image(data)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            reason = "not a recognised image format" if isinstance(exc, UnidentifiedImageError) \
                else str(exc)
            self._warn(path, user, field, f"image {ref!r} is unreadable ({reason})")
            return None
        return {"bytes": data, "path": os.path.relpath(path, self.root)}

    def record(self, user: str, *, raw_images: bool = False) -> dict:
        """One user record (docs/design.md §2); raises ReleaseError on a malformed entry."""
        image_of = self._raw_image if raw_images else self._image
        return v1_record(user, self.posts.get(user), self.target.get(user), image_of,
                         posts_file=self.posts_path, target_file=self.target_path)

    def records(self, *, raw_images: bool = False) -> Iterator[dict]:
        """All user records in release order, images read one at a time; :attr:`notes` is
        not logged here (the caller reports it). ``raw_images``: every referenced file that
        exists is handed over as read, undecoded, and nothing is warned (for counting)."""
        for user in self.posts:
            yield self.record(user, raw_images=raw_images)


def v1_posts(user: str, entry: Any, image_of, *, posts_file="posts.json") -> tuple[list, list]:
    """(post rows, topics) of one posts.json entry, keeping the v1 quirks (an image reference
    beyond the last post becomes a post with text=None); ``image_of(user, field, ref)`` gives the
    image value (or None) of a reference other than "none". Raises ReleaseError naming
    ``posts_file``, user and field."""
    if not isinstance(entry, dict):
        raise ReleaseError(posts_file, f"expected an object, got {type(entry).__name__}", user)
    for key in ("posts", "topics", "img_urls"):
        if key not in entry:
            raise ReleaseError(posts_file, "missing key", user, key)
    posts, topics, img_urls = entry["posts"], entry["topics"], entry["img_urls"]
    if not isinstance(posts, dict):
        raise ReleaseError(posts_file, "expected an object of post id -> text", user, "posts")
    for post_id, text in posts.items():
        if not isinstance(text, str):
            raise ReleaseError(posts_file, f"post text must be text, got {text!r}", user,
                               f"posts.{post_id}")
    if not isinstance(img_urls, list):
        raise ReleaseError(posts_file, "expected a list of image paths", user, "img_urls")
    if not isinstance(topics, dict):
        raise ReleaseError(posts_file, "expected an object of category -> list of titles",
                           user, "topics")
    for category, titles in topics.items():
        if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
            raise ReleaseError(posts_file, f"expected a list of titles, got {titles!r}",
                               user, f"topics.{category}")
    rows = []
    post_items = list(posts.items())
    for i in range(max(len(post_items), len(img_urls))):
        post_id, text = post_items[i] if i < len(post_items) else (f"image{i + 1}", None)
        ref = img_urls[i] if i < len(img_urls) else None
        field = f"img_urls[{i}]"
        if i < len(img_urls) and not isinstance(ref, str):
            raise ReleaseError(posts_file, f"image reference must be text, got {ref!r}",
                               user, field)
        image = None if ref in (None, NO_IMAGE) else image_of(user, field, ref)
        rows.append({"post_id": post_id, "text": text, "image": image, "image_ref": ref,
                     "caption": None, "timestamp": None, "event": None})
    return rows, [{"category": c, "titles": list(t)} for c, t in topics.items()]


def v1_record(user: str, entry: Any, target_entry: Any, image_of, *, posts_file="posts.json",
              target_file="target.json") -> dict:
    """One user record from a posts.json entry and its target.json entry (see :func:`v1_posts`);
    problems raise ReleaseError naming ``posts_file``/``target_file``, user and field."""
    rows, topics = v1_posts(user, entry, image_of, posts_file=posts_file)
    try:
        attributes = from_v1(target_entry)
    except AttributeValueError as exc:
        raise ReleaseError(target_file, str(exc), user, exc.field) from None
    check_ranges(attributes, target_file, user)
    return {
        "user_id": user,
        "posts": rows,
        "topics": topics,
        "attributes": attributes,
        "leakage": [],
        "provenance": empty_provenance(source="prism-v1", version="1.0"),
    }


#: Plausible ranges of the numeric truth (inclusive): a value outside is a ReleaseError.
PLAUSIBLE = {("age",): (1, 120), ("appearance", "height_cm"): (40, 275),
             ("appearance", "weight_kg"): (2, 650)}


def check_ranges(attributes: dict, file, user: str) -> None:
    """Raise a ReleaseError naming the field when age, height or weight is implausible."""
    for path, (lo, hi) in PLAUSIBLE.items():
        value = attributes
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not lo <= value <= hi:
            name = ".".join(path)
            raise ReleaseError(file, f"{name}: {value!r} is outside the plausible range "
                                     f"{lo}-{hi}", user, path[-1] if len(path) == 1 else name)


def quirks(posts_entry: dict) -> dict:
    """The v1 quirks in one posts.json entry: counts of "none" images, extra images, template slots."""
    img = posts_entry.get("img_urls", [])
    return {
        "no_image_posts": sum(1 for r in img if r == NO_IMAGE),
        "image_post_mismatch": len(img) != len(posts_entry.get("posts", {})),
        "template_slots": sum(1 for titles in posts_entry.get("topics", {}).values()
                              for t in titles if TEMPLATE_SLOT.search(t)),
    }
