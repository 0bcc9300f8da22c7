"""Leakage before and after a defence, measured the way every audit is: ``prism audit --defence``.

:func:`defence_audit` loads the dataset once, runs the model through the chosen variants on it
(``OUT/before/<run>``), applies each defence spec to the same users (``OUT/splits/<slug>``,
with its ``defence.json``) and runs the same model, with the same options and the same response
cache (``OUT/cache.sqlite``: a prompt a defence left unchanged is answered once), on each
defended split (``OUT/<slug>/<run>``). It then writes ``OUT/defence.json`` and
``OUT/defence.md`` -- per defence, top-1 per attribute and channel before and after, and the
utility cost -- and the report (``OUT/report.html``/``.md``, whose defence section draws the
before/after figure).

Channels are runs: **text** is the posts' own text (the ``posts-only`` run: text agent without
the topics a user follows, which no defence of the user's posts touches; ``text-only`` when
posts-only is not run), **image** is ``image-only``, **all** is ``chain`` (text, topics and
images; ``single`` when chain is not run). A channel a run could not measure (no OCR engine,
a model that reads no images) is "not measured", never 0 %.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from prism_core.errors import PrismError

from .apply import defend_dataset
from .base import parse_spec, slug
from .tables import RESULT, comparison, markdown_tables

__all__ = ["defence_audit", "DefenceAudit", "DEFENCE_RUNS"]

#: runs of a defence audit when none are chosen
DEFENCE_RUNS = ("chain", "posts-only", "image-only")


@dataclass
class DefenceAudit:
    """A defence audit: its folder, the comparison (what defence.json holds) and the report."""
    out: Path
    comparison: dict
    report: dict | None

    def table(self) -> str:
        return markdown_tables(self.comparison)

    def __str__(self) -> str:
        tail = (f"\nreport: {self.report['html']}  (Markdown: {self.report['markdown']})"
                if self.report else "")
        return f"{self.table()}\nresults: {self.out / RESULT}{tail}"


def defence_audit(options=None, defences: list[str] | tuple[str, ...] = ("redact",), *,
                  report: bool = True, **overrides) -> DefenceAudit:
    """Before/after audit of each defence spec (see module docstring); ``options``: a
    :class:`prism_eval.api.RunOptions` (or its fields as keyword arguments). Its ``variants``
    default to :data:`DEFENCE_RUNS` when left at the audit's default."""
    from ..api import DEFAULT_RUNS, _check_runs, _options, default_out, run_all
    from ..datasets_io import load_users
    from ..report import build_report

    options = _options(options, overrides)
    if tuple(options.variants) == tuple(DEFAULT_RUNS):
        options = dataclasses.replace(options, variants=DEFENCE_RUNS)
    names = _check_runs(options.variants)
    specs = list(dict.fromkeys(d.strip() for d in defences if d and d.strip()))
    if not specs:
        raise PrismError("no defence given (e.g. --defence redact)")
    for spec in specs:
        parse_spec(spec)  # a typo fails now, before any run
    slugs = [slug(s) for s in specs]
    if len(set(slugs)) != len(slugs) or {"before", "splits"} & set(slugs):
        raise PrismError(f"defences {specs}: their folder names must differ and not be "
                         "'before' or 'splits'")
    out = Path(options.out) if options.out else default_out(options, "prism-audit", "defences")
    cache = out / "cache.sqlite"
    dataset, info = load_users(options.dataset, data_dir=options.data_dir,
                               n_users=options.n_users, seed=options.seed, split=options.split)
    before = run_all(options, {n: out / "before" / n for n in names}, cache_path=cache,
                     loaded=(dataset, info))
    if any(r.summary is None for r in before):
        raise PrismError("the defence audit runs in one process (not under accelerate launch)")
    after, provenance, folders = {}, {}, [str(r.folder) for r in before]
    for spec, name in zip(specs, slugs):
        split = defend_dataset(dataset, spec, limit=options.limit, source=info,
                               out=out / "splits" / name, cache_path=out / "defence-cache.sqlite")
        runs = run_all(options, {n: out / name / n for n in names}, cache_path=cache,
                       loaded=(split.dataset, split.info))
        after[spec] = {r.name: r.summary for r in runs}
        provenance[spec] = split.provenance
        folders += [str(r.folder) for r in runs]
    meta = {"model": options.label(), "dataset": str(options.dataset),
            "users": before[0].summary.get("users"), "runs": names,
            "options": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
                        for k, v in dataclasses.asdict(options).items()
                        if k in ("dataset", "data_dir", "n_users", "seed", "limit", "topics",
                                 "model", "split")}}
    comp = comparison({r.name: r.summary for r in before}, after, provenance, meta)
    (out / RESULT).write_text(json.dumps(comp, indent=2, default=str), "utf-8")
    (out / "defence.md").write_text(markdown_tables(comp), "utf-8")
    files = None
    if report:
        title = options.title or (f"PRISM defences: {options.label()} on {options.dataset}, "
                                  f"before and after {', '.join(specs)}")
        files = build_report(folders, str(out), title=title)
    return DefenceAudit(out, comp, files)
