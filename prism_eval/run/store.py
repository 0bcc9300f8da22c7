"""The run folder on disk: file names, atomic writes, the lock, run.json, part files and reading
results written by anyone (malformed lines are counted and skipped, never a traceback).

Files: ``results.jsonl`` (one record per user, dataset order), ``summary.json``, ``run.json`` (the
configuration a resume must match), ``cache.sqlite`` (responses), ``run.lock`` (held while a
command writes; it names the command) and, while running, ``parts/`` (one results file and one
done marker per process).
"""
from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from prism_core.cache import ResponseCache
from prism_core.errors import PrismError

from ..records import RESULT_FORMAT as FORMAT
from ..records import check_line

__all__ = ["RESULTS", "SUMMARY", "RUN", "CACHE", "PARTS", "LOCK", "FORMAT", "ReadStats",
           "iter_records", "read_results", "write_atomic", "write_lines", "trim_partial_line",
           "lock", "setup", "wait_for_parts", "merge_parts", "versions", "read_json",
           "current_command"]

log = logging.getLogger("prism_eval.runner")

RESULTS, SUMMARY, RUN, CACHE, PARTS, LOCK = ("results.jsonl", "summary.json", "run.json",
                                             "cache.sqlite", "parts", "run.lock")
#: Version of the results-line and summary format (absent = 1: no per-call accounting).
_PACKAGES = ("prism-privacy", "datasets", "huggingface_hub", "evaluate", "transformers", "torch",
             "accelerate", "openai", "vllm", "pillow")


# ------------------------------------------------------------------ writing

def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_lines(path: Path, records) -> int:
    """Write records (an iterable) as JSON lines, atomically; -> how many."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return n


def trim_partial_line(path: Path) -> None:
    """Drop a half-written last line (a kill in the middle of a write)."""
    if not path.is_file():
        return
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if not size:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        pos = size
        while pos > 0:  # back to the last newline, a block at a time
            step = min(65536, pos)
            f.seek(pos - step)
            block = f.read(step)
            i = block.rfind(b"\n")
            if i >= 0:
                f.truncate(pos - step + i + 1)
                return
            pos -= step
        f.truncate(0)


def read_json(path: Path, what: str | None = None) -> Any:
    """A JSON file, or a one-line PrismError naming it when it is unreadable."""
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise PrismError(f"{path}: {what or 'file'} is not valid JSON "
                         f"({type(exc).__name__}: {str(exc)[:100]})") from None


# ------------------------------------------------------------------ reading records

@dataclass
class ReadStats:
    """What reading a results file skipped: counted, and logged once per file."""
    malformed: int = 0        # not JSON (garbage, too deeply nested, bad encoding)
    not_object: int = 0       # valid JSON but not an object
    incomplete: int = 0       # an object without a usable user_id / prediction
    truncated: int = 0        # a half-written last line
    duplicates: int = 0       # a user seen again (the later record is kept)
    examples: list[str] = field(default_factory=list)

    def note(self, kind: str, where: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 3:
            self.examples.append(f"{where}: {kind.replace('_', ' ')}")

    @property
    def total(self) -> int:
        return self.malformed + self.not_object + self.incomplete + self.truncated + self.duplicates

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("malformed", "not_object", "incomplete",
                                              "truncated", "duplicates")}

    def merge(self, other: "ReadStats") -> None:
        for k, v in other.as_dict().items():
            setattr(self, k, getattr(self, k) + v)
        self.examples = (self.examples + other.examples)[:3]

    def warn(self, path: Path) -> None:
        if self.total:
            parts = [f"{v} {k.replace('_', ' ')}" for k, v in self.as_dict().items() if v]
            log.warning("%s: skipped %s line(s) (%s; e.g. %s)", path, self.total - self.duplicates
                        if self.total > self.duplicates else 0, ", ".join(parts),
                        "; ".join(self.examples))


def _check(rec: Any) -> str | None:
    """Why a decoded line is not a usable record ("not_object" / "incomplete"), else None
    (the shape is :class:`prism_eval.records.ResultLine`)."""
    if not isinstance(rec, dict):
        return "not_object"
    return "incomplete" if check_line(rec) else None


def iter_lines(path: Path, stats: ReadStats) -> Iterator[tuple[int, dict]]:
    """(byte offset, record) of each usable line of a results file; others counted in stats."""
    if not path.is_file():
        return
    with open(path, "rb") as f:
        offset, n = 0, 0
        for line in f:
            n += 1
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                stats.note("truncated", f"{path.name} line {n}")
                break
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):
                stats.note("malformed", f"{path.name} line {n}")
                continue
            why = _check(rec)
            if why:
                stats.note(why, f"{path.name} line {n}")
                continue
            rec["user_id"] = str(rec["user_id"])
            yield start, rec


def _index(sources: list[Path], stats: ReadStats) -> dict[str, tuple[int, int, int]]:
    """user_id -> (dataset index, source number, offset); a later source or line replaces."""
    seen: dict[str, tuple[int, int, int]] = {}
    for si, src in enumerate(sources):
        st = ReadStats()
        for offset, rec in iter_lines(src, st):
            uid = rec["user_id"]
            if uid in seen and seen[uid][1] == si:
                st.note("duplicates", f"{src.name} user {uid}")
            seen[uid] = (rec.get("index", 0), si, offset)
        st.warn(src)
        stats.merge(st)
    return seen


def iter_records(out: Path, sources: list[Path] | None = None,
                 stats: ReadStats | None = None) -> Iterator[dict]:
    """One record per user from ``sources`` (default: results.jsonl and the part files), in
    dataset order, read one at a time (memory holds an index, not the records)."""
    if sources is None:
        sources = [out / RESULTS] + sorted((out / PARTS).glob("results-*.jsonl"))
    stats = stats if stats is not None else ReadStats()
    seen = _index(sources, stats)
    order = sorted(seen.items(), key=lambda kv: (kv[1][0], kv[0]))
    del seen
    files: dict[int, Any] = {}
    try:
        for _, (_, si, offset) in order:
            if si not in files:
                files[si] = open(sources[si], "rb")
            f = files[si]
            f.seek(offset)
            rec = json.loads(f.readline())
            rec["user_id"] = str(rec["user_id"])
            yield rec
    finally:
        for f in files.values():
            f.close()


def read_results(path: str | os.PathLike, stats: ReadStats | None = None) -> list[dict]:
    """Records of a results file (or of an output folder), one per user, in dataset order;
    malformed lines and duplicates are skipped with one warning."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise PrismError(f"no results file at {path}")
    return list(iter_records(path.parent, [path], stats))


def done_users(out: Path, keep=None) -> set[str]:
    """Users with a record in the folder (``keep(record)`` False: to be run again)."""
    done: dict[str, bool] = {}
    st = ReadStats()
    for src in [out / RESULTS] + sorted((out / PARTS).glob("results-*.jsonl")):
        for _, rec in iter_lines(src, st):
            done[rec["user_id"]] = keep is None or bool(keep(rec))
    return {u for u, k in done.items() if k}


def merge_parts(out: Path, stats: ReadStats | None = None) -> int:
    """results.jsonl := every finished user of results.jsonl and the part files (a part's newer
    record replaces an older one), in dataset order, streamed. -> the number of users."""
    n = write_lines(out / RESULTS, iter_records(out, stats=stats))
    shutil.rmtree(out / PARTS, ignore_errors=True)
    return n


def scrub(obj: Any) -> Any:
    """``obj`` (JSON-like) with credentials in any URL it holds replaced by *** (for every file
    that records configuration: run.json, summary.json)."""
    from prism_core.backends.openai_compatible import scrub_url
    if isinstance(obj, str):
        return scrub_url(obj)
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub(v) for v in obj]
    return obj


def versions() -> dict:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


# ------------------------------------------------------------------ the lock

def current_command() -> str:
    """The command named in the lock when the caller names none (the Python API)."""
    return "prism evaluate"


def lock(out: Path, command: str | None = None):
    """An exclusive lock on the output folder (released on exit, even on a kill); the lock file
    names the command holding it, for the message another command gets."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no guard
        return None
    command = command or current_command()
    out.mkdir(parents=True, exist_ok=True)
    f = open(out / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip()
        f.close()
        try:
            info = json.loads(holder)
            who, pid = f"`{info['command']}`", f" (pid {int(info['pid'])})"
        except (ValueError, KeyError, TypeError):
            who, pid = "`prism evaluate`", ""
        raise PrismError(f"another {who} is writing to {out}{pid}; wait for it to end "
                         "or choose another folder") from None
    f.seek(0)
    f.truncate()
    f.write(json.dumps({"command": command, "pid": os.getpid()}))
    f.flush()
    return f


# ------------------------------------------------------------------ configuration

def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def config_diff(old: dict, new: dict) -> list[str]:
    order = ["variant", "roles", "topics", "image_context", "dataset", "judge", "settings", "prompts"]
    keys = [k for k in order if k in old or k in new] + sorted((set(old) | set(new)) - set(order))
    diffs = []
    for k in keys:
        if old.get(k) != new.get(k):
            change = "changed" if k == "prompts" else f"{_short(old.get(k))} -> {_short(new.get(k))}"
            diffs.append(f"{k}: {change}")
    return diffs


def open_cache(path: Path):
    """The response cache, or a one-line error when the file is not a cache."""
    import sqlite3

    try:
        return ResponseCache(path)
    except sqlite3.DatabaseError as exc:
        raise PrismError(f"{path}: not a usable response cache ({exc}); delete it or rerun with "
                         "--overwrite") from None


def setup(out: Path, config: dict, overwrite: bool, procs, cache_path: Path) -> str:
    """Main process: clear (overwrite) and record the configuration; all: check it. -> session id."""
    run_file = out / RUN
    if procs.main:
        if overwrite:
            for name in (RESULTS, SUMMARY, RUN):
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(out / PARTS, ignore_errors=True)
        (out / PARTS).mkdir(exist_ok=True)
        if not run_file.exists():
            write_atomic(run_file, json.dumps(config, indent=2, sort_keys=True, default=str))
        for stale in (out / PARTS).glob("done-*.json"):
            stale.unlink()
        open_cache(cache_path).close()  # created once here: concurrent creation can lock
        write_atomic(out / PARTS / "session", uuid.uuid4().hex)
    procs.barrier()
    old = read_json(run_file, "the run configuration (run.json)")
    if not isinstance(old, dict):
        raise PrismError(f"{run_file}: the run configuration is not a JSON object; rerun with "
                         "--overwrite")
    new = json.loads(json.dumps(config, sort_keys=True, default=str))
    if old != new:
        raise PrismError(f"{out} holds a run with another configuration "
                         f"({'; '.join(config_diff(old, new))}); "
                         "rerun with --overwrite to replace it, or choose another --out")
    return (out / PARTS / "session").read_text().strip()


def wait_for_parts(out: Path, session: str, num: int, poll: float = 0.5) -> dict:
    """Main process: wait until every process has written its done marker for this session."""
    totals = {"hits": 0, "misses": 0, "uncached": 0}
    pending = set(range(num))
    while pending:
        for i in sorted(pending):
            path = out / PARTS / f"done-{i:05d}.json"
            try:
                marker = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if marker.get("session") == session:
                pending.discard(i)
                for k in totals:
                    totals[k] += int(marker.get(k, 0))
        if pending:
            time.sleep(poll)
    return totals
