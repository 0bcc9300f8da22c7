"""Score the predictions of a run folder again (e.g. with the judge): `prism score`."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from prism_core.errors import PrismError

from ..judge import LLMJudge
from ..records import check_summary
from .scoring_bridge import score_batch
from .store import (
    CACHE,
    RESULTS,
    RUN,
    SUMMARY,
    ReadStats,
    lock,
    read_json,
    read_results,
    write_atomic,
    write_lines,
)
from .summary import write_summary

__all__ = ["rescore", "judge_of"]


def judge_of(judge: Any, cache) -> tuple[Any, bool]:
    """(judge, owned): a backend spec becomes an LLMJudge whose verdicts go to ``cache`` (a
    ResponseCache or its file), which the caller then closes; anything else is used as given."""
    if not isinstance(judge, str):
        return judge, False
    return LLMJudge(judge, cache=cache), True


def rescore(results: str | os.PathLike, *, judge: Any = None, judge_spec: str | None = None,
            command: str = "prism score") -> dict:
    """Score the predictions of a results file again (e.g. with the judge) and rewrite both files,
    holding the folder's lock. ``judge``: as for :func:`evaluate`; a spec's verdicts are cached in
    the folder's cache.sqlite."""
    path = Path(results)
    out = path if path.is_dir() else path.parent
    if not (out / RESULTS if path.is_dir() else path).is_file():
        raise PrismError(f"no results file at {out / RESULTS if path.is_dir() else path}")
    held = lock(out, command)
    try:
        return _rescore(path, out, judge, judge_spec)
    finally:
        if held is not None:
            held.close()


def _rescore(path: Path, out: Path, judge: Any, judge_spec: str | None) -> dict:
    stats = ReadStats()
    records = read_results(path, stats)
    if not records:
        raise PrismError(f"{out / RESULTS} holds no results")
    if isinstance(judge, str) and judge_spec is None:
        judge_spec = judge
    judge, own_judge = judge_of(judge, out / CACHE)
    try:
        scores = score_batch([r.get("prediction") or {} for r in records],
                             [r.get("truth") or {} for r in records],
                             [r.get("leakage") for r in records], judge)
    finally:
        if own_judge:
            judge.close()
    for r, sc in zip(records, scores):
        r["scores"] = sc
    write_lines(out / RESULTS, records)
    previous = {}
    if (out / SUMMARY).is_file():
        previous = check_summary(read_json(out / SUMMARY, "the summary (summary.json)"),
                                 str(out / SUMMARY))
    config = dict(previous.get("config") or {})
    config["judge"] = judge_spec
    if (out / RUN).is_file():  # a resume must now match the re-scored configuration
        write_atomic(out / RUN, json.dumps(config, indent=2, sort_keys=True, default=str))
    return write_summary(out, records, config=config, previous=previous)
