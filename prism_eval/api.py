"""The main job as a Python API: ``audit()`` and ``evaluate()``, what the `prism` command calls.

Both take one :class:`RunOptions` (or its fields as keyword arguments) — the same options as the
command line — and return result objects holding the per-run summaries, run folders and report
paths::

    from prism_eval import audit
    result = audit()                                   # the embedded default, offline
    result = audit(dataset="v1", data_dir="prism-v1", model="gpt-4o", variants=["chain"])
    print(result)                                      # the score table
    result.runs[0].summary["scores"]["top1"]

A *run* is one variant of the chain over the dataset (``prism_eval.chain.VARIANTS``) plus
``posts-only``: the text agent without the topics a user follows, so that topic leakage is
measured beside the posts' own (text-only minus posts-only).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from prism_core.backends import check_installed
from prism_core.errors import PrismError

from .chain import ROLES, VARIANTS
from .datasets_io import load_users
from .report import build_report
from .runner import build_backends, format_table, resolve_roles
from .runner import evaluate as run_folder

__all__ = ["RunOptions", "RunResult", "AuditResult", "audit", "evaluate", "RUNS",
           "DEFAULT_RUNS", "DEFAULT_MODEL"]

DEFAULT_MODEL = "lexicon"
# run name -> (chain variant, topics shown to the text agent; None = the option's value)
RUNS: dict[str, tuple[str, bool | None]] = {**{v: (v, None) for v in VARIANTS},
                                            "posts-only": ("text-only", False)}
# posts-only last, as the report orders runs without topics after the others
DEFAULT_RUNS = ("chain", "text-only", "image-only", "single", "posts-only")


@dataclass
class RunOptions:
    """Every option of `prism audit` / `prism evaluate` (the command line's flags, by name)."""
    dataset: str = "synthetic"
    data_dir: str | None = None
    split: str | None = None
    n_users: int | None = None
    seed: int | None = None
    model: str | None = DEFAULT_MODEL
    roles: list[str] | dict[str, str] = field(default_factory=list)
    backend_options: list[str] | dict[str, dict] = field(default_factory=list)
    topics: bool = True
    image_context: bool = False
    limit: int | None = None
    batch_size: int | None = None
    max_tokens: int | None = None
    temperature: float = 0.0
    json_mode: bool = True
    judge: str | None = None
    overwrite: bool = False
    retry_failed: bool = False
    retry_unparsed: bool = False
    progress: bool = True
    variants: list[str] | tuple[str, ...] = DEFAULT_RUNS
    out: str | os.PathLike | None = None
    title: str | None = None
    command: str = "prism_eval.api"  # named in the run folder's lock while it writes

    @classmethod
    def from_args(cls, args, **overrides) -> "RunOptions":
        """Options from an argparse namespace (attributes of the same names; ``role``,
        ``backend_option`` and ``no_progress`` as the command line spells them)."""
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
                  if hasattr(args, f.name)}
        values["roles"] = list(getattr(args, "role", []) or [])
        values["backend_options"] = list(getattr(args, "backend_option", []) or [])
        values["progress"] = not getattr(args, "no_progress", False)
        values["command"] = f"prism {getattr(args, 'command', None) or 'evaluate'}"
        values.update(overrides)
        return cls(**values)

    def role_items(self) -> list[str]:
        roles = self.roles
        return [f"{r}={s}" for r, s in roles.items()] if isinstance(roles, dict) else list(roles)

    def option_table(self) -> dict[str, dict]:
        """Backend options as {"*" or role: {key: value}} (``[ROLE.]KEY=VALUE`` strings read)."""
        if isinstance(self.backend_options, dict):
            return {k: dict(v) for k, v in self.backend_options.items()}
        out: dict[str, dict] = {}
        for item in self.backend_options:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise PrismError(f"--backend-option {item!r}: expected [ROLE.]KEY=VALUE")
            role, dot, name = key.partition(".")
            target = (role, name) if dot and role in ROLES else ("*", key)
            out.setdefault(target[0], {})[target[1]] = _json_or_text(value)
        return out

    def label(self) -> str:
        return self.model or "-".join(self.role_items()) or "model"


@dataclass
class RunResult:
    """One run: its name, chain variant, folder and summary (None off the main process of an
    ``accelerate launch``, where the main process writes the summary)."""
    name: str
    variant: str
    folder: Path
    summary: dict | None

    @property
    def results(self) -> Path:
        return self.folder / "results.jsonl"

    def __str__(self) -> str:
        return format_table(self.summary) if self.summary else f"{self.name}: {self.folder}"


@dataclass
class AuditResult:
    """An audit: its runs, output folder and report files ({"html", "markdown"}; None off the
    main process)."""
    out: Path
    runs: list[RunResult]
    report: dict[str, str] | None

    def table(self) -> str:
        """One line per run: top-1, top-3, coverage, users, failed."""
        width = max([len("variant")] + [len(r.name) for r in self.runs])
        lines = [f"{'variant':<{width}}  {'top-1':>6}  {'top-3':>6}  {'coverage':>8}  users  failed"]
        notes = []
        for r in self.runs:
            sc, missing = r.summary["scores"], r.summary.get("not_measured") or {}
            if r.variant == "image-only" and "image" in missing:  # no image reader: no number
                lines.append(f"{r.name:<{width}}  not measured: {missing['image']}")
                continue
            lines.append(f"{r.name:<{width}}  {_pct(sc['top1'])}  {_pct(sc['top3'])}  "
                         f"{_pct(sc['coverage']):>8}  {r.summary['users']:>5}  "
                         f"{r.summary['failures']:>6}")
            notes += [f"note: {r.name}: {c} channel not measured ({why})"
                      for c, why in missing.items()]
        return "\n".join(lines + notes)

    def __str__(self) -> str:
        if self.report is None:
            return f"audit runs in {self.out} (summaries are written by the main process)"
        return (self.table() + f"\nreport: {self.report['html']}  (Markdown: "
                f"{self.report['markdown']}; results in {self.out}/<run>/)")


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:5.1f}%"


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _options(options: RunOptions | None, overrides: dict) -> RunOptions:
    if options is None:
        return RunOptions(**overrides)
    return dataclasses.replace(options, **overrides) if overrides else options


def default_out(options: RunOptions, root: str, run: str | None = None) -> Path:
    """ROOT/<dataset>_<model>[_<run>], in characters safe for a folder name."""
    parts = [os.path.basename(str(options.dataset).rstrip("/")) or "dataset", options.label()]
    name = "_".join(parts + ([run] if run else []))
    return Path(root) / re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def _check_runs(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in RUNS]
    if unknown or not names:
        raise PrismError(f"variants {','.join(names)!r}: choose from {', '.join(RUNS)}")
    return names


def _device_options(specs: dict[str, str], options: dict[str, dict]) -> None:
    """Under a multi-GPU `accelerate launch`, put each process's hf models on its own GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world < 2 or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes"):
        return
    local = os.environ.get("LOCAL_RANK")
    if local is None:
        return
    for role, spec in specs.items():
        if spec.startswith("hf:") and "device" not in {**options.get("*", {}), **options.get(role, {})}:
            options.setdefault(role, {})["device"] = f"cuda:{local}"


def run_all(options: RunOptions, folders: dict[str, Path], *, cache_path: Path | None = None,
            loaded: tuple | None = None) -> list[RunResult]:
    """Run each named run into its folder over one loaded dataset and one set of backends
    (``loaded``: a (dataset, description) already loaded, e.g. a defended split)."""
    names = _check_runs(folders)
    per_run = {n: resolve_roles(options.model, options.role_items(), RUNS[n][0]) for n in names}
    specs = {r: s for n in names for r, s in per_run[n].items()}
    for spec in [*specs.values(), *([options.judge] if options.judge else [])]:
        check_installed(spec)  # unknown model or missing extra: one line, before any work
    table = options.option_table()
    _device_options(specs, table)
    dataset, info = loaded or load_users(options.dataset, data_dir=options.data_dir,
                                         n_users=options.n_users, seed=options.seed,
                                         split=options.split)
    backends = build_backends(specs, table)            # missing API key: one line, names it
    done = []
    try:
        for name in names:
            variant, topics = RUNS[name]
            roles = per_run[name]
            chain_options: dict[str, Any] = {"temperature": options.temperature,
                                             "json_mode": options.json_mode}
            if options.max_tokens:
                chain_options["max_tokens"] = {r: options.max_tokens for r in roles}
            summary = run_folder(
                dataset, {r: backends[r] for r in roles}, folders[name], variant=variant,
                topics=options.topics if topics is None else topics,
                image_context=options.image_context, limit=options.limit,
                batch_size=options.batch_size, judge=options.judge, overwrite=options.overwrite,
                progress=options.progress, dataset_info=info, chain_options=chain_options,
                specs=roles, retry_failed=options.retry_failed,
                retry_unparsed=options.retry_unparsed, command=options.command,
                cache_path=cache_path)
            done.append(RunResult(name, variant, Path(folders[name]), summary))
    finally:
        for b in {id(b): b for b in backends.values()}.values():
            b.close()
    return done


def evaluate(options: RunOptions | None = None, *, variant: str = "chain", **overrides) -> RunResult:
    """One run (a chain variant, or ``posts-only``) over the dataset, scored; writes
    ``results.jsonl`` and ``summary.json`` in ``out`` (default prism-runs/<dataset>_<model>_<run>)."""
    options = _options(options, overrides)
    out = Path(options.out) if options.out else default_out(options, "prism-runs", variant)
    [result] = run_all(options, {variant: out})
    return result


def audit(options: RunOptions | None = None, **overrides) -> AuditResult:
    """Every run in ``variants`` into OUT/<run>/ with one shared response cache, then the report
    (OUT/report.html, report.md); OUT defaults to prism-audit/<dataset>_<model>."""
    options = _options(options, overrides)
    names = _check_runs(options.variants)
    out = Path(options.out) if options.out else default_out(options, "prism-audit")
    runs = run_all(options, {n: out / n for n in names}, cache_path=out / "cache.sqlite")
    if any(r.summary is None for r in runs):
        return AuditResult(out, runs, None)  # not the main process of an `accelerate launch`
    title = options.title or f"PRISM privacy audit: {options.label()} on {options.dataset}"
    files = build_report([str(r.folder) for r in runs], str(out), title=title)
    return AuditResult(out, runs, files)
