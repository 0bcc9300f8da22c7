"""Runs a chain over a dataset of users: the public names, re-exported from :mod:`prism_eval.run`.

:func:`evaluate` takes any ``datasets`` Dataset or IterableDataset of PRISM user records and
writes, in ``out_dir``:

``results.jsonl`` — one JSON object per user, in dataset order (format 2)::

    {"format": 2, "user_id": "person-001", "index": 0,   # position in the dataset
     "variant": "chain", "topics": true,
     "models": {"text": "hf:Qwen/...", "image": "...", "synthesis": "..."},
     "status": "complete",                          # complete | partial | failed
     "prediction": {...},                           # prism_core/prediction.py format
     "raw": {"text": "...", "image": {"post1:image": "..."}, "synthesis": "..."},  # None = failed call
     "scores": {...},                               # scoring.score_user(prediction, truth, ...)
     "truth": {...}, "leakage": [...],              # canonical attributes and leakage plan
     "calls": [{"role": "text", "outcome": "ok", "cached": false, "error": null},
               {"role": "image", "image_id": "post2:image", "outcome": "failed", ...}, ...],
     "dropped_images": [{"image_id": "post3:image", "reason": "..."}],
     "truncated_posts": [{"post_id": "post7", "chars": 250000}],
     "cost": {"calls": 5, "cached": 0, "prompt_tokens": 1234, "completion_tokens": 456,
              "seconds": 3.2},                      # seconds: summed model latency
     "errors": ["image agent on [post2:image]: ..."],  # problems that did not stop the user
     "failure": null}                               # why no prediction was made, else null

A user is **complete** when every call was answered, **partial** when some call failed after
its retries (the prediction is built from partial evidence) and **failed** when no prediction
could be made. A call's outcome is ``ok``, ``failed`` or ``unparsed`` (answered, but no guess
could be read from it). Format 1 lines (no ``format``) are read as complete or failed.

``cost.seconds`` and ``cost.cached`` (and each call's ``cached``) describe the session that
produced the line (a resumed run serves finished calls from the cache); every other field is
reproducible.

``summary.json`` — see :mod:`prism_eval.run.summary` (headline ``scores`` over complete users;
``complete`` / ``partial`` / ``failures`` counts; ``dropped_images``; ``calls``; ``not_measured``:
{channel: reason} for a channel the run could not measure, reported as "not measured", never 0 %).

Also ``run.json`` (the configuration a resume must match), ``cache.sqlite`` (the response cache;
each answer is stored as it arrives), ``run.lock`` (held while a command writes; it names the
command) and, while running, ``parts/`` (one results file per process).

Resume: rerunning the same command continues where it stopped — users already written are
skipped, a half-written last line is dropped, and calls finished before a kill come back from the
cache. ``retry_failed`` runs again the users that are partial or failed (their answered calls come
from the cache, so only the failed calls are sent, then synthesis); ``retry_unparsed`` asks again,
past the cache, the calls whose answer could not be read. A different configuration stops with
an error unless ``overwrite=True``.
Data parallel: under ``accelerate launch`` each process takes every n-th user, writes its own part
file, and the main process gathers them into ``results.jsonl`` and ``summary.json``.
"""
from __future__ import annotations

from .run.loop import default_batch_size as _default_batch_size  # noqa: F401
from .run.loop import evaluate
from .run.rescore import judge_of as _judge_of  # noqa: F401
from .run.rescore import rescore
from .run.roles import build_backends, resolve_roles
from .run.roles import spec_of as _spec  # noqa: F401
from .run.sharding import Processes as _Processes  # noqa: F401
from .run.spec import RunSpec
from .run.store import CACHE, PARTS, RESULTS, RUN, SUMMARY, read_results
from .run.store import lock as _lock  # noqa: F401
from .run.summary import format_table, summarise, write_summary

__all__ = ["evaluate", "rescore", "resolve_roles", "build_backends", "read_results",
           "write_summary", "summarise", "format_table", "RunSpec", "RESULTS", "SUMMARY", "RUN",
           "CACHE", "PARTS"]
