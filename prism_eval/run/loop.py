"""The user loop: build the chain, resume, run users (in batches for local backends, flowing one
by one on an event loop for API backends: :mod:`.flow`), write part files, gather."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tqdm.auto import tqdm

from prism_core.backends.base import Backend
from prism_core.cache import CachedBackend
from prism_core.errors import PrismError

from ..chain import Chain, UserOutcome
from ..datasets_io import UserInput
from .flow import default_window, flow
from .rescore import judge_of
from .roles import role_backends
from .scoring_bridge import score_batch
from .sharding import Processes, iterate, shard
from .spec import RunSpec
from .store import (
    CACHE,
    FORMAT,
    PARTS,
    RESULTS,
    SUMMARY,
    ReadStats,
    done_users,
    iter_lines,
    iter_records,
    lock,
    merge_parts,
    open_cache,
    scrub,
    setup,
    trim_partial_line,
    wait_for_parts,
    write_atomic,
)
from .summary import summarise, user_status

__all__ = ["evaluate", "record_of", "default_batch_size"]


def evaluate(dataset, backends: dict[str, Backend] | str, out_dir: str | os.PathLike,
             spec: RunSpec | None = None, **options) -> dict | None:
    """Run a variant over ``dataset`` and write results.jsonl + summary.json in ``out_dir``.

    ``backends``: role -> Backend, or one spec string for every role ("lexicon"). The run's
    options are a :class:`RunSpec` (``spec=``) and/or its fields as keywords (``variant``,
    ``topics``, ``limit``, ``batch_size``, ``judge``, ``retry_failed``, ...). Returns the summary
    on the main process (None on the others). See prism_eval/runner.py for the files.
    """
    spec = RunSpec.of(spec, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    procs = Processes()
    held = lock(out, spec.command) if procs.main else None
    try:
        return _Run(dataset, backends, out, procs, spec).run()
    finally:
        if held is not None:
            held.close()


def _known_users(spec: RunSpec, dataset) -> int | None:
    """How many users the run covers in all (``--limit`` applied), when it can be known: a
    streamed dataset has no length, its release says how many users it holds."""
    try:
        n = len(dataset)
    except TypeError:
        n = (spec.dataset_info or {}).get("users")
    if not isinstance(n, int):
        return None
    return n if spec.limit is None else min(n, spec.limit)


def default_batch_size(backends) -> int:
    """Users per stage call: vLLM batches best with many, APIs overlap requests, hf fits memory
    (with API backends only, users flow instead: the users in flight, see :func:`.flow.flow`)."""
    names = {getattr(b, "name", "") for b in backends}
    if "vllm" in names:
        return 128
    return 32 if any(not b.local for b in backends) else 8


def record_of(o: UserOutcome, chain: Chain, models: dict[str, str], scores: dict) -> dict:
    """The results line of one user (see prism_eval/runner.py)."""
    u = o.user
    return {
        "format": FORMAT,
        "user_id": u.user_id, "index": u.index, "variant": chain.variant, "topics": chain.topics,
        "models": models, "status": o.status, "prediction": o.prediction, "raw": o.raw,
        "scores": scores,
        "truth": u.attributes, "leakage": u.leakage,
        "calls": o.call_log,
        "dropped_images": o.dropped_images, "truncated_posts": list(u.truncated_posts),
        "cost": {"calls": o.calls, "cached": o.cached, "prompt_tokens": o.prompt_tokens,
                 "completion_tokens": o.completion_tokens, "seconds": round(o.seconds, 3)},
        "errors": o.errors, "failure": o.failure,
    }


class _Run:
    """One session of :func:`evaluate` in one process."""

    def __init__(self, dataset, backends, out: Path, procs: Processes, spec: RunSpec):
        self.dataset, self.out, self.procs, self.spec = dataset, out, procs, spec
        self.t0 = time.time()
        self.backends, self.specs, self.own_backends = role_backends(backends, spec.variant, spec.specs)
        self.cache_path = Path(spec.cache_path) if spec.cache_path else out / CACHE
        opts = spec.chain_options or {}
        self.plain = Chain(self.backends, spec.variant, topics=spec.topics,
                           image_context=spec.image_context, **opts)
        self.models = {r: self.specs.get(r) or "?" for r in self.plain.backends}
        self.config = scrub({
            "dataset": spec.dataset_info or {"dataset": getattr(getattr(dataset, "info", None),
                                                                "dataset_name", None)},
            "variant": spec.variant, "topics": spec.topics, "image_context": spec.image_context,
            "roles": self.models,
            "prompts": {r: self.plain.template_hashes[r] for r in self.plain.roles},
            "settings": self.plain.describe()["settings"], "judge": spec.judge_spec,
        })

    # -------------------------------------------------------------- session

    def run(self) -> dict | None:
        spec, out, procs = self.spec, self.out, self.procs
        session = setup(out, self.config, spec.overwrite, procs, self.cache_path)
        self.cache = open_cache(self.cache_path)
        self.judge, own_judge = judge_of(spec.judge, self.cache)
        wrapped: dict[int, CachedBackend] = {}
        for b in self.plain.backends.values():
            if id(b) not in wrapped:
                wrapped[id(b)] = b if isinstance(b, CachedBackend) else CachedBackend(b, self.cache)
        self.wrapped = wrapped
        self.chain = Chain({r: wrapped[id(b)] for r, b in self.plain.backends.items()},
                           spec.variant, topics=spec.topics, image_context=spec.image_context,
                           **(spec.chain_options or {}))
        try:
            self._loop()
        finally:
            if own_judge:
                self.judge.close()
            self.cache.close()
            if self.own_backends:
                for b in {id(b): b for b in self.plain.backends.values()}.values():
                    b.close()
        stats = {k: sum(getattr(w, k) for w in wrapped.values()) for k in ("hits", "misses", "uncached")}
        write_atomic(out / PARTS / f"done-{procs.index:05d}.json",
                     json.dumps({"session": session, **stats}))
        if not procs.main:
            return None
        stats = wait_for_parts(out, session, procs.num)
        read_stats = ReadStats()
        merge_parts(out, read_stats)
        summary = summarise(iter_records(out, [out / "results.jsonl"]), config=self.config,
                            chain=self.chain, read_stats=read_stats, session={
                                "wall_s": round(time.time() - self.t0, 3), "processes": procs.num,
                                "cache_hits": stats["hits"], "cache_misses": stats["misses"],
                                "uncached_calls": stats["uncached"]})
        write_atomic(out / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False, default=str))
        return summary

    def _redo(self, record: dict) -> bool:
        """Whether a finished user runs again in this session."""
        if self.spec.retry_failed and user_status(record) != "complete":
            return True
        if self.spec.retry_unparsed and any(
                isinstance(c, dict) and c.get("outcome") == "unparsed" for c in record.get("calls") or []):
            return True
        return False

    def _loop(self) -> None:
        spec, out, procs = self.spec, self.out, self.procs
        done = done_users(out, keep=lambda r: not self._redo(r))
        self.refresh = self._unparsed_calls(done) if spec.retry_unparsed else {}
        part = out / PARTS / f"results-{procs.index:05d}.jsonl"
        trim_partial_line(part)
        positions, total = shard(self.dataset, procs, spec.limit, done)
        known = _known_users(spec, self.dataset)
        if total is None and known is not None:  # a streamed dataset: its size from the release
            total = max(0, -(-(known - procs.index) // procs.num) - len(done) // procs.num)
        show = spec.progress and procs.main
        if done and show:
            tqdm.write(f"prism {spec.variant}: resuming in {out}: {len(done)} of "
                       f"{known if known is not None else '?'} users already done")
        bar = tqdm(total=total, unit="user", desc=f"prism {spec.variant}", dynamic_ncols=True,
                   disable=not show, mininterval=1.0)
        self.failures, self.first, self.seen = 0, True, 0
        users = iterate(self.dataset, positions, spec.limit, done, procs,
                        (spec.dataset_info or {}).get("images"))
        with open(part, "ab") as f:
            if self.chain.flows:
                self._flow(users, f, bar)
            else:
                self._batches(users, f, bar)
        bar.close()
        if self.seen == 0 and not done and procs.main and procs.num == 1:
            raise PrismError("the dataset holds no users" + (" (--limit 0)" if spec.limit == 0 else ""))

    def _batches(self, users, f, bar) -> None:
        """Local backends: the chain runs over batches of users, stage by stage."""
        batch_size = self.spec.batch_size or default_batch_size(self.plain.backends.values())
        batch: list[UserInput] = []
        for user in users:
            batch.append(user)
            if len(batch) >= batch_size:
                self._write(self.chain.run(batch, refresh=self.refresh), f, bar)
                batch = []
        if batch:
            self._write(self.chain.run(batch, refresh=self.refresh), f, bar)

    def _flow(self, users, f, bar) -> None:
        """API backends: users flow through the stages on one event loop; each is written when
        done (the first ``window`` together, so that a broken configuration stops the run before
        anything is recorded)."""
        window = self.spec.batch_size or default_window(self.chain.backends.values())
        held: list[UserOutcome] = []
        for outcomes in flow(self.chain, users, window, self.refresh):
            if self.first:
                held += outcomes
                if len(held) < window:
                    continue
                outcomes, held = held, []
            self._write(outcomes, f, bar)
        if held:
            self._write(held, f, bar)

    def _unparsed_calls(self, done: set) -> dict[str, set]:
        """user_id -> {(role, image_id)} of the calls to ask again past the cache."""
        out: dict[str, set] = {}
        st = ReadStats()
        for src in [self.out / RESULTS] + sorted((self.out / PARTS).glob("results-*.jsonl")):
            for _, rec in iter_lines(src, st):
                calls = {(c.get("role"), c.get("image_id")) for c in rec.get("calls") or []
                         if isinstance(c, dict) and c.get("outcome") == "unparsed"}
                out[rec["user_id"]] = calls
        return {u: c for u, c in out.items() if c and u not in done}

    def _write(self, outcomes: list[UserOutcome], f, bar) -> None:
        """Score finished users and append their lines to this process's part file (synced)."""
        self.seen += len(outcomes)
        if (self.first and len(outcomes) > 1
                and all(o.status == "failed" and o.calls for o in outcomes)):
            # every user of the first batch failed in the backend: a configuration problem
            raise PrismError(f"every user of the first batch failed; first error: {outcomes[0].failure}")
        self.first = False
        scores = score_batch([o.prediction for o in outcomes], [o.user.attributes for o in outcomes],
                             [o.user.leakage for o in outcomes], self.judge)
        lines = [json.dumps(record_of(o, self.chain, self.models, sc), ensure_ascii=False) + "\n"
                 for o, sc in zip(outcomes, scores)]
        f.write("".join(lines).encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
        self.failures += sum(1 for o in outcomes if o.status != "complete")
        bar.update(len(outcomes))
        bar.set_postfix({"answers from cache": sum(w.hits for w in self.wrapped.values()),
                         "users failed or partial": self.failures}, refresh=False)
