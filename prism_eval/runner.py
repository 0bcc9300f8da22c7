"""Runs a chain over a dataset of users: batching, scoring, results files, resume and sharding.

:func:`evaluate` takes any ``datasets`` Dataset or IterableDataset of PRISM user records and
writes, in ``out_dir``:

``results.jsonl`` — one JSON object per user, in dataset order::

    {"user_id": "person-001", "index": 0,            # position in the dataset
     "variant": "chain", "topics": true,
     "models": {"text": "hf:Qwen/...", "image": "...", "synthesis": "..."},
     "prediction": {...},                           # prism_eval/prediction.py format
     "raw": {"text": "...", "image": {"post1:image": "..."}, "synthesis": "..."},  # None = failed call
     "scores": {...},                               # scoring.score_user(prediction, truth, ...)
     "truth": {...}, "leakage": [...],              # canonical attributes and leakage plan
     "cost": {"calls": 5, "cached": 0, "prompt_tokens": 1234, "completion_tokens": 456,
              "seconds": 3.2},                      # seconds: summed model latency
     "errors": ["image agent on [post2:image]: ..."],  # problems that did not stop the user
     "failure": null}                               # why no prediction was made, else null

``cost.seconds`` and ``cost.cached`` describe the session that produced the line (a resumed run
serves finished calls from the cache); every other field is reproducible.

``summary.json`` — ``config`` (dataset, variant, roles, options), ``versions`` (packages),
``prompts`` (template versions and hashes), ``backends`` (each role's ``describe()``, never keys),
``scores`` (``scoring.aggregate`` over all users), ``not_measured`` ({channel: reason} for a
channel the run could not measure, e.g. ``{"image": "..."}``: report it as "not measured", never
as 0 %), ``users``, ``failures``, ``failed_users``,
``cost`` (calls, cached, tokens, model seconds summed over users), ``session`` (wall time, cache
hits/misses, processes of the last session) and ``created``.

Also ``run.json`` (the configuration a resume must match), ``cache.sqlite`` (the response cache),
``run.lock`` (held while a run writes) and, while running, ``parts/`` (one results file per
process).

Resume: rerunning the same command continues where it stopped — users already written are
skipped, a half-written last line is dropped, and calls finished before a kill come back from the
cache (``retry_failed`` runs the failed users again). A different configuration stops with an
error unless ``overwrite=True``.
Data parallel: under ``accelerate launch`` each process takes every n-th user, writes its own part
file, and the main process gathers them into ``results.jsonl`` and ``summary.json``.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Iterable

from prism_core.backends.base import Backend, get_backend
from prism_core.errors import PrismError

from .chain import ROLES, VARIANTS, Chain, UserOutcome
from .datasets_io import UserInput, iter_users, raise_user_facing

__all__ = ["evaluate", "rescore", "resolve_roles", "build_backends", "read_results",
           "write_summary", "summarise", "format_table", "RESULTS", "SUMMARY"]

log = logging.getLogger(__name__)

RESULTS, SUMMARY, RUN, CACHE, PARTS = "results.jsonl", "summary.json", "run.json", "cache.sqlite", "parts"
SESSION_FIELDS = (("cost", "seconds"), ("cost", "cached"))  # differ between sessions by design
_PACKAGES = ("prism-privacy", "datasets", "huggingface_hub", "evaluate", "transformers", "torch",
             "accelerate", "openai", "vllm", "pillow")


# ------------------------------------------------------------------ roles and backends

def resolve_roles(model: str | None, roles: Iterable[str] = (), variant: str = "chain") -> dict[str, str]:
    """Role -> backend spec from ``--model`` (all roles) and ``--role ROLE=SPEC`` overrides.

    The ``single`` role defaults to the synthesis model when only that one is given.
    """
    if variant not in VARIANTS:
        raise PrismError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    specs: dict[str, str] = {r: model for r in ROLES} if model else {}
    given: dict[str, str] = {}
    for item in roles:
        role, sep, spec = item.partition("=")
        role = role.strip()
        if not sep or not spec.strip():
            raise PrismError(f"--role {item!r}: expected ROLE=SPEC, e.g. image=hf:Qwen/Qwen2.5-VL-7B-Instruct")
        if role not in ROLES:
            import difflib
            hint = difflib.get_close_matches(role, ROLES, n=1)
            raise PrismError(f"--role {item!r}: unknown role {role!r}"
                                  + (f"; did you mean {hint[0]!r}?" if hint else "")
                                  + f" (roles: {', '.join(ROLES)})")
        given[role] = spec.strip()
    specs.update(given)
    if "single" not in given and "synthesis" in given:
        specs["single"] = given["synthesis"]
    needed = VARIANTS[variant]
    missing = [r for r in needed if not specs.get(r)]
    if missing:
        raise PrismError(f"no model for role(s) {', '.join(missing)}: give --model NAME "
                              f"or --role {missing[0]}=SPEC")
    return {r: specs[r] for r in needed}


def build_backends(specs: dict[str, str], options: dict[str, dict] | None = None) -> dict[str, Backend]:
    """One Backend per distinct (spec, options), shared by the roles that name it."""
    options = options or {}
    built: dict[str, Backend] = {}
    out: dict[str, Backend] = {}
    for role, spec in specs.items():
        opts = {**options.get("*", {}), **options.get(role, {})}
        key = json.dumps([spec, opts], sort_keys=True, default=str)
        if key not in built:
            built[key] = get_backend(spec, **opts)
        out[role] = built[key]
    return out


def _spec(backend: Backend) -> str:
    inner = getattr(backend, "backend", backend)
    return f"{inner.name}:{inner.model_id}" if inner.model_id != inner.name else inner.name


# ------------------------------------------------------------------ processes

class _Processes:
    """This process's place among ``accelerate launch`` processes (one process without it)."""

    def __init__(self):
        self.state = None
        self.num, self.index, self.local_index = 1, 0, 0
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:  # accelerate launch / torchrun
            import torch
            from accelerate import PartialState
            cpu = (os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
                   or not torch.cuda.is_available())  # processes on a CPU-only machine: gloo
            self.state = PartialState(cpu=cpu)
            self.num, self.index = self.state.num_processes, self.state.process_index
            self.local_index = self.state.local_process_index

    @property
    def main(self) -> bool:
        return self.index == 0

    def barrier(self) -> None:
        if self.state is not None and self.num > 1:
            self.state.wait_for_everyone()


# ------------------------------------------------------------------ files

def _read_jsonl(path: Path) -> list[dict]:
    """Complete JSON lines of a file (a half-written last line is ignored)."""
    out = []
    if not path.is_file():
        return out
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def _trim_partial_line(path: Path) -> None:
    """Drop a half-written last line (a kill in the middle of a write)."""
    if not path.is_file():
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_results(path: str | os.PathLike) -> list[dict]:
    """Records of a results file (or of an output folder), complete lines only."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise PrismError(f"no results file at {path}")
    return _read_jsonl(path)


def _all_records(out: Path) -> list[dict]:
    """Every finished user in results.jsonl and the part files, one record per user (a part
    file's newer record replaces a retried one), in dataset order."""
    seen: dict[str, dict] = {}
    sources = [out / RESULTS] + sorted((out / PARTS).glob("results-*.jsonl"))
    for src in sources:
        for rec in _read_jsonl(src):
            seen[rec.get("user_id")] = rec
    return sorted(seen.values(), key=lambda r: (r.get("index", 0), str(r.get("user_id"))))


def _versions() -> dict:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


# ------------------------------------------------------------------ records

def _score(predictions: list[dict], truths: list[dict], leakages: list, judge) -> list[dict]:
    """Scores of a batch of users (a judge gets all its open questions in one call)."""
    from .scoring import score_users
    return score_users(predictions, truths, leakage=[lk or None for lk in leakages], judge=judge)


def _record(o: UserOutcome, chain: Chain, models: dict[str, str], scores: dict) -> dict:
    u = o.user
    return {
        "user_id": u.user_id, "index": u.index, "variant": chain.variant, "topics": chain.topics,
        "models": models, "prediction": o.prediction, "raw": o.raw,
        "scores": scores,
        "truth": u.attributes, "leakage": u.leakage,
        "cost": {"calls": o.calls, "cached": o.cached, "prompt_tokens": o.prompt_tokens,
                 "completion_tokens": o.completion_tokens, "seconds": round(o.seconds, 3)},
        "errors": o.errors, "failure": o.failure,
    }


# ------------------------------------------------------------------ evaluate

def evaluate(dataset, backends: dict[str, Backend] | str, out_dir: str | os.PathLike, *,
             variant: str = "chain", topics: bool = True, image_context: bool = False,
             limit: int | None = None, batch_size: int | None = None, judge: Any = None,
             judge_spec: str | None = None, overwrite: bool = False, progress: bool = True,
             dataset_info: dict | None = None, chain_options: dict | None = None,
             specs: dict[str, str] | None = None, retry_failed: bool = False,
             cache_path: str | os.PathLike | None = None) -> dict | None:
    """Run ``variant`` over ``dataset`` and write results.jsonl + summary.json in ``out_dir``.

    ``backends``: role -> Backend, or one spec string for every role ("lexicon"). ``judge``: an
    object with ``verdict``/``describe`` (e.g. prism_eval.judge.LLMJudge) or a backend spec for
    one (its verdicts are cached with the run). ``retry_failed``: run again the users whose
    record has a failure (e.g. API errors). Returns the summary on the main process (None on
    the others). ``cache_path``: the response cache file, default ``out_dir/cache.sqlite`` (runs
    of several variants can share one, so a prompt they have in common is paid once). See the
    module docstring for the files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    procs = _Processes()
    lock = _lock(out) if procs.main else None
    try:
        return _evaluate(dataset, backends, out, procs, variant=variant, topics=topics,
                         image_context=image_context, limit=limit, batch_size=batch_size,
                         judge=judge, judge_spec=judge_spec, overwrite=overwrite,
                         progress=progress, dataset_info=dataset_info,
                         chain_options=chain_options, specs=specs, retry_failed=retry_failed,
                         cache_path=Path(cache_path) if cache_path else out / CACHE)
    finally:
        if lock is not None:
            lock.close()


def _lock(out: Path):
    """An exclusive lock on the output folder for this run (released on exit, even on a kill)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no guard
        return None
    f = open(out / "run.lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise PrismError(f"another `prism evaluate` is writing to {out}; wait for it to end "
                              "or choose another --out") from None
    return f


def _evaluate(dataset, backends, out: Path, procs: _Processes, *, variant, topics, image_context,
              limit, batch_size, judge, judge_spec, overwrite, progress, dataset_info,
              chain_options, specs, retry_failed, cache_path: Path) -> dict | None:
    from prism_core.cache import CachedBackend, ResponseCache

    t0 = time.time()
    if isinstance(judge, str) and judge_spec is None:
        judge_spec = judge
    own_backends = isinstance(backends, str)
    if own_backends:
        specs = {r: backends for r in VARIANTS.get(variant, ())}
        backends = build_backends(specs)
    backends = dict(backends)
    if "single" not in backends and "synthesis" in backends:
        backends["single"] = backends["synthesis"]  # as resolve_roles does
    backends = {r: b for r, b in backends.items() if r in VARIANTS.get(variant, ())} or backends
    specs = dict(specs or {r: _spec(b) for r, b in backends.items()})
    (out / PARTS).mkdir(exist_ok=True)

    plain = Chain(backends, variant, topics=topics, image_context=image_context,
                  **(chain_options or {}))
    models = {r: specs.get(r, _spec(b)) for r, b in plain.backends.items()}
    config = {
        "dataset": dataset_info or {"dataset": getattr(getattr(dataset, "info", None), "dataset_name", None)},
        "variant": variant, "topics": topics, "image_context": image_context,
        "roles": models, "prompts": {r: plain.template_hashes[r] for r in plain.roles},
        "settings": plain.describe()["settings"], "judge": judge_spec,
    }
    session = _setup(out, config, overwrite, procs, cache_path)  # main process creates the cache
    cache = ResponseCache(cache_path)
    judge, own_judge = _judge_of(judge, cache)  # a spec: verdicts go to this run's cache
    wrapped: dict[int, CachedBackend] = {}
    for b in plain.backends.values():
        if id(b) not in wrapped:
            wrapped[id(b)] = b if isinstance(b, CachedBackend) else CachedBackend(b, cache)
    chain = Chain({r: wrapped[id(b)] for r, b in plain.backends.items()}, variant, topics=topics,
                  image_context=image_context, **(chain_options or {}))

    done = {r["user_id"] for r in _all_records(out) if not (retry_failed and r.get("failure"))}
    part = out / PARTS / f"results-{procs.index:05d}.jsonl"
    _trim_partial_line(part)
    if batch_size is None:
        batch_size = _default_batch_size(plain.backends.values())
    todo = _shard(dataset, procs, limit, done)

    from tqdm.auto import tqdm
    bar = tqdm(total=todo[1], unit="user", desc=f"prism {variant}", dynamic_ncols=True,
               disable=not progress or not procs.main, mininterval=1.0)
    failures, first = 0, True
    with open(part, "ab") as f:
        batch: list[UserInput] = []
        for user in _iterate(dataset, todo[0], limit, done, procs):
            batch.append(user)
            if len(batch) >= batch_size:
                failures += _run_batch(chain, batch, models, judge, f, first)
                first = False
                bar.update(len(batch))
                bar.set_postfix(hits=sum(w.hits for w in wrapped.values()), failed=failures)
                batch = []
        if batch:
            failures += _run_batch(chain, batch, models, judge, f, first)
            bar.update(len(batch))
    bar.close()
    stats = {"hits": sum(w.hits for w in wrapped.values()),
             "misses": sum(w.misses for w in wrapped.values()),
             "uncached": sum(w.uncached for w in wrapped.values()),
             "seconds": round(time.time() - t0, 3)}
    if own_judge:
        judge.close()
    cache.close()
    if own_backends:
        for b in {id(b): b for b in plain.backends.values()}.values():
            b.close()
    _write_atomic(out / PARTS / f"done-{procs.index:05d}.json",
                  json.dumps({"session": session, **stats}))
    if not procs.main:
        return None
    stats = _wait_for_parts(out, session, procs.num)
    records = _all_records(out)
    _write_atomic(out / RESULTS, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    shutil.rmtree(out / PARTS, ignore_errors=True)
    summary = write_summary(out, records, config=config, chain=chain, session={
        "wall_s": round(time.time() - t0, 3), "processes": procs.num,
        "cache_hits": stats["hits"], "cache_misses": stats["misses"],
        "uncached_calls": stats["uncached"]})
    return summary


def _default_batch_size(backends) -> int:
    """Users per stage call: vLLM batches best with many, APIs overlap requests, hf fits memory."""
    names = {getattr(b, "name", "") for b in backends}
    if "vllm" in names:
        return 128
    return 32 if any(not b.local for b in backends) else 8


def _setup(out: Path, config: dict, overwrite: bool, procs: _Processes, cache_path: Path) -> str:
    """Main process: clear (overwrite) and record the configuration; all: check it. -> session id."""
    run_file = out / RUN
    if procs.main:
        if overwrite:
            for name in (RESULTS, SUMMARY, RUN):
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(out / PARTS, ignore_errors=True)
            (out / PARTS).mkdir()
        if not run_file.exists():
            _write_atomic(run_file, json.dumps(config, indent=2, sort_keys=True, default=str))
        for stale in (out / PARTS).glob("done-*.json"):
            stale.unlink()
        from prism_core.cache import ResponseCache
        ResponseCache(cache_path).close()  # created once here: concurrent creation can lock
        _write_atomic(out / PARTS / "session", uuid.uuid4().hex)
    procs.barrier()
    old = json.loads(run_file.read_text("utf-8"))
    new = json.loads(json.dumps(config, sort_keys=True, default=str))
    if old != new:
        order = ["variant", "roles", "topics", "image_context", "dataset", "judge", "settings", "prompts"]
        keys = [k for k in order if k in old or k in new] + sorted((set(old) | set(new)) - set(order))
        diffs = []
        for k in keys:
            if old.get(k) != new.get(k):
                change = "changed" if k == "prompts" else f"{_short(old.get(k))} -> {_short(new.get(k))}"
                diffs.append(f"{k}: {change}")
        raise PrismError(f"{out} holds a run with another configuration ({'; '.join(diffs)}); "
                              "rerun with --overwrite to replace it, or choose another --out")
    return (out / PARTS / "session").read_text().strip()


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _wait_for_parts(out: Path, session: str, num: int, poll: float = 0.5) -> dict:
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


def _shard(dataset, procs: _Processes, limit: int | None, done: set) -> tuple[list[int] | None, int | None]:
    """(positions this process runs, their count) for a Dataset; (None, None) for an iterable one."""
    import datasets
    if isinstance(dataset, datasets.Dataset):
        n = len(dataset) if limit is None else min(limit, len(dataset))
        ids = dataset.select_columns(["user_id"])[:n]["user_id"] if n else []
        mine = [i for i in range(n) if i % procs.num == procs.index and ids[i] not in done]
        return mine, len(mine)
    return None, None


def _iterate(dataset, positions, limit, done, procs) -> Iterable[UserInput]:
    """This process's users; a dataset that fails to read stops the run with one clear line."""
    if positions is not None:
        source = iter_users(dataset, positions)
    else:
        source = iter_users(dataset, stop=limit, keep=lambda pos, user_id: (
            pos % procs.num == procs.index and str(user_id) not in done))
    while True:
        try:
            user = next(source)
        except StopIteration:
            return
        except Exception as exc:
            raise_user_facing(exc, "cannot read the dataset")
        yield user


def _run_batch(chain: Chain, batch: list[UserInput], models: dict, judge, f, first: bool) -> int:
    outcomes = chain.run(batch)
    if first and outcomes and all(o.failure and not any("unreadable image" in e for e in o.errors)
                                  for o in outcomes) and len(outcomes) > 1:
        # every user of the first batch failed in the backend: a configuration problem, not data
        raise PrismError(f"every user of the first batch failed; first error: {outcomes[0].failure}")
    scores = _score([o.prediction for o in outcomes], [o.user.attributes for o in outcomes],
                    [o.user.leakage for o in outcomes], judge)
    lines = [json.dumps(_record(o, chain, models, sc), ensure_ascii=False) + "\n"
             for o, sc in zip(outcomes, scores)]
    f.write("".join(lines).encode("utf-8"))
    f.flush()
    os.fsync(f.fileno())
    return sum(1 for o in outcomes if o.failure)


# ------------------------------------------------------------------ summary and re-scoring

def write_summary(out: Path, records: list[dict], *, config: dict, chain: Chain | None = None,
                  session: dict | None = None, previous: dict | None = None) -> dict:
    """Aggregate the records into summary.json (see the module docstring) and return it."""
    summary = summarise(records, config=config, chain=chain, session=session, previous=previous)
    _write_atomic(out / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    return summary


def summarise(records: list[dict], *, config: dict, chain: Chain | None = None,
              session: dict | None = None, previous: dict | None = None) -> dict:
    """The summary.json object of ``records`` (``previous``: a summary to take what the records
    cannot tell from, e.g. backends and prompts when re-scoring)."""
    from .scoring import aggregate

    cost = {"calls": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0, "model_seconds": 0.0}
    for r in records:
        c = r.get("cost") or {}
        for k in ("calls", "cached", "prompt_tokens", "completion_tokens"):
            cost[k] += int(c.get(k) or 0)
        cost["model_seconds"] += float(c.get("seconds") or 0.0)
    cost["model_seconds"] = round(cost["model_seconds"], 3)
    failed = [r["user_id"] for r in records if r.get("failure")]
    previous = previous or {}
    summary = {
        "config": config,
        "versions": _versions(),
        "prompts": chain.describe()["prompts"] if chain else previous.get("prompts"),
        "backends": ({r: b.describe() for r, b in chain.backends.items()} if chain
                     else previous.get("backends")),
        "scores": aggregate([r["scores"] for r in records]),
        "not_measured": chain.not_measured() if chain else previous.get("not_measured") or {},
        "users": len(records),
        "failures": len(failed),
        "failed_users": failed[:50],
        "cost": cost,
        "session": session if session is not None else previous.get("session"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return summary


def _judge_of(judge: Any, cache) -> tuple[Any, bool]:
    """(judge, owned): a backend spec becomes an LLMJudge whose verdicts go to ``cache`` (a
    ResponseCache or its file), which the caller then closes; anything else is used as given."""
    if not isinstance(judge, str):
        return judge, False
    from .judge import LLMJudge
    return LLMJudge(judge, cache=cache), True


def rescore(results: str | os.PathLike, *, judge: Any = None, judge_spec: str | None = None) -> dict:
    """Score the predictions of a results file again (e.g. with the judge) and rewrite both files.

    ``judge``: as for :func:`evaluate`; a spec's verdicts are cached in the folder's cache.sqlite.
    """
    path = Path(results)
    out = path if path.is_dir() else path.parent
    records = read_results(path)
    if not records:
        raise PrismError(f"{out / RESULTS} holds no results")
    if isinstance(judge, str) and judge_spec is None:
        judge_spec = judge
    judge, own_judge = _judge_of(judge, out / CACHE)
    try:
        scores = _score([r["prediction"] for r in records], [r.get("truth") or {} for r in records],
                        [r.get("leakage") for r in records], judge)
    finally:
        if own_judge:
            judge.close()
    for r, sc in zip(records, scores):
        r["scores"] = sc
    _write_atomic(out / RESULTS, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    previous = {}
    if (out / SUMMARY).is_file():
        previous = json.loads((out / SUMMARY).read_text("utf-8"))
    config = dict(previous.get("config") or {})
    config["judge"] = judge_spec
    if (out / RUN).is_file():  # a resume must now match the re-scored configuration
        _write_atomic(out / RUN, json.dumps(config, indent=2, sort_keys=True, default=str))
    return write_summary(out, records, config=config, previous=previous)


def format_table(summary: dict) -> str:
    """Per-attribute top-1 / top-3 / coverage / parse-failure table of a summary, as text."""
    scores = summary["scores"]

    def pct(v):
        return "   -  " if v is None else f"{100 * v:5.1f}%"

    head = f"{'attribute':<16} {'top-1':>7} {'top-3':>7} {'coverage':>9} {'parse fail':>11}"
    lines = [head, "-" * len(head)]
    for key, a in scores["attributes"].items():
        lines.append(f"{key:<16} {pct(a['top1']):>7} {pct(a['top3']):>7} {pct(a['coverage']):>9} "
                     f"{pct(a['parse_failure_rate']):>11}")
    lines.append("-" * len(head))
    lines.append(f"{'mean':<16} {pct(scores['top1']):>7} {pct(scores['top3']):>7} "
                 f"{pct(scores['coverage']):>9} {pct(scores['parse_failure_rate']):>11}")
    cfg = summary.get("config") or {}
    lines.append(f"{summary['users']} users, {summary['failures']} failed; variant "
                 f"{cfg.get('variant')}; roles {', '.join(f'{r}={m}' for r, m in (cfg.get('roles') or {}).items())}")
    return "\n".join(lines)
