"""Reports of one or several runs: comparison tables and matplotlib plots, as HTML and Markdown.

``build_report(paths, out_dir)`` reads run folders written by :func:`prism_eval.runner.evaluate`
(or audit folders that hold several) and writes ``report.html`` (self-contained: figures are
embedded as base64 PNG, no other file is referenced), ``report.md`` and ``figures/*.png``.

What it shows: per-attribute top-1 accuracy of every run beside a chance level (each user scored
with another user's true attributes), a run-by-attribute table, the modality comparison
(text-only vs text+image vs single agent) when those variants were run, accuracy by leakage mode
(explicit / implicit / not revealed) on synthetic data, coverage and parse-failure rates, cost
per user, and the few numbers the PRISM paper publishes, labelled as such.
"""
from __future__ import annotations

import base64
import html
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from prism_core.attributes import ATTRIBUTE_KEYS, ATTRIBUTES
from prism_core.errors import PrismError

from .runner import RESULTS, RUN, SUMMARY

__all__ = ["Run", "load_runs", "build_report", "chance_scores", "PAPER_REFERENCE"]

VARIANT_ORDER = ("text-only", "image-only", "chain", "single")
VARIANT_NAMES = {"chain": "text + image (chain)", "text-only": "text only",
                 "image-only": "image only", "single": "single agent"}

#: The only per-attribute numbers the PRISM paper (arXiv 2511.03248) states in its text, on its
#: v1 data and with its own (unpublished) scoring rule: religion accuracy in %.
PAPER_REFERENCE = {
    "source": "Li et al., Auditing M-LLMs for Privacy Risks, arXiv 2511.03248 (2025)",
    "attribute": "religion",
    "human_average": 30.00,
    "gemini_human_comparison": 54.50,
    "models_text_image": (44.83, 59.09),
}


@dataclass
class Run:
    """One results folder: its summary, its per-user records and how to name it in a report."""
    path: Path
    summary: dict
    records: list[dict] = field(repr=False)
    label: str = ""

    @property
    def config(self) -> dict:
        return self.summary.get("config") or {}

    @property
    def variant(self) -> str:
        return str(self.config.get("variant") or "chain")

    @property
    def model(self) -> str:
        """The model of every role, or ``role=model`` pairs when the roles differ."""
        roles = self.config.get("roles") or {}
        models = list(dict.fromkeys(roles.values()))
        if len(models) == 1:
            return models[0]
        return ", ".join(f"{r}={m}" for r, m in roles.items()) or "?"

    @property
    def dataset(self) -> str:
        d = self.config.get("dataset") or {}
        name = str(d.get("dataset") or "?")
        name = Path(name).name if "/" in name else name
        return f"{name} ({self.summary.get('users', len(self.records))} users)"

    @property
    def images(self) -> str:
        """Referenced images the run had ("0 of 1537" says its image channel measured nothing);
        "–" for a run recorded before the dataset description counted them."""
        counts = (self.config.get("dataset") or {}).get("images") or {}
        if not counts:
            return "–"
        bad = [f"{counts[k]} {k}" for k in ("missing", "unreadable") if counts.get(k)]
        return f"{counts.get('found', 0)} of {counts.get('referenced', 0)}" + \
            (f" ({', '.join(bad)})" if bad else "")

    @property
    def group(self) -> str:
        """Runs of one group differ only in their variant: same model(s), same dataset."""
        return f"{self.model} on {self.dataset}"

    @property
    def scores(self) -> dict:
        return self.summary["scores"]


def _read_run(folder: Path, label: str | None) -> Run:
    from .runner import read_results, summarise
    records = read_results(folder)
    if not records:
        raise PrismError(f"{folder / RESULTS} holds no results")
    try:
        summary = json.loads((folder / SUMMARY).read_text("utf-8"))
    except FileNotFoundError:
        summary = None
    except ValueError as exc:
        raise PrismError(f"{folder / SUMMARY}: not valid JSON ({exc})") from None
    if summary is None or summary.get("users") != len(records):
        # a killed run: aggregate what it finished, keeping its recorded configuration
        config = (summary or {}).get("config")
        if config is None and (folder / RUN).is_file():
            config = json.loads((folder / RUN).read_text("utf-8"))
        summary = summarise(records, config=config or {}, previous=summary)
    run = Run(folder, summary, records)
    run.label = label or f"{run.model} · {run.variant}"
    return run


def _split_label(item: str) -> tuple[str | None, Path]:
    """``LABEL=PATH`` -> (LABEL, PATH); a plain path (even one with "=" in it) -> (None, path)."""
    label, sep, rest = item.partition("=")
    if sep and not Path(item).exists() and Path(rest).exists():
        return label or None, Path(rest)
    return None, Path(item)


def load_runs(paths: list[str]) -> list[Run]:
    """Runs of results folders, results.jsonl files or audit folders (every run folder below).

    ``paths`` items may be ``LABEL=PATH`` to name a run. Labels that collide get the folder name.
    """
    runs: list[Run] = []
    for item in paths:
        label, path = _split_label(item)
        if path.is_file():
            if path.suffix != ".jsonl":
                raise PrismError(f"{path}: expected a results folder or a results.jsonl file")
            runs.append(_read_run(path.parent, label))
        elif not path.is_dir():
            raise PrismError(f"{path}: no such results folder or file")
        elif (path / RESULTS).is_file():
            runs.append(_read_run(path, label))
        else:
            found = sorted(p.parent for p in path.rglob(RESULTS))
            if not found:
                raise PrismError(f"{path}: no {RESULTS} there or in its sub-folders (give the "
                                      "output folder of `prism evaluate` or `prism audit`)")
            runs.extend(_read_run(f, None) for f in found)
    if not runs:
        raise PrismError("no runs to report")
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            r.label = f"{r.label} [{r.path.name}]"
    order = {v: i for i, v in enumerate(VARIANT_ORDER)}
    groups = list(dict.fromkeys(r.group for r in runs))
    return sorted(runs, key=lambda r: (groups.index(r.group), order.get(r.variant, 9)))


# ------------------------------------------------------------------ numbers

def chance_scores(records: list[dict]) -> dict | None:
    """Aggregate scores of an attacker that answers each user with the true attributes of the
    next user (a prior-only guess: what the population alone gives away). None below 2 users."""
    from .scoring import aggregate, score_users
    truths = [r.get("truth") or {} for r in records if r.get("truth")]
    if len(truths) < 2:
        return None
    preds = [{"attributes": {k: {"guesses": [v]} for k, v in truths[(i + 1) % len(truths)].items()}}
             for i in range(len(truths))]
    return aggregate(score_users(preds, truths))


def _attrs(runs: list[Run]) -> list[str]:
    present = {k for r in runs for k in r.scores.get("attributes", {})}
    return [k for k in ATTRIBUTE_KEYS if k in present]


def _xlabels(keys: list[str]) -> list[str]:
    """Bar-group labels: the attribute codes, then the mean."""
    return [ATTRIBUTES[k].code for k in keys] + ["MEAN"]


def _row(scores: dict, keys: list[str], field_: str = "top1") -> list:
    """One figure of every attribute, then the overall one, from an aggregate or a leakage group."""
    per = scores.get("attributes") or {}
    return [per.get(k, {}).get(field_) for k in keys] + [scores.get(field_)]


def _pct(v, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}"


def _cost(run: Run) -> dict:
    c = run.summary.get("cost") or {}
    n = max(1, run.summary.get("users") or len(run.records))
    wall = (run.summary.get("session") or {}).get("wall_s")
    return {"calls": c.get("calls", 0), "prompt_tokens": c.get("prompt_tokens", 0),
            "completion_tokens": c.get("completion_tokens", 0),
            "calls_per_user": c.get("calls", 0) / n,
            "tokens_per_user": (c.get("prompt_tokens", 0) + c.get("completion_tokens", 0)) / n,
            "model_s_per_user": float(c.get("model_seconds") or 0.0) / n,
            "wall_s": wall}


# ------------------------------------------------------------------ figures

def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _colors(n: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _bars(ax, groups: list[str], series: list[tuple[str, list]], *, ticks: list[list] | None = None,
          ylabel: str = "top-1 accuracy (%)", ymax: float = 100.0) -> None:
    """Grouped bars: one group per x label, one bar per series; optional tick (e.g. chance) per bar."""
    import numpy as np
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    for i, ((name, values), color) in enumerate(zip(series, _colors(len(series)))):
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, [100 * (v or 0) for v in values], width, label=name, color=color)
        if ticks is not None and ticks[i] is not None:
            ys = [100 * t if t is not None else np.nan for t in ticks[i]]
            ax.hlines(ys, pos - width / 2, pos + width / 2, colors="black", linewidth=1.6,
                      label="chance (another user's truth)" if i == 0 else None)
    ax.set_xticks(x, groups)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, ymax)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def fig_accuracy(runs: list[Run], chance: dict[str, dict | None]) -> bytes:
    keys = _attrs(runs)
    fig = _figure(max(8.0, 0.9 * (len(keys) + 1) + 0.35 * len(runs)), 4.2)
    ax = fig.add_subplot()
    series = [(r.label, _row(r.scores, keys)) for r in runs]
    ticks = [None if chance.get(r.label) is None else _row(chance[r.label], keys) for r in runs]
    _bars(ax, _xlabels(keys), series, ticks=ticks)
    ax.set_title("Top-1 accuracy per attribute")
    ax.legend(fontsize=8, ncols=min(3, len(runs) + 1), loc="upper left")
    return _png(fig)


def fig_heatmap(runs: list[Run]) -> bytes:
    import numpy as np
    keys = _attrs(runs)
    rows = _xlabels(keys)
    data = 100 * np.array([[v or 0 for v in _row(r.scores, keys)] for r in runs]).T
    fig = _figure(max(5.0, 1.3 * len(runs) + 2.5), 0.38 * len(rows) + 1.6)
    ax = fig.add_subplot()
    im = ax.imshow(data, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8,
                color="white" if v < 55 else "black")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(len(runs)), [r.label for r in runs], rotation=20, ha="right", fontsize=8)
    fig.colorbar(im, ax=ax, label="top-1 accuracy (%)")
    ax.set_title("Top-1 accuracy by attribute and run")
    return _png(fig)


def _by_group(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for r in runs:
        out.setdefault(r.group, []).append(r)
    return out


def fig_variants(runs: list[Run]) -> bytes | None:
    """Per attribute, the variants of each model (on one dataset) side by side, when it ran several."""
    models = {m: rs for m, rs in _by_group(runs).items() if len({r.variant for r in rs}) > 1}
    if not models:
        return None
    keys = _attrs(runs)
    fig = _figure(max(8.0, 0.9 * (len(keys) + 1)), 3.4 * len(models))
    for i, (model, rs) in enumerate(models.items()):
        ax = fig.add_subplot(len(models), 1, i + 1)
        series = [(VARIANT_NAMES.get(r.variant, r.variant), _row(r.scores, keys)) for r in rs]
        _bars(ax, _xlabels(keys), series)
        ax.set_title(f"{model}: which inputs leak (variants of the inference chain)", fontsize=10)
        ax.legend(fontsize=8, ncols=len(rs), loc="upper left")
    return _png(fig)


LEAK_GROUPS = (("explicit", "revealed explicitly"), ("implicit", "revealed implicitly"),
               ("unrevealed", "not revealed by the plan"))
CHANNELS = (("text", "planned in text"), ("image", "planned in image"))


def _leak_groups(scores: dict, channels: bool = True) -> list[tuple[str, dict | None]]:
    """(title, GROUP or None) of each leakage mode and, with ``channels``, each planned channel."""
    by_mode, by_channel = scores.get("by_mode") or {}, scores.get("by_channel") or {}
    out = [(title, scores.get(name) if name == "unrevealed" else by_mode.get(name))
           for name, title in LEAK_GROUPS]
    return out + ([(title, by_channel.get(ch)) for ch, title in CHANNELS] if channels else [])


def _main_runs(runs: list[Run]) -> list[Run]:
    """One run per model and dataset: its chain run when there is one, else its first."""
    return [next((r for r in rs if r.variant == "chain"), rs[0]) for rs in _by_group(runs).values()]


def fig_leakage(runs: list[Run]) -> bytes | None:
    """Accuracy on the attributes the synthetic leakage plan revealed explicitly / implicitly / not:
    per attribute for each model's main run, then the means of every run side by side."""
    runs = [r for r in runs if r.scores.get("by_mode")]
    if not runs:
        return None
    keys = _attrs(runs)
    main = _main_runs(runs)[:4]
    fig = _figure(max(8.0, 0.9 * (len(keys) + 1)), 3.2 * (len(main) + 1))
    for i, r in enumerate(main):
        ax = fig.add_subplot(len(main) + 1, 1, i + 1)
        series = [(f"{title} (n={g['n'] if g else 0})", _row(g or {}, keys))
                  for title, g in _leak_groups(r.scores, channels=False)]
        _bars(ax, _xlabels(keys), series)
        ax.set_title(f"{r.label}: accuracy by leakage mode (synthetic plan)")
        ax.legend(fontsize=8, ncols=3, loc="upper left")
    ax = fig.add_subplot(len(main) + 1, 1, len(main) + 1)
    groups = [title for title, _ in _leak_groups(runs[0].scores)]
    series = [(r.label, [(g or {}).get("top1") for _, g in _leak_groups(r.scores)]) for r in runs]
    _bars(ax, groups, series, ylabel="mean top-1 accuracy (%)")
    ax.set_title("Every run: mean accuracy by leakage mode and planned channel")
    ax.legend(fontsize=8, ncols=min(4, len(runs)), loc="upper right")
    return _png(fig)


def fig_coverage(runs: list[Run]) -> bytes:
    keys = _attrs(runs)
    fig = _figure(max(8.0, 0.9 * (len(keys) + 1) + 0.35 * len(runs)), 6.0)
    for i, (field_, title) in enumerate((("coverage", "Coverage: share of users answered"),
                                         ("parse_failure_rate", "Parse-failure rate"))):
        ax = fig.add_subplot(2, 1, i + 1)
        series = [(r.label, _row(r.scores, keys, field_)) for r in runs]
        top = 100.0 if field_ == "coverage" else max(
            5.0, 110 * max((v or 0) for _, vs in series for v in vs))
        _bars(ax, _xlabels(keys), series, ylabel="%", ymax=top)
        ax.set_title(title)
        if i == 0:
            ax.legend(fontsize=8, ncols=min(3, len(runs)), loc="lower left")
    return _png(fig)


def fig_cost(runs: list[Run]) -> bytes:
    import numpy as np
    costs = [_cost(r) for r in runs]
    fig = _figure(max(8.0, 1.2 * len(runs) + 4), 3.0)
    for i, (key, title) in enumerate((("calls_per_user", "model calls per user"),
                                      ("tokens_per_user", "tokens per user (prompt + completion)"),
                                      ("model_s_per_user", "model seconds per user"))):
        ax = fig.add_subplot(1, 3, i + 1)
        ax.bar(np.arange(len(runs)), [c[key] for c in costs], color=_colors(len(runs)))
        ax.set_xticks(range(len(runs)), [str(j + 1) for j in range(len(runs))])
        ax.set_xlabel("run (numbered as in the tables)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    return _png(fig)


def fig_paper(runs: list[Run]) -> bytes | None:
    """Religion accuracy of these runs beside the figures published in the PRISM paper."""
    key = PAPER_REFERENCE["attribute"]
    ours = [(r.label + f" — {r.dataset}", r.scores["attributes"].get(key, {}).get("top1"))
            for r in runs if key in r.scores.get("attributes", {})]
    if not ours:
        return None
    lo, hi = PAPER_REFERENCE["models_text_image"]
    rows = [(f"this report: {name}", 100 * (v or 0), "C0") for name, v in ours]
    rows += [("paper: human annotators, average", PAPER_REFERENCE["human_average"], "0.55"),
             ("paper: Gemini, human-comparison study", PAPER_REFERENCE["gemini_human_comparison"], "0.35")]
    fig = _figure(9.0, 0.45 * (len(rows) + 1) + 1.6)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [v for _, v, _ in rows], color=[c for _, _, c in rows])
    ax.axvspan(lo, hi, color="orange", alpha=0.25,
               label=f"paper: M-LLMs with text + image, {lo:.2f}–{hi:.2f}")
    for yy, (_, v, _) in zip(y, rows):
        ax.text(v + 1, yy, f"{v:.1f}", va="center", fontsize=8)
    ax.set_yticks(y, [name for name, _, _ in rows], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("religion top-1 accuracy (%)")
    ax.set_title("Religion: this report beside published PRISM numbers (paper: v1 data, its own scoring)",
                 fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


# ------------------------------------------------------------------ tables

def _table_runs(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    head = ["#", "run", "model / roles", "variant", "dataset", "users", "images", "failed", "judge"]
    rows = [[str(i + 1), r.label, r.model, VARIANT_NAMES.get(r.variant, r.variant), r.dataset,
             str(r.summary.get("users", len(r.records))), r.images,
             str(r.summary.get("failures", 0)),
             str((r.config.get("judge") or "none"))] for i, r in enumerate(runs)]
    return head, rows


def _table_scores(runs: list[Run], chance: dict) -> tuple[list[str], list[list[str]]]:
    from .scoring import SUBFIELDS
    head = ["attribute"] + [f"{i + 1}: top-1 / top-3" for i in range(len(runs))] + ["chance (run 1)"]
    c0 = chance.get(runs[0].label) or {"attributes": {}}
    rows = []
    for k in _attrs(runs):
        rows.append([k] + [f"{_pct(r.scores['attributes'].get(k, {}).get('top1'))} / "
                           f"{_pct(r.scores['attributes'].get(k, {}).get('top3'))}" for r in runs]
                    + [_pct(c0["attributes"].get(k, {}).get("top1"))])
        for sub in SUBFIELDS.get(k, ()):
            cells = []
            for r in runs:
                s = (r.scores["attributes"].get(k, {}).get("subscores") or {}).get(sub) or {}
                cells.append(f"{_pct(s.get('top1'))} / {_pct(s.get('top3'))}")
            cs = ((c0["attributes"].get(k) or {}).get("subscores") or {}).get(sub) or {}
            rows.append([f"  · {sub}"] + cells + [_pct(cs.get("top1"))])
    rows.append(["**mean**"] + [f"{_pct(r.scores['top1'])} / {_pct(r.scores['top3'])}" for r in runs]
                + [_pct(c0.get("top1"))])
    rows.append(["coverage"] + [_pct(r.scores.get("coverage")) for r in runs] + [""])
    rows.append(["parse failures"] + [_pct(r.scores.get("parse_failure_rate")) for r in runs] + [""])
    rows.append(["less precise (top-1)"] + [_pct(r.scores.get("less_precise")) for r in runs] + [""])
    return head, rows


def _table_leakage(runs: list[Run]) -> tuple[list[str], list[list[str]]] | None:
    head = ["#", "run"] + [title for title, _ in _leak_groups({})]
    rows = [[str(i + 1), r.label] + ["–" if not g else f"{_pct(g['top1'])} (n={g['n']})"
                                     for _, g in _leak_groups(r.scores)]
            for i, r in enumerate(runs) if r.scores.get("by_mode")]
    return (head, rows) if rows else None


def _table_cost(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    head = ["#", "run", "calls", "prompt tokens", "completion tokens", "calls / user",
            "tokens / user", "model s / user", "wall s"]
    rows = []
    for i, r in enumerate(runs):
        c = _cost(r)
        rows.append([str(i + 1), r.label, f"{c['calls']:,}", f"{c['prompt_tokens']:,}",
                     f"{c['completion_tokens']:,}", f"{c['calls_per_user']:.1f}",
                     f"{c['tokens_per_user']:,.0f}", f"{c['model_s_per_user']:.3f}",
                     "–" if c["wall_s"] is None else f"{c['wall_s']:.1f}"])
    return head, rows


def _failures(runs: list[Run]) -> list[str]:
    out = []
    for i, r in enumerate(runs):
        failed = [rec for rec in r.records if rec.get("failure")]
        for rec in failed[:5]:
            out.append(f"run {i + 1}, user {rec.get('user_id')}: {rec.get('failure')}")
        if len(failed) > 5:
            out.append(f"run {i + 1}: … and {len(failed) - 5} more failed users")
    return out


# ------------------------------------------------------------------ the document

@dataclass
class _Section:
    title: str
    text: list[str] = field(default_factory=list)
    figure: tuple[str, bytes] | None = None   # (file stem, PNG)
    table: tuple[list[str], list[list[str]]] | None = None
    items: list[str] = field(default_factory=list)


SCORING_NOTES = [
    "Each attribute is scored by an explicit rule (prism_eval/scoring.py): top-1 uses the first "
    "guess, top-3 the best of the first three. Age counts within ±5 years; an adjacent "
    "education level and a birthplace in the right world region count 0.5 (\"less precise\"); "
    "income brackets count when they overlap the true bracket; location and appearance are the "
    "mean of their sub-scores; hobbies are the recall of the true set. Unanswered attributes "
    "score 0 and lower the coverage; parse failures are counted, not hidden.",
    "Chance: every user is answered with the true attributes of another user of the same "
    "dataset, i.e. what knowing the population alone gives away. Leakage above it comes from "
    "the user's own posts and photos.",
]


def _sections(runs: list[Run]) -> list[_Section]:
    chance = {r.label: chance_scores(r.records) for r in runs}
    out = [_Section("Runs", ["Each run is one model (or mix of models per role) and one variant "
                             "of the inference chain over one dataset."], table=_table_runs(runs))]
    out.append(_Section(
        "Accuracy per attribute",
        ["Top-1 accuracy (%) of each run; the black tick over a bar is the chance level of that "
         "run's dataset. The table gives top-1 / top-3 (%), location and appearance sub-scores, "
         "coverage and parse failures."],
        figure=("accuracy", fig_accuracy(runs, chance)), table=_table_scores(runs, chance)))
    if len(runs) > 1:
        out.append(_Section("All runs at a glance", [], figure=("heatmap", fig_heatmap(runs))))
    variants = fig_variants(runs)
    if variants is not None:
        out.append(_Section(
            "Text only, text + image, single agent",
            ["The same model with different inputs and agent layouts: the gap between "
             "\"text only\" and \"text + image\" is what the photos add; \"single agent\" puts "
             "posts and images into one prompt instead of the three-agent chain."],
            figure=("variants", variants)))
    leakage = fig_leakage(runs)
    if leakage is not None:
        out.append(_Section(
            "Accuracy by leakage mode (synthetic data)",
            ["Synthetic users come with a leakage plan: which post reveals which attribute, "
             "explicitly (stated) or implicitly (to be inferred), in text or in the image. "
             "Attributes no post was planned to reveal still leak through the topics the user "
             "follows (derived from the profile, as in PRISM v1; evaluate with --no-topics to "
             "measure posts alone) and through correlations between attributes."],
            figure=("leakage", leakage), table=_table_leakage(runs)))
    out.append(_Section("Coverage and parse failures",
                        ["Coverage: share of users for whom the model answered the attribute. "
                         "Parse failures: answers that could not be read into a guess."],
                        figure=("coverage", fig_coverage(runs))))
    out.append(_Section("Cost",
                        ["Model calls and tokens of the recorded runs (cached calls included); "
                         "model seconds are summed latencies, wall seconds the last session's "
                         "elapsed time."],
                        figure=("cost", fig_cost(runs)), table=_table_cost(runs)))
    paper = fig_paper(runs)
    if paper is not None:
        lo, hi = PAPER_REFERENCE["models_text_image"]
        out.append(_Section(
            "Published numbers (taken from the paper)",
            [f"From {PAPER_REFERENCE['source']}: religion accuracy of human annotators averages "
             f"{PAPER_REFERENCE['human_average']:.2f}%, Gemini reaches "
             f"{PAPER_REFERENCE['gemini_human_comparison']:.2f}% in the human-comparison study, "
             f"and the M-LLMs evaluated with text and images reach {lo:.2f}–{hi:.2f}%. These were "
             "measured on PRISM v1 with the paper's own scoring rule, which it does not publish; "
             "they are shown for orientation, not as a like-for-like comparison (and not at all "
             "for synthetic data)."],
            figure=("paper", paper)))
    out.append(_Section("How the scores are computed", list(SCORING_NOTES)))
    failures = _failures(runs)
    if failures:
        out.append(_Section("Failed users", ["Users without a prediction (they count as "
                                             "unanswered); rerun with --retry-failed."],
                            items=failures))
    return out


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f4f4f4}
img{max-width:100%;height:auto}
"""


def _html_table(table) -> str:
    head, rows = table
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _html_cell(cell: str) -> str:
    if cell.startswith("**") and cell.endswith("**"):
        return f"<b>{html.escape(cell[2:-2])}</b>"
    return html.escape(cell).replace("  · ", "&nbsp;&nbsp;· ")


def _md_table(table) -> str:
    head, rows = table

    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("  · ", "&nbsp;&nbsp;· ")

    lines = ["| " + " | ".join(esc(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _render_html(title: str, meta: str, sections: list[_Section]) -> str:
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(meta)}</p>"]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{html.escape(t)}</p>" for t in s.text]
        if s.figure:
            data = base64.b64encode(s.figure[1]).decode("ascii")
            parts.append(f"<figure><img alt=\"{html.escape(s.title)}\" "
                         f"src=\"data:image/png;base64,{data}\"></figure>")
        if s.table:
            parts.append(_html_table(s.table))
        if s.items:
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in s.items) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _render_md(title: str, meta: str, sections: list[_Section]) -> str:
    parts = [f"# {title}", "", f"_{meta}_", ""]
    for s in sections:
        parts += [f"## {s.title}", ""]
        for t in s.text:
            parts += [t, ""]
        if s.figure:
            parts += [f"![{s.title}](figures/{s.figure[0]}.png)", ""]
        if s.table:
            parts += [_md_table(s.table), ""]
        parts += [f"- {i}" for i in s.items] + ([""] if s.items else [])
    return "\n".join(parts)


def build_report(paths: list[str], out_dir: str | None = None, *,
                 title: str | None = None) -> dict[str, Path]:
    """Write report.html, report.md and figures/ for the runs under ``paths`` (folders, results
    files, ``LABEL=PATH``); -> their paths. ``out_dir`` defaults to the single input folder, else
    ``prism-report``.
    """
    runs = load_runs(paths)
    if out_dir is None:
        first = _split_label(paths[0])[1]
        out_dir = (first if first.is_dir() else first.parent) if len(paths) == 1 else "prism-report"
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    sections = _sections(runs)
    from importlib import metadata
    try:
        version = metadata.version("prism-privacy")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "source"
    title = title or "PRISM privacy audit"
    meta = (f"{len(runs)} run(s) · prism {version} · made {time.strftime('%Y-%m-%d %H:%M')} · "
            "accuracy = how often the model inferred a private attribute right (higher = more leakage)")
    for s in sections:
        if s.figure:
            (out / "figures" / f"{s.figure[0]}.png").write_bytes(s.figure[1])
    files = {"html": out / "report.html", "markdown": out / "report.md"}
    files["html"].write_text(_render_html(title, meta, sections), encoding="utf-8")
    files["markdown"].write_text(_render_md(title, meta, sections), encoding="utf-8")
    return files
