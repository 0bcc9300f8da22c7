"""Datasets in, chain inputs out: load ``--dataset v1|synthetic|hub:REPO|DIR`` and decode user rows.

Rows are read in their stored form (images as encoded bytes, closed categories as ClassLabel
ints), so one corrupt image cannot stop the iteration: it is checked here, per image, and an
unreadable one is reported on its post (the chain records it as dropped on its user). The
description :func:`load_users` returns counts the referenced images found, missing and
unreadable (``images``), so a run without images is recorded as one.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NoReturn

from prism_core.errors import PrismError
from prism_core.images import check_image, encoded_bytes
from prism_dataset.hub_release import NoReleaseError, fetch_release
from prism_dataset.mapping import SchemaError, as_prism
from prism_dataset.release import NO_IMAGE, Release, count_images
from prism_dataset.schema import decode_attributes

__all__ = ["Post", "UserInput", "load_users", "iter_users", "stored_rows", "user_input",
           "root_cause", "raise_user_facing", "from_dataset", "dataset_image_counts"]

log = logging.getLogger(__name__)


@dataclass
class Post:
    """One post as the chain sees it: id, text (None for an image without a post), image bytes."""
    post_id: str
    text: str | None
    image: bytes | None = None
    image_error: str | None = None  # the image exists but cannot be read

    @property
    def image_id(self) -> str:
        return f"{self.post_id}:image"


@dataclass
class UserInput:
    """One user record decoded for the chain; ``attributes``/``leakage`` are the truth for scoring."""
    user_id: str
    posts: list[Post]
    topics: list[tuple[str, list[str]]] = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    leakage: list = field(default_factory=list)
    index: int = 0
    #: Posts whose text was cut at the post-length limit: [{"post_id", "chars"}].
    truncated_posts: list = field(default_factory=list)

    @property
    def images(self) -> list[Post]:
        return [p for p in self.posts if p.image is not None or p.image_error]


#: Longest post text given to a model, in characters (about 12k tokens); a longer post is cut
#: here and the cut is recorded on the user (``truncated_posts``) and logged.
MAX_POST_CHARS = 50_000


def user_input(row: dict, index: int = 0, features=None, *, absent_dropped: bool = False) -> UserInput:
    """A UserInput from one dataset row (stored or decoded form); bad images become image_error.

    ``absent_dropped``: the dataset holds images, so a post that references one it does not
    hold (the release's file was missing or unreadable, and the builder left it out) has a
    dropped image too. Without it (a release without its images) the image channel is not
    measured at all, which the run says once, not per user.
    """
    user_id = str(row.get("user_id"))
    posts, truncated = [], []
    for i, p in enumerate(row.get("posts") or []):
        post_id = str(p.get("post_id") or f"post{i + 1}")
        data, error = None, None
        try:
            data = encoded_bytes(p.get("image"))
            if data is not None:
                check_image(data)
        except Exception as exc:  # any decoder error: the image is unusable, the run goes on
            error = f"user {user_id!r}, post {post_id!r}: unreadable image ({type(exc).__name__}: {exc})"
            data = None
        ref = p.get("image_ref")
        if data is None and error is None and absent_dropped and ref not in (None, NO_IMAGE):
            error = (f"user {user_id!r}, post {post_id!r}: image {ref!r} is not in the dataset "
                     "(missing or unreadable in the release)")
        text = p.get("text")
        text = text if isinstance(text, str) else None
        if text is not None and len(text) > MAX_POST_CHARS:
            truncated.append({"post_id": post_id, "chars": len(text)})
            log.warning("user %r, post %r: text of %d characters cut to %d", user_id, post_id,
                        len(text), MAX_POST_CHARS)
            text = text[:MAX_POST_CHARS]
        posts.append(Post(post_id, text, data, error))
    topics = [(str(t.get("category")), [str(x) for x in (t.get("titles") or [])])
              for t in (row.get("topics") or [])]
    attributes = row.get("attributes") or {}
    if attributes:
        attributes = decode_attributes(attributes, features)
    return UserInput(user_id, posts, topics, attributes, list(row.get("leakage") or []), index,
                     truncated)


def iter_users(dataset, indices: list[int] | None = None, *, keep=None, stop: int | None = None,
               chunk: int = 64, absent_dropped: bool = False) -> Iterator[UserInput]:
    """UserInputs of a Dataset or an IterableDataset (see :func:`stored_rows`); a corrupt image
    does not stop the iteration. ``absent_dropped``: see :func:`user_input`."""
    features = getattr(dataset, "features", None)
    for pos, row in stored_rows(dataset, indices, keep=keep, stop=stop, chunk=chunk):
        yield user_input(row, pos, features, absent_dropped=absent_dropped)


def stored_rows(dataset, indices: list[int] | None = None, *, keep=None, stop: int | None = None,
                chunk: int = 64) -> Iterator[tuple[int, dict]]:
    """(position, row in stored form: images not decoded) of a Dataset (the given positions, in
    order; a prepared one read as a stream from its Arrow files) or an IterableDataset (in
    order), up to position ``stop``. For an IterableDataset, ``keep(position, user_id)`` picks
    rows before they are decoded."""
    import datasets

    if isinstance(dataset, datasets.Dataset):
        positions = list(range(len(dataset))) if indices is None else list(indices)
        if stop is not None:
            positions = [p for p in positions if p < stop]
        if _stream_files(dataset) is not None and positions == sorted(positions):
            yield from _streamed_rows(dataset, positions, chunk)
            return
        table = dataset.with_format("arrow")
        for start in range(0, len(positions), chunk):
            part = positions[start:start + chunk]
            yield from zip(part, table.select(part)[:].to_pylist())
        return
    with without_torch():
        rows = dataset.decode(False) if hasattr(dataset, "decode") else dataset
    wanted = None if indices is None else set(indices)
    if indices is not None:
        stop = min(stop if stop is not None else 1 << 62, max(indices, default=-1) + 1)
    for pos, row in enumerate(rows):
        if stop is not None and pos >= stop:
            break
        if wanted is not None and pos not in wanted:
            continue
        if keep is not None and not keep(pos, row.get("user_id")):
            continue
        yield pos, row


def _stream_files(ds) -> list[str] | None:
    """The Arrow files a Dataset's rows are, in order, when they can be read as a stream: each
    memory-mapped and its rows unchanged since it was written (no slice, cast or rename replayed
    on it), no indices mapping. Else None."""
    from datasets.table import ConcatenationTable, MemoryMappedTable

    if getattr(ds, "_indices", None) is not None:
        return None
    table = ds.data
    if isinstance(table, MemoryMappedTable):
        parts = [table]
    elif isinstance(table, ConcatenationTable) and all(len(row) == 1 for row in table.blocks):
        parts = [row[0] for row in table.blocks]
    else:
        return None
    harmless = ("replace_schema_metadata",)  # what `datasets` replays on every loaded file
    if not parts or not all(isinstance(t, MemoryMappedTable)
                            and all(op in harmless for op, *_ in t.replays or ()) for t in parts):
        return None
    return [t.path for t in parts]


def _stream_batches(ds, columns: list[str]) -> Iterator:
    """The record batches of a Dataset (see _stream_files), read from its files one at a time
    into memory that is freed after use, so the pages of a memory-mapped file do not pile up
    in the process as it is read: memory stays flat in the size of the dataset."""
    import pyarrow as pa

    for path in _stream_files(ds) or []:
        with pa.OSFile(path) as f:
            for batch in pa.ipc.open_stream(f):
                yield batch.select(columns)


def _streamed_rows(ds, positions: list[int], chunk: int) -> Iterator[tuple[int, dict]]:
    """(position, stored row) for the ascending ``positions`` of a streamable Dataset."""
    import pyarrow as pa

    wanted, base, k = positions, 0, 0
    for batch in _stream_batches(ds, ds.column_names):
        end = base + batch.num_rows
        while k < len(wanted) and wanted[k] < end:
            part = []
            while k < len(wanted) and wanted[k] < end and len(part) < chunk:
                part.append(wanted[k])
                k += 1
            rows = batch.take(pa.array([p - base for p in part])).to_pylist()
            yield from zip(part, rows)
        if k == len(wanted):
            return
        base = end


# ------------------------------------------------------------------ loading by name

@contextlib.contextmanager
def without_torch():
    """Make ``datasets`` build IterableDatasets without importing torch (it would only share the
    epoch counter with DataLoader workers, which the chain never uses; 2 s and ~190 MiB)."""
    import datasets.config as config
    if "torch" in sys.modules or not config.TORCH_AVAILABLE:
        yield
        return
    config.TORCH_AVAILABLE = False
    try:
        yield
    finally:
        config.TORCH_AVAILABLE = True


def _streaming(builder, split: str | None):
    with without_torch():
        return builder.as_streaming_dataset(split=split or "test")


def load_users(dataset: str, *, data_dir: str | None = None, n_users: int | None = None,
               seed: int | None = None, split: str | None = None, cache_dir: str | None = None,
               **synthetic_options):
    """(dataset, description) for ``--dataset``: ``v1``, ``synthetic``, ``hub:REPO[@REVISION]``
    or a folder.

    ``v1``: the release folder ``data_dir`` (or the Hub release) through PrismBuilder, streamed.
    ``hub:REPO``: the release in that Hub dataset repository, whatever its layout
    (:func:`prism_dataset.hub_release.fetch_release`); a repository without posts.json is read
    with ``datasets.load_dataset`` and its columns mapped (:func:`from_dataset`).
    ``synthetic``: PrismBuilder(config_name="synthetic") with ``n_users``/``seed``, built once and
    cached by `datasets` (in ``cache_dir``, default the datasets cache); other keyword options go
    to its PrismConfig. A folder: a release (posts.json), a ``save_to_disk`` folder, or Parquet /
    JSON files with a README (``load_dataset``). The description's ``images`` counts the
    referenced images found, missing and unreadable. Unreadable inputs raise a PrismError.
    """
    from prism_dataset.builder import PrismBuilder

    desc: dict[str, Any] = {"dataset": dataset}
    try:
        if dataset == "v1":
            if data_dir is not None and not (Path(data_dir) / "posts.json").is_file():
                raise PrismError(f"--data-dir {data_dir}: no posts.json there (expected a "
                                      "PRISM release folder with posts.json and target.json)")
            if data_dir is None:  # the Hub release, fetched (or found in the cache) now
                from prism_dataset.builder import HUB_REPO_ID
                root = _fetch(HUB_REPO_ID, None)
                desc.update(data_dir=None, repo_id=HUB_REPO_ID)
            else:
                root = Path(data_dir).resolve()
                desc.update(data_dir=str(root))
            return _release(root, split, desc)
        if dataset.startswith("hub:"):
            return _load_hub(dataset[len("hub:"):], split, cache_dir, desc)
        if dataset == "synthetic":
            kwargs = {k: v for k, v in synthetic_options.items() if v is not None}
            if n_users is not None:
                kwargs["n_users"] = n_users
            if seed is not None:
                kwargs["seed"] = seed
            builder = PrismBuilder(config_name="synthetic", cache_dir=cache_dir, **kwargs)
            builder.download_and_prepare()
            desc.update({k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
                         for k, v in kwargs.items()})
            ds = builder.as_dataset(split=split or "train")
            desc["images"] = dataset_image_counts(ds)
            return ds, desc
        return _load_folder(Path(dataset), split, desc)
    except PrismError:
        raise
    except Exception as exc:
        raise_user_facing(exc, f"cannot read dataset {dataset!r}"
                          + (f" (data dir {data_dir})" if data_dir else ""))


def _fetch(repo_id: str, revision: str | None) -> Path:
    """The Hub release folder of ``repo_id`` (see fetch_release); errors as one line."""
    try:
        return fetch_release(repo_id, revision)
    except Exception as exc:
        if isinstance(exc, PrismError):
            raise
        raise PrismError(f"cannot fetch the release {repo_id} from the Hub "
                              f"({type(exc).__name__}); pass --data-dir with a local copy") from exc


def _release(root: Path, split: str | None, desc: dict):
    """A release folder streamed through PrismBuilder, its image counts in ``desc``."""
    from prism_dataset.builder import PrismBuilder
    if split not in (None, "test"):
        raise PrismError(f"a release has only the split 'test', not {split!r}")
    release = Release(root)
    desc["users"] = len(release)  # a streamed dataset has no length: progress bars need it
    desc["images"] = release.image_counts()
    builder = PrismBuilder(config_name="v1", data_dir=str(root))
    return _streaming(builder, "test"), desc


def _load_hub(spec: str, split: str | None, cache_dir: str | None, desc: dict):
    """``REPO[@REVISION]``: the release found in the repository, else what load_dataset reads."""
    repo_id, _, revision = spec.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise PrismError(f"--dataset hub:{spec}: expected hub:OWNER/NAME[@REVISION]")
    desc.update(repo_id=repo_id, revision=revision or None)
    try:
        root = _fetch(repo_id, revision or None)
    except NoReleaseError as exc:
        import datasets
        log.info("%s; reading it with datasets.load_dataset", exc)
        try:
            ds = datasets.load_dataset(repo_id, revision=revision or None, cache_dir=cache_dir)
            return _pick_split(ds, split, desc, f"hub:{spec}")
        except Exception as fallback:  # say what the repository holds, then why datasets failed
            why = str(root_cause(fallback)).strip().splitlines() or [type(fallback).__name__]
            raise PrismError(f"{exc}; read as a `datasets` repository instead, it fails: "
                             f"{why[0]}") from None
    return _release(root, split, desc)


def from_dataset(ds, *, source: str = "the dataset", split: str | None = None):
    """A ``datasets`` Dataset (e.g. what ``load_dataset(REPO)`` returns) as evaluation input:
    PRISM rows pass unchanged, others have their columns mapped onto PRISM's schema
    (:func:`prism_dataset.mapping.as_prism`); a SchemaError names the missing columns."""
    return _pick_split(ds, split, {}, source)[0]


def _pick_split(ds, split: str | None, desc: dict, source: str):
    import datasets

    if isinstance(ds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        names = list(ds)
        if split is None:
            split = "test" if "test" in names else names[0]
        if split not in names:
            raise PrismError(f"dataset {source!r} has no split {split!r} (splits: {names})")
        desc["split"] = split
        ds = ds[split]
    try:
        ds = as_prism(ds, source=f"dataset {source!r}")
    except SchemaError as exc:
        raise PrismError(str(exc)) from None
    desc["images"] = dataset_image_counts(ds)
    return ds, desc


def dataset_image_counts(ds) -> dict:
    """:func:`prism_dataset.release.count_images` over a dataset's posts, images left encoded."""
    import datasets

    if isinstance(ds, datasets.Dataset) and _stream_files(ds) is not None:
        rows = (r for batch in _stream_batches(ds, ["posts"])
                for start in range(0, batch.num_rows, 64)
                for r in batch.slice(start, 64).to_pylist())
    elif isinstance(ds, datasets.Dataset):
        table = ds.select_columns(["posts"]).with_format("arrow")
        rows = (r for batch in table.iter(batch_size=64) for r in batch.to_pylist())
    else:
        rows = ds.decode(False) if hasattr(ds, "decode") else ds
    return count_images(rows)


def raise_user_facing(exc: BaseException, what: str) -> NoReturn:
    """Raise ``exc``'s first user-facing cause as it is, else a PrismError "<what>: <type>:
    <message>" of its innermost cause (datasets wraps generator errors several times)."""
    root = root_cause(exc)
    if isinstance(root, PrismError):
        raise root from None
    raise PrismError(f"{what}: {type(root).__name__}: {root}") from exc


def root_cause(exc: BaseException) -> BaseException:
    """The first user-facing error in the cause chain, else the innermost cause (datasets wraps
    generator errors in DatasetGenerationError)."""
    seen = set()
    while not isinstance(exc, PrismError) and id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if nxt is None:
            break
        exc = nxt
    return exc


def _load_folder(path: Path, split: str | None, desc: dict):
    import datasets

    if not path.exists():
        raise PrismError(f"dataset {str(path)!r} not found: use v1, synthetic, hub:REPO or "
                              "a folder")
    path = path.resolve()
    desc["dataset"] = str(path)
    if (path / "posts.json").is_file():
        return _release(path, split, desc)
    if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
        ds = datasets.load_from_disk(str(path))
    else:
        ds = datasets.load_dataset(str(path))
    return _pick_split(ds, split, desc, str(path))
