"""Fetch the PRISM release from a Hub dataset repository, whatever its layout.

The repository is read by content, not by fixed paths: ``posts.json`` and ``target.json`` are
looked for in any folder or inside a zip/tar archive, and the images ``posts.json`` refers to are
matched by name among loose files in any folder, zip/tar archive members, Parquet image columns
and imagefolder ``metadata.jsonl``/``.csv``/``.parquet`` files. :func:`plan_release` decides from
the file list alone what to read; :func:`fetch_release` downloads only that (``hf_hub_download``:
resumable, through the Hub cache, honouring ``revision``, ``HF_TOKEN``, ``HF_ENDPOINT`` and
``HF_HUB_OFFLINE``) and hands back a plain release folder that
:class:`~prism_dataset.release.Release` reads unchanged: the Hub snapshot itself when it already is
one, else a folder materialised once per commit under ``$PRISM_CACHE_DIR/hub`` (default
``~/.cache/prism/hub``), with archives extracted member by member after a traversal check.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import posixpath
import re
import shutil
import tarfile
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from prism_core.errors import PrismError

from .release import HUB_REPO_ID, NO_IMAGE, Release, ReleaseError

__all__ = ["Entry", "Plan", "plan_release", "fetch_release", "release_refs", "normalise_ref",
           "list_archive", "list_parquet", "list_metadata", "materialise", "release_cache_dir",
           "NoReleaseError"]

log = logging.getLogger(__name__)

POSTS, TARGET = Release.POSTS, Release.TARGET
ARCHIVE_SUFFIXES = {".zip": "zip", ".tar": "tar", ".tar.gz": "tar", ".tgz": "tar",
                    ".tar.bz2": "tar", ".tbz2": "tar", ".tar.xz": "tar", ".txz": "tar"}
#: compressed files prism cannot open: named when nothing else holds the images
UNREAD_SUFFIXES = (".7z", ".rar", ".zst", ".gz", ".bz2", ".xz", ".lz4")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
METADATA_NAMES = ("metadata.jsonl", "metadata.csv", "metadata.parquet")
MARKER = ".prism-release.json"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class NoReleaseError(ReleaseError):
    """The repository holds no posts.json (nor an archive with one): not the release layout."""


def _suffix(path: str) -> str:
    name = posixpath.basename(path).lower()
    for s in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.endswith(s):
            return s
    return posixpath.splitext(name)[1]


def archive_kind(path: str) -> str | None:
    """"zip" or "tar" for an archive prism extracts, else None."""
    return ARCHIVE_SUFFIXES.get(_suffix(path))


def is_image_name(name: str) -> bool:
    return posixpath.splitext(name.lower())[1] in IMAGE_SUFFIXES


def normalise_ref(ref: Any) -> str | None:
    """A reference or member name as a clean relative path ("./images/1.jpg" -> "images/1.jpg");
    None for one that is not text, is absolute or leaves its folder (never written anywhere)."""
    if not isinstance(ref, str) or not ref.strip() or ref == NO_IMAGE:
        return None
    text = ref.replace("\\", "/")
    if text.startswith(("/", "~")) or re.match(r"^[a-zA-Z]:", text):
        return None
    norm = posixpath.normpath(text)
    if norm in (".", "") or norm == ".." or norm.startswith("../"):
        return None
    return norm


def release_refs(posts: Any) -> list[str]:
    """The distinct image references of a posts.json object, in order ("none" left out)."""
    seen: dict[str, None] = {}
    for entry in (posts.values() if isinstance(posts, dict) else ()):
        for ref in (entry.get("img_urls") if isinstance(entry, dict) else None) or ():
            if isinstance(ref, str) and ref != NO_IMAGE:
                seen.setdefault(ref, None)
    return list(seen)


# ---------------------------------------------------------------- the plan (pure)

@dataclass(frozen=True)
class Entry:
    """Something in the repository that may be a release file: ``path`` is the name it is
    matched by, ``file`` the repository file holding it, ``kind`` how it is read ("file", "zip",
    "tar", "parquet") and ``member`` where inside (archive member name; Parquet (row, column,
    list index, field)). ``alias``: a name given by metadata rather than the file's own."""
    path: str
    file: str
    kind: str = "file"
    member: Any = None
    alias: bool = False

    @property
    def depth(self) -> int:
        return self.path.count("/")


@dataclass
class Plan:
    """What to read: the text files, the image behind each reference (normalised), the references
    nothing holds, and the repository files still to inspect before the plan is final."""
    posts: Entry | None = None
    target: Entry | None = None
    images: dict[str, Entry] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    inspect: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The folder posts.json is in (references are relative to it)."""
        return posixpath.dirname(self.posts.path) if self.posts else ""

    def downloads(self) -> list[str]:
        """The repository files the final plan reads, text files first."""
        out = dict.fromkeys(e.file for e in (self.posts, self.target) if e is not None)
        out.update(dict.fromkeys(sorted({e.file for e in self.images.values()})))
        return list(out)

    def describe(self) -> str:
        """One line: where the text files and the images come from."""
        where = f"in {self.base}/" if self.base else "at the root"
        if self.posts is not None and self.posts.kind != "file":
            where += f" of {self.posts.file}"
        sources = Counter(_source_label(e) for e in self.images.values())
        images = ", ".join(f"{n} from {s}" for s, n in sources.most_common()) or "none found"
        total = len(self.images) + len(self.missing)
        return (f"{POSTS} and {TARGET} {where}; images: {len(self.images)} of {total} "
                f"({images})")


def _source_label(e: Entry) -> str:
    if e.kind == "file":
        folder = posixpath.dirname(e.file)
        return f"files in {folder}/" if folder else "files at the root"
    return e.file


def _entries(files: Iterable[str | Entry]) -> list[Entry]:
    return sorted((f if isinstance(f, Entry) else Entry(f, f) for f in files),
                  key=lambda e: (e.path, e.file, str(e.member)))


def _locate_text(entries: list[Entry]) -> tuple[Entry, Entry] | None:
    posts = [e for e in entries if posixpath.basename(e.path) == POSTS and not e.alias]
    targets = [e for e in entries if posixpath.basename(e.path) == TARGET and not e.alias]
    if not posts:
        return None
    by_dir = {posixpath.dirname(t.path): t for t in reversed(targets)}
    paired = [p for p in posts if posixpath.dirname(p.path) in by_dir]
    if paired:
        best = min(paired, key=lambda p: (p.depth, p.kind != "file", p.path))
        return best, by_dir[posixpath.dirname(best.path)]
    if len(targets) == 1:
        return min(posts, key=lambda p: (p.depth, p.path)), targets[0]
    found = ", ".join(t.path for t in targets) or "none"
    raise ReleaseError(posts[0].path, f"no {TARGET} next to {POSTS} (found {TARGET}: {found})")


def _suffix_len(path: str, ref: str) -> int:
    a, b = path.split("/"), ref.split("/")
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


_KIND_RANK = {"file": 0, "zip": 1, "tar": 1, "parquet": 2}


def _match(refs: list[str], entries: list[Entry], base: str) -> dict[str, Entry]:
    """The entry behind each reference: same file name (case-insensitive as a fallback), then the
    longest common path ending, metadata aliases, loose files, the folder holding the most."""
    by_name: dict[str, list[Entry]] = defaultdict(list)
    by_lower: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        name = posixpath.basename(e.path)
        by_name[name].append(e)
        by_lower[name.lower()].append(e)
    candidates = {r: by_name.get(posixpath.basename(r)) or by_lower.get(posixpath.basename(r).lower())
                  or [] for r in refs}
    hits = Counter(posixpath.dirname(e.path) for cands in candidates.values() for e in cands)
    out = {}
    for ref, cands in candidates.items():
        if cands:
            exact = posixpath.join(base, ref) if base else ref
            out[ref] = max(cands, key=lambda e: (e.path == exact, _suffix_len(e.path, ref), e.alias,
                                                 -_KIND_RANK.get(e.kind, 3),
                                                 hits[posixpath.dirname(e.path)], -e.depth))
    return out


def _describe(entries: list[Entry], limit: int = 8) -> str:
    """What the repository holds, briefly: root files by name, folders by count and suffixes."""
    files = sorted({e.file for e in entries})
    root = [f for f in files if "/" not in f]
    folders: dict[str, list[str]] = defaultdict(list)
    for f in files:
        if "/" in f:
            folders[f.split("/", 1)[0]].append(f)
    parts = [f + (" (not a zip/tar archive)" if _suffix(f) in UNREAD_SUFFIXES else "") for f in root]
    for folder, inside in sorted(folders.items()):
        kinds = Counter(_suffix(f) or "no suffix" for f in inside)
        parts.append(f"{folder}/ ({len(inside)} file(s): "
                     f"{', '.join(f'{n} {k}' for k, n in kinds.most_common(3))})")
    if not parts:
        return "no files"
    more = f" and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def plan_release(files: Iterable[str | Entry], refs: Iterable[str] | None = None, *,
                 inspected: Iterable[str] = (), where: str = "the repository") -> Plan:
    """Decide from a repository's file list (plus what inspected archives, Parquet shards and
    metadata files hold) where the release is; pure, no I/O.

    Without ``refs`` only the text files are located (the caller reads posts.json next). With
    them, every reference is matched by name; while some are unmatched, the archives, Parquet
    shards and metadata files not yet in ``inspected`` are returned in ``Plan.inspect``. Raises a
    one-line ReleaseError naming what the repository holds when posts.json/target.json are
    nowhere (:class:`NoReleaseError`), or when images are there but none can be read.
    """
    entries = _entries(files)
    inspected = set(inspected)
    repo_files = sorted({e.file for e in entries})
    archives = [f for f in repo_files if archive_kind(f) and f not in inspected]
    text = _locate_text(entries)
    if text is None:
        if archives:
            return Plan(inspect=archives)
        raise NoReleaseError(where, f"no {POSTS} and {TARGET} found in any folder or zip/tar "
                                    f"archive; the repository holds: {_describe(entries)}")
    plan = Plan(*text)
    if refs is None:
        return plan
    wanted = [r for r in (normalise_ref(r) for r in refs) if r is not None]
    wanted = list(dict.fromkeys(wanted))
    images = [e for e in entries if e.kind in ("zip", "tar", "parquet")
              or is_image_name(e.path) or e.alias]
    plan.images = _match(wanted, images, plan.base)
    plan.missing = [r for r in wanted if r not in plan.images]
    # imagefolder metadata is small and may rename files: always read; the rest only if needed
    plan.inspect = [f for f in repo_files if posixpath.basename(f) in METADATA_NAMES
                    and f not in inspected]
    if plan.missing:
        plan.inspect += archives + [f for f in repo_files if f.endswith(".parquet")
                                    and f not in inspected and f not in plan.inspect]
    if plan.inspect:
        plan.inspect = sorted(set(plan.inspect))
        return plan
    if wanted and not plan.images and any(
            is_image_name(e.path) or e.kind == "parquet" or e.file.endswith(".parquet")
            or _suffix(e.file) in UNREAD_SUFFIXES for e in entries):
        raise ReleaseError(where, f"none of the {len(wanted)} images {POSTS} refers to "
                                  f"(e.g. {wanted[0]!r}) can be found or read; the repository "
                                  f"holds: {_describe(entries)}")
    return plan


# ---------------------------------------------------------------- inspecting repository files

def _unsafe_member(name: str) -> str | None:
    """Why an archive member name may not be extracted (absolute, drive, "..", empty), or None."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[a-zA-Z]:", text):
        return "an absolute path"
    if ".." in text.split("/"):
        return "a '..' component"
    if not text.strip("/"):
        return "an empty name"
    return None


def list_archive(local: Path, repo_file: str) -> list[Entry]:
    """The regular-file members of a zip/tar archive as entries next to the archive; raises a
    ReleaseError naming the archive for a member that is absolute, has "..", or is a link/device."""
    kind = archive_kind(repo_file)
    folder = posixpath.dirname(repo_file)
    out = []

    def add(name: str, what: str | None) -> None:
        reason = _unsafe_member(name) or what
        if reason:
            raise ReleaseError(repo_file, f"archive member {name!r} is {reason}: not extracted")
        norm = posixpath.normpath(name.replace("\\", "/"))
        out.append(Entry(posixpath.join(folder, norm) if folder else norm, repo_file, kind, name))

    try:
        if kind == "zip":
            with zipfile.ZipFile(local) as z:
                for info in z.infolist():
                    if info.is_dir():
                        continue
                    mode = info.external_attr >> 16
                    link = (mode & 0o170000) == 0o120000
                    add(info.filename, "a symbolic link" if link else None)
        else:
            with tarfile.open(local) as t:
                for m in t:
                    if m.isdir():
                        continue
                    what = None if m.isfile() else ("a link" if (m.issym() or m.islnk())
                                                    else "not a regular file")
                    add(m.name, what)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ReleaseError(repo_file, f"not a readable {kind} archive ({exc})") from None
    return out


def _image_columns(schema) -> list[tuple[str, str | None]]:
    """(column, field inside its list items or None) of the image values a Parquet schema holds:
    ``datasets`` Image structs ({bytes, path}) or binary columns, top level or in a list of structs."""
    import pyarrow as pa

    def binary(t) -> bool:
        return pa.types.is_binary(t) or pa.types.is_large_binary(t)

    def is_image(t) -> bool:
        if pa.types.is_struct(t):
            i = t.get_field_index("bytes")
            return i >= 0 and binary(t.field(i).type)
        return binary(t)

    out = []
    for f in schema:
        if is_image(f.type):
            out.append((f.name, None))
        elif (pa.types.is_list(f.type) or pa.types.is_large_list(f.type)) \
                and pa.types.is_struct(f.type.value_type):
            out += [(f.name, sub.name) for sub in f.type.value_type if is_image(sub.type)]
    return out


def _names(value: Any, skip: str | None = None) -> list[str]:
    """Image-like file names among a row's (or a list item's) text values."""
    if not isinstance(value, dict):
        return []
    out = []
    for k, v in value.items():
        if k != skip and isinstance(v, str) and is_image_name(v) and normalise_ref(v):
            out.append(normalise_ref(v))
    return out


def _parquet_values(local: Path, wanted: set[tuple[int, str, int | None, str | None]] | None = None):
    """(key, image bytes or None, names) for each image value of a Parquet file; ``wanted``
    restricts the bytes to those keys (names are always given)."""
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(local)
    columns = _image_columns(pf.schema_arrow)
    row = 0
    for batch in pf.iter_batches(batch_size=64):
        for r in batch.to_pylist():
            for col, sub in columns:
                items = [(None, r, r.get(col))] if sub is None else \
                    [(i, it, (it or {}).get(sub)) for i, it in enumerate(r.get(col) or [])]
                for index, holder, value in items:
                    key = (row, col, index, sub)
                    data = value.get("bytes") if isinstance(value, dict) else value
                    if data is None:
                        continue
                    names = []
                    if isinstance(value, dict) and normalise_ref(value.get("path")):
                        names.append(normalise_ref(value["path"]))
                    names += _names(holder, skip=col if sub is None else sub)
                    yield key, (data if wanted is None or key in wanted else None), names
            row += 1


def list_parquet(local: Path, repo_file: str) -> list[Entry]:
    """One entry per name of each image value in a Parquet shard (its stored path and any
    image-like text in the same row or list item)."""
    try:
        out = []
        for key, _, names in _parquet_values(local, wanted=set()):
            for i, name in enumerate(dict.fromkeys(names)):
                out.append(Entry(name, repo_file, "parquet", key, alias=i > 0))
        return out
    except (OSError, ValueError) as exc:
        raise ReleaseError(repo_file, f"not a readable Parquet file ({exc})") from None


def list_metadata(local: Path, repo_file: str, repo_files: set[str]) -> list[Entry]:
    """Aliases from an imagefolder metadata file: each image-like text value of a row names the
    file in its ``file_name`` column (relative to the metadata file), when the repository has it."""
    folder = posixpath.dirname(repo_file)
    try:
        if repo_file.endswith(".jsonl"):
            rows = [json.loads(line) for line in local.read_text("utf-8").splitlines() if line.strip()]
        elif repo_file.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(local.read_text("utf-8"))))
        else:
            import pyarrow.parquet as pq
            rows = pq.read_table(local).to_pylist()
    except (OSError, ValueError, csv.Error) as exc:
        raise ReleaseError(repo_file, f"not a readable metadata file ({exc})") from None
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        key = next((k for k in row if k == "file_name" or str(k).endswith("_file_name")), None)
        name = normalise_ref(row.get(key)) if key else None
        if name is None:
            continue
        target = posixpath.normpath(posixpath.join(folder, name)) if folder else name
        if target in repo_files:
            out += [Entry(alias, target, "file", alias=True) for alias in _names(row, skip=key)]
    return out


# ---------------------------------------------------------------- materialising

def _write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def _place(src: Path, dest: Path) -> None:
    """``src`` at ``dest`` as a hard link to its blob (no copy, survives a Hub cache clean-up),
    or a copy where links are not possible."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(os.path.realpath(src), tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def materialise(plan: Plan, local: Callable[[str], Path | None], dest: Path,
                marker: dict | None = None) -> Path:
    """Write the plan's files as a plain release folder at ``dest`` (posts.json, target.json,
    each image at its reference); ``local(repo_file)`` gives a downloaded file or None. The
    ``marker`` (written last) records that the folder is complete."""
    dest.mkdir(parents=True, exist_ok=True)
    jobs: dict[tuple[str, str], list[tuple[Path, Entry]]] = defaultdict(list)
    for name, e in ((POSTS, plan.posts), (TARGET, plan.target)):
        jobs[(e.file, e.kind)].append((dest / name, e))
    for ref, e in plan.images.items():
        jobs[(e.file, e.kind)].append((dest / ref, e))
    for (repo_file, kind), items in jobs.items():
        path = local(repo_file)
        if path is None:
            continue
        if kind == "file":
            for out, _ in items:
                _place(path, out)
        elif kind == "zip":
            with zipfile.ZipFile(path) as z:
                for out, e in items:
                    _write(out, z.read(e.member))
        elif kind == "tar":
            wanted = defaultdict(list)
            for out, e in items:
                wanted[e.member].append(out)
            with tarfile.open(path) as t:
                for m in t:
                    if m.name in wanted and m.isfile():
                        data = t.extractfile(m).read()
                        for out in wanted[m.name]:
                            _write(out, data)
        elif kind == "parquet":
            wanted = defaultdict(list)
            for out, e in items:
                wanted[e.member].append(out)
            for key, data, _ in _parquet_values(path, set(wanted)):
                if data is not None:
                    for out in wanted[key]:
                        _write(out, bytes(data))
    if marker is not None:
        _write(dest / MARKER, json.dumps(marker, indent=1).encode())
    return dest


# ---------------------------------------------------------------- the Hub

def release_cache_dir() -> Path:
    """Where materialised releases go: $PRISM_CACHE_DIR/hub, default ~/.cache/prism/hub."""
    root = os.environ.get("PRISM_CACHE_DIR") or Path("~/.cache/prism").expanduser()
    return Path(root) / "hub"


class _Hub:
    """One repository at one revision: its listing and its files, online or from the cache."""

    def __init__(self, repo_id: str, revision: str | None, *, cache_dir=None, endpoint=None,
                 token=None):
        from huggingface_hub import constants
        self.repo_id, self.revision = repo_id, revision or constants.DEFAULT_REVISION
        self.cache_dir = Path(cache_dir or constants.HF_HUB_CACHE)
        self.endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
        self.token = token
        self.storage = self.cache_dir / ("datasets--" + repo_id.replace("/", "--"))
        self.where = f"hf://datasets/{repo_id}"
        self.commit: str | None = None
        self.sizes: dict[str, int | None] = {}
        self.offline = False
        self.error: Exception | None = None  # why the Hub could not be reached
        self._local: dict[str, Path | None] = {}

    def _api(self):
        from huggingface_hub import HfApi
        return HfApi(endpoint=self.endpoint, token=self.token)

    def list(self) -> list[str] | None:
        """Resolve the revision to a commit and list its files (offline or unreachable: the cached
        snapshot's; None when only the commit is known, its snapshot gone)."""
        import httpx2 as httpx
        from huggingface_hub import constants
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
        from huggingface_hub.hf_api import RepoFile
        error: Exception | None = None
        if not constants.is_offline_mode():
            try:
                api = self._api()
                info = api.repo_info(self.repo_id, repo_type="dataset", revision=self.revision)
                self.commit = info.sha
                self.sizes = {f.path: f.size for f in api.list_repo_tree(
                    self.repo_id, recursive=True, revision=self.commit, repo_type="dataset")
                    if isinstance(f, RepoFile)}
                self._remember_ref()
                return sorted(self.sizes)
            except RevisionNotFoundError:
                raise ReleaseError(self.where, f"revision {self.revision!r} not found") from None
            except (GatedRepoError, RepositoryNotFoundError) as exc:
                raise ReleaseError(self.where, "repository not found, or private/gated and no "
                                   "access (set HF_TOKEN or run `hf auth login`)") from exc
            except (HfHubHTTPError, httpx.TransportError, OfflineModeIsEnabled) as exc:
                error = exc  # Hub unreachable: try the local cache
        return self._cached_listing(error)

    def not_cached(self) -> ReleaseError:
        """The error for a release that is neither reachable nor in the local cache."""
        error = self.error
        reason = "HF_HUB_OFFLINE is set" if error is None else \
            f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
        exc = ReleaseError(self.where, f"cannot fetch the release from the Hub and it is not in "
                           f"the local cache ({reason}); connect to the Hub once (HF_HUB_OFFLINE "
                           f"unset) or give a release folder (--data-dir on the command line, "
                           f"data_dir= in Python)")
        exc.__cause__ = error
        return exc

    def _remember_ref(self) -> None:
        """Record revision -> commit in the Hub cache, so an offline call finds this commit."""
        if self.revision != self.commit:
            ref = self.storage / "refs" / self.revision
            ref.parent.mkdir(parents=True, exist_ok=True)
            if not ref.is_file() or ref.read_text().strip() != self.commit:
                ref.write_text(self.commit)

    def _cached_listing(self, error: Exception | None) -> list[str]:
        self.offline = True
        commit = self.revision if _COMMIT.match(self.revision) else None
        ref = self.storage / "refs" / self.revision
        if commit is None and ref.is_file():
            commit = ref.read_text().strip()
        self.error = error
        if commit is None:
            raise self.not_cached()
        self.commit = commit
        snapshot = self.storage / "snapshots" / commit
        if not snapshot.is_dir():
            return None  # a release materialised earlier may still be there
        files = []
        for folder, _, names in os.walk(snapshot):
            for n in names:
                rel = os.path.relpath(os.path.join(folder, n), snapshot).replace(os.sep, "/")
                files.append(rel)
        self.sizes = dict.fromkeys(files)
        log.info("%s: offline, using the cached snapshot %s", self.where, commit)
        return sorted(files)

    @property
    def snapshot(self) -> Path:
        return self.storage / "snapshots" / self.commit

    def fetch(self, files: list[str], what: str = "files") -> dict[str, Path | None]:
        """Download ``files`` (8 at a time, one progress bar over their bytes); offline, the cached
        ones. Returns repository path -> local path (None: not in the cache, offline)."""
        todo = [f for f in dict.fromkeys(files) if f not in self._local]
        if todo:
            from huggingface_hub import hf_hub_download
            from huggingface_hub.errors import LocalEntryNotFoundError
            from huggingface_hub.utils import tqdm as hf_tqdm
            total = sum(self.sizes.get(f) or 0 for f in todo)
            quiet = len(todo) == 1 and not self.offline
            bar = hf_tqdm(total=total or None, unit="B", unit_scale=True, desc=f"{self.repo_id}: "
                          f"{len(todo)} {what}", disable=True if self.offline or quiet else None,
                          name="huggingface_hub.http_get")

            aggregated = _aggregated_bar(bar)

            def one(f: str) -> tuple[str, Path | None]:
                try:
                    return f, Path(hf_hub_download(
                        self.repo_id, f, repo_type="dataset", revision=self.commit,
                        cache_dir=self.cache_dir, endpoint=self.endpoint, token=self.token,
                        local_files_only=self.offline, tqdm_class=None if quiet else aggregated))
                except LocalEntryNotFoundError:
                    if self.offline:
                        return f, None
                    raise

            try:
                with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
                    self._local.update(pool.map(one, todo))
            except Exception as exc:
                if isinstance(exc, PrismError):
                    raise
                reason = (str(exc).strip().splitlines() or [""])[0]
                raise ReleaseError(self.where, f"download interrupted ({type(exc).__name__}: "
                                   f"{reason}); run again to resume") from exc
            finally:
                bar.close()
        return {f: self._local.get(f) for f in files}


def _aggregated_bar(bar):
    """A tqdm class whose bars all feed ``bar`` (per-file progress folded into one, as
    snapshot_download does; also for Xet downloads, which report transfer separately)."""
    class Aggregated:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def close(self):
            pass

        def update(self, n=1):
            bar.update(n or 0)

        def update_transfer(self, n=1):
            pass

        def set_postfix_str(self, *args, **kwargs):
            pass

        set_transfer_postfix_str = set_postfix_str
    return Aggregated


def _inspect(hub: _Hub, files: list[str], repo_files: set[str]) -> list[Entry]:
    local = hub.fetch(files, "archives/shards")
    out = []
    for f in files:
        path = local[f]
        if path is None:
            continue
        if archive_kind(f):
            out += list_archive(path, f)
        elif posixpath.basename(f) in METADATA_NAMES:
            out += list_metadata(path, f, repo_files)
        else:
            out += list_parquet(path, f)
    return out


def _read_text(entry: Entry, local: Path) -> Any:
    """posts.json from the plan (a file, or an archive member) as JSON, for its references."""
    if entry.kind == "file":
        data = local.read_bytes()
    elif entry.kind == "zip":
        with zipfile.ZipFile(local) as z:
            data = z.read(entry.member)
    else:
        with tarfile.open(local) as t:
            data = t.extractfile(entry.member).read()
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}  # the reader names the problem when it opens the materialised file


def fetch_release(repo_id: str = HUB_REPO_ID, revision: str | None = None, *,
                  images: bool = True, cache_dir: str | os.PathLike | None = None,
                  endpoint: str | None = None, token: str | None = None,
                  release_dir: str | os.PathLike | None = None) -> Path:
    """A local release folder for ``repo_id`` at ``revision``, whatever the repository's layout.

    Lists the repository (or, offline or unreachable, the cached snapshot), plans with
    :func:`plan_release`, downloads what the plan needs into the Hub cache (``cache_dir``,
    default the Hub's) and returns the snapshot folder when it already is a release, else a
    folder materialised under ``release_dir`` (default :func:`release_cache_dir`). With
    ``images=False`` only the text files are fetched. Raises a one-line ReleaseError.
    """
    hub = _Hub(repo_id, revision, cache_dir=cache_dir, endpoint=endpoint, token=token)
    files = hub.list()
    where = f"{hub.where}@{hub.commit[:12]}"
    dest = Path(release_dir or release_cache_dir()) / hub.storage.name / hub.commit
    done = _complete(dest, hub.commit)
    if done or (done is not None and not images):
        return dest
    if files is None:
        raise hub.not_cached()
    entries, inspected, refs = [Entry(f, f) for f in files], set(), None
    while True:
        plan = plan_release(entries, refs, inspected=inspected, where=where)
        if plan.inspect:
            entries += _inspect(hub, plan.inspect, set(files))
            inspected.update(plan.inspect)
            continue
        if images and refs is None:
            local = hub.fetch([plan.posts.file], "text files")[plan.posts.file]
            if local is None:
                raise ReleaseError(where, f"{plan.posts.file} is not in the local cache (offline)")
            refs = release_refs(_read_text(plan.posts, local))
            continue
        break
    local = hub.fetch(plan.downloads(), "images and text files")
    for e in (plan.posts, plan.target):
        if local.get(e.file) is None:
            raise ReleaseError(where, f"{e.file} is not in the local cache (offline)")
    found = sum(1 for e in plan.images.values() if local.get(e.file) is not None)
    log.info("%s: %s", where, plan.describe())
    if all(e.kind == "file" and e.path == e.file for e in (plan.posts, plan.target)) and all(
            e.kind == "file" and e.file == posixpath.join(plan.base, ref)
            for ref, e in plan.images.items()):
        return hub.snapshot / plan.base if plan.base else hub.snapshot  # already a release folder
    marker = {"repo_id": repo_id, "revision": hub.revision, "commit": hub.commit,
              "layout": plan.describe(), "images": found,
              "missing": len(plan.missing) + len(plan.images) - found, "complete": images}
    return materialise(plan, local.get, dest, marker=marker if not hub.offline or
                       found == len(plan.images) else None)


def _complete(dest: Path, commit: str) -> bool | None:
    """Whether ``dest`` holds a materialised release of ``commit`` (with its images: True;
    text only: False); None when it does not."""
    try:
        marker = json.loads((dest / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if marker.get("commit") != commit or not (dest / POSTS).is_file():
        return None
    return bool(marker.get("complete"))
