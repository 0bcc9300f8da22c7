"""summary.json: aggregate a run's records (streamed), and the CLI table of a summary.

Keys (format 2): ``format``, ``config``, ``versions``, ``prompts``, ``backends``, ``scores``
(``scoring.aggregate`` over the *complete* users only), ``scores_all_users`` (over every user,
failed ones scoring zero, for comparison), ``users``, ``complete``, ``partial``, ``failures``
(failed users), ``failed_users`` / ``partial_users`` (first 50 ids), ``calls`` (per-call outcomes:
``ok``, ``failed``, ``unparsed``, ``cached``, ``skipped``), ``dropped_images`` (images left out
because they were unreadable or outside the release) and ``dropped_image_users``,
``truncated_posts``, ``read_warnings`` (malformed lines skipped when reading the run folder),
``cost``, ``session`` and ``created``.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Iterable

from .scoring_bridge import aggregate
from .store import FORMAT, SUMMARY, ReadStats, scrub, versions, write_atomic

__all__ = ["write_summary", "summarise", "format_table", "user_status"]


def user_status(record: dict) -> str:
    """complete / partial / failed of a record (format 1 records: failed or complete)."""
    status = record.get("status")
    if status in ("complete", "partial", "failed"):
        return status
    return "failed" if record.get("failure") else "complete"


def write_summary(out: Path, records: Iterable[dict], *, config: dict, chain=None,
                  session: dict | None = None, previous: dict | None = None) -> dict:
    """Aggregate the records into summary.json (see the module docstring) and return it."""
    summary = summarise(records, config=config, chain=chain, session=session, previous=previous)
    write_atomic(out / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    return summary


def summarise(records: Iterable[dict], *, config: dict, chain=None, session: dict | None = None,
              previous: dict | None = None, read_stats: ReadStats | None = None) -> dict:
    """The summary.json object of ``records`` (any iterable, read once; ``previous``: a summary to
    take what the records cannot tell, e.g. backends and prompts when re-scoring)."""
    cost = {"calls": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0, "model_seconds": 0.0}
    counts = {"complete": 0, "partial": 0, "failed": 0}
    ids: dict[str, list] = {"failed": [], "partial": [], "dropped": []}
    calls = {"ok": 0, "failed": 0, "unparsed": 0, "cached": 0, "skipped": 0}
    complete_scores, all_scores = [], []
    shared: dict = {}  # see _compact
    dropped = truncated = 0
    n = 0
    for r in records:
        n += 1
        c = r.get("cost") or {}
        for k in ("calls", "cached", "prompt_tokens", "completion_tokens"):
            cost[k] += _int(c.get(k))
        calls["cached"] += _int(c.get("cached"))
        cost["model_seconds"] += _float(c.get("seconds"))
        status = user_status(r)
        counts[status] += 1
        if status != "complete" and len(ids[status]) < 50:
            ids[status].append(r["user_id"])
        for call in r.get("calls") or []:
            if isinstance(call, dict):
                outcome = call.get("outcome")
                if outcome in calls:
                    calls[outcome] += 1
        lost = r.get("dropped_images") or []
        if lost:
            dropped += len(lost)
            if len(ids["dropped"]) < 50:
                ids["dropped"].append(r["user_id"])
        truncated += len(r.get("truncated_posts") or [])
        sc = _compact(r.get("scores"), shared)
        all_scores.append(sc)
        if status == "complete":
            complete_scores.append(sc)
    cost["model_seconds"] = round(cost["model_seconds"], 3)
    previous = previous or {}
    return scrub({
        "format": FORMAT,
        "config": config,
        "versions": versions(),
        "prompts": chain.describe()["prompts"] if chain else previous.get("prompts"),
        "backends": ({r: b.describe() for r, b in chain.backends.items()} if chain
                     else previous.get("backends")),
        "scores": aggregate(complete_scores),
        "scores_all_users": aggregate(all_scores),
        # {channel: reason} for a channel the run could not measure: "not measured", never 0 %
        "not_measured": chain.not_measured() if chain else previous.get("not_measured") or {},
        "users": n,
        "complete": counts["complete"],
        "partial": counts["partial"],
        "failures": counts["failed"],
        "failed_users": ids["failed"],
        "partial_users": ids["partial"],
        "calls": calls,
        "dropped_images": dropped,
        "dropped_image_users": ids["dropped"],
        "truncated_posts": truncated,
        "read_warnings": read_stats.as_dict() if read_stats and read_stats.total else {},
        "cost": cost,
        "session": session if session is not None else previous.get("session"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


def _compact(scores, shared: dict) -> Mapping | None:
    """A user's scores as held for the aggregate: a read-only mapping whose per-attribute entries
    are shared between users (most are equal) and whose keys are stored once, so that holding
    every user's scores costs a few hundred bytes a user."""
    if not isinstance(scores, dict):
        return None
    attrs = scores.get("attributes")
    if not isinstance(attrs, dict):
        return scores
    entries = {}
    for key, entry in attrs.items():
        blob = json.dumps(entry, sort_keys=True, default=str).encode("utf-8")
        entries[key] = shared.setdefault(hashlib.blake2b(blob, digest_size=16).digest(), entry)
    return _Packed({**scores, "attributes": _Packed(entries, shared)}, shared)


class _Packed(Mapping):
    """A read-only mapping kept as a key tuple shared with like mappings and a value tuple."""
    __slots__ = ("_keys", "_values")

    def __init__(self, items: dict, shared: dict):
        keys = tuple(items)
        self._keys = shared.setdefault(keys, keys)
        self._values = tuple(items.values())

    def __getitem__(self, key):
        try:
            return self._values[self._keys.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _int(v) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def _float(v) -> float:
    try:
        return float(v or 0.0)
    except (TypeError, ValueError, OverflowError):
        return 0.0


def format_table(summary: dict) -> str:
    """Per-attribute top-1 / top-3 / coverage / parse-failure table of a summary, as text, with
    the share of guesses the scoring rules left open (decided by a judge, else scored 0)."""
    scores = summary["scores"]

    def pct(v):
        return "   -  " if v is None else f"{100 * v:5.1f}%"

    head = (f"{'attribute':<16} {'top-1':>7} {'top-3':>7} {'coverage':>9} {'parse fail':>11} "
            f"{'left open':>10}")
    lines = [head, "-" * len(head)]
    for key, a in scores["attributes"].items():
        lines.append(f"{key:<16} {pct(a['top1']):>7} {pct(a['top3']):>7} {pct(a['coverage']):>9} "
                     f"{pct(a['parse_failure_rate']):>11} {pct(a.get('open_share')):>10}")
    lines.append("-" * len(head))
    lines.append(f"{'mean':<16} {pct(scores['top1']):>7} {pct(scores['top3']):>7} "
                 f"{pct(scores['coverage']):>9} {pct(scores['parse_failure_rate']):>11} "
                 f"{pct(scores.get('open_share')):>10}")
    cfg = summary.get("config") or {}
    users = summary.get("users", 0)
    failed = summary.get("failures", 0)
    partial = summary.get("partial", 0)
    complete = summary.get("complete", users - failed - partial)
    line = (f"{users} users, {failed} failed, {partial} partial, {complete} complete "
            f"(scores over complete users)")
    if summary.get("dropped_images"):
        line += f"; {summary['dropped_images']} image(s) dropped"
    lines.append(f"{line}; variant {cfg.get('variant')}; roles "
                 f"{', '.join(f'{r}={m}' for r, m in (cfg.get('roles') or {}).items())}")
    return "\n".join(lines)
