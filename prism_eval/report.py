"""Reports of one or several runs: comparison tables and matplotlib plots, as HTML and Markdown.

``build_report(paths, out_dir)`` reads run folders written by :func:`prism_eval.runner.evaluate`
(or audit folders that hold several) and writes ``report.html`` (self-contained: figures are
embedded as base64 PNG, no other file is referenced), ``report.md`` and ``figures/*.png``.

What it shows (the numbers and labels come from :mod:`prism_eval.report_facts`):

- an opening summary per model and dataset: what leaked, through which channel, how far above
  chance, in three generated sentences;
- per attribute, top-1 accuracy over all users beside a chance guesser that answers the same users
  (coverage-matched), the accuracy among answered attributes beside chance on those same
  user-attributes, and the coverage;
- what each input adds (topics, images, one prompt instead of three agents), accuracy by leakage
  mode on synthetic data (from the posts-only run when there is one), parse failures, cost;
- the few numbers the PRISM paper publishes, only beside runs on PRISM v1.

Every figure either has data or is left out with the reason stated in the report; a channel that
was not measured (no images, or an image role that reads no pixels) is said so, never drawn as a
0% bar; a zero bar is drawn as a short hatched stub with a "0", a missing value as "–".
"""
from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from prism_core.attributes import ATTRIBUTE_KEYS, ATTRIBUTES, SUBFIELDS

from .report_facts import (
    PAPER_REFERENCE,
    VARIANT_NAMES,
    Run,
    _split_label,
    attribute_name,
    chance_scores,
    lead_run,
    load_runs,
    numbers,
    pair,
    same_scores,
    summary_sentences,
    topic_pair,
)

__all__ = ["Run", "load_runs", "build_report", "chance_scores", "PAPER_REFERENCE",
           "report_figures", "FigureResult"]

# ------------------------------------------------------------------ small helpers

def _attrs(runs: list[Run]) -> list[str]:
    present = {k for r in runs for k in r.scores.get("attributes", {})}
    return [k for k in ATTRIBUTE_KEYS if k in present]


def _codes(keys: list[str], last: str = "MEAN") -> list[str]:
    return [ATTRIBUTES[k].code for k in keys] + [last]


def _pct(v, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}"


def _by_group(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for r in runs:
        out.setdefault(r.group, []).append(r)
    return out


def _number(runs: list[Run], run: Run) -> int:
    return runs.index(run) + 1


def _short(run: Run) -> str:
    """A run's name inside its group: its variant, and "posts only" without topics."""
    return run.variant + (" · posts only" if run.posts_only else "")


def _distinct(runs: list[Run]) -> list[tuple[str, list[Run]]]:
    """Measured runs, identical runs of one group merged: [(label, [runs...])]."""
    out: list[tuple[str, list[Run]]] = []
    for r in runs:
        if not r.measured:
            continue
        for i, (label, members) in enumerate(out):
            if members[0].group == r.group and same_scores(members[0], r):
                members.append(r)
                out[i] = (f"{label} = {_short(r)}", members)
                break
        else:
            out.append((r.label, [r]))
    return out


def _not_measured_notes(runs: list[Run], only: list[Run] | None = None) -> list[str]:
    """One line per channel not measured, of the runs in ``only`` (default: all), numbered as in
    ``runs``."""
    notes = []
    for i, r in enumerate(runs):
        if only is not None and r not in only:
            continue
        for channel, why in r.not_measured.items():
            what = "the whole run" if not r.measured else f"its {channel} channel"
            notes.append(f"run {i + 1} ({r.label}): {what} not measured — {why}.")
    return notes


def _identical_notes(runs: list[Run]) -> list[str]:
    out = []
    for label, members in _distinct(runs):
        if len(members) > 1:
            nums = [str(_number(runs, m)) for m in members]
            out.append(f"Runs {', '.join(nums[:-1])} and {nums[-1]} give identical scores for every "
                       f"attribute; the figures show them once, as \"{label}\".")
    return out


def _cost(run: Run) -> dict:
    c = run.summary.get("cost") or {}
    n = max(1, run.n_users)
    wall = (run.summary.get("session") or {}).get("wall_s")
    return {"calls": c.get("calls", 0), "prompt_tokens": c.get("prompt_tokens", 0),
            "completion_tokens": c.get("completion_tokens", 0),
            "calls_per_user": c.get("calls", 0) / n,
            "tokens_per_user": (c.get("prompt_tokens", 0) + c.get("completion_tokens", 0)) / n,
            "model_s_per_user": float(c.get("model_seconds") or 0.0) / n,
            "wall_s": wall}


# ------------------------------------------------------------------ figures

@dataclass
class FigureResult:
    """One figure of the report: a matplotlib Figure, or None with the reason it is left out.
    ``notes``: what the figure leaves out (panels, runs) and why."""
    name: str
    title: str
    figure: object | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _color(i: int):
    from matplotlib import colormaps
    return colormaps["tab10"](i % 10)


#: height of the stub that stands for a zero bar, as a share of the axis range
ZERO_STUB = 0.012


def _bars(ax, groups: list[str], series: list[tuple[str, list, object]], *,
          ticks: list[list | None] | None = None, tick_label: str | None = None,
          counts: list[list | None] | None = None, ylabel: str = "top-1 accuracy (%)",
          ylim: tuple[float, float] = (0.0, 100.0), percent: bool = True) -> None:
    """Grouped bars: one group per x label, one bar per series (name, values, colour).

    A value of 0 is a hatched stub with a "0" over it; None (nothing to count) is a grey "–".
    ``ticks``: per series, a black tick (e.g. chance) over each bar; ``counts``: per series, the
    n of each bar written above it.
    """
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    lo, hi = ylim
    span = hi - lo
    scale = 100.0 if percent else 1.0
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    handles, zero, missing = [], False, False
    for i, (name, values, color) in enumerate(series):
        pos = x - 0.4 + width * (i + 0.5)
        handles.append(Patch(facecolor=color, label=name))
        for j, (p, v) in enumerate(zip(pos, values)):
            if v is None:
                missing = True
                ax.text(p, max(lo, 0.0) + 0.01 * span, "–", ha="center", va="bottom",
                        fontsize=11, color="0.35")
                continue
            h = scale * v
            if abs(h) < 0.05:  # a measured zero: drawn, and told apart from "nothing to count"
                zero = True
                ax.bar(p, ZERO_STUB * span, width, color="white", edgecolor=color, hatch="////",
                       linewidth=0.8)
                ax.text(p, (ZERO_STUB + 0.01) * span, "0", ha="center", va="bottom", fontsize=6,
                        color=color)
            else:
                ax.bar(p, h, width, color=color)
                if abs(h) < 0.03 * span:  # too thin to see: say its value
                    ax.text(p, max(h, 0.0) + 0.01 * span, f"{h:.1f}", ha="center", va="bottom",
                            fontsize=6, color=color)
            if counts is not None and counts[i] is not None and counts[i][j] is not None:
                top = max(h, 0.0) if abs(h) >= 0.03 * span else max(h, 0.0) + 0.06 * span
                ax.text(p, top + 0.015 * span, f"{counts[i][j]}", ha="center", va="bottom",
                        fontsize=6.5, rotation=90, color="0.25")
        if ticks is not None and ticks[i] is not None:
            ys = [scale * t if t is not None else np.nan for t in ticks[i]]
            ax.hlines(ys, pos - width / 2, pos + width / 2, colors="black", linewidth=1.6)
    if ticks is not None and tick_label:
        handles.append(Line2D([], [], color="black", linewidth=1.6, label=tick_label))
    if zero:
        handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="////",
                             label="hatched stub: a measured 0"))
    if missing:
        handles.append(Line2D([], [], linestyle="none", marker="$–$", markersize=9, color="0.35",
                              label="–: nothing to count (never answered)"))
    ax._prism_handles = handles
    ax.set_xticks(x, groups)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_ylim(lo, hi)
    if lo < 0:
        ax.axhline(0, color="0.3", linewidth=0.8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _width(n_keys: int, n_series: int) -> float:
    """Figure width (inches) of a per-attribute bar chart: about the page width (10 in at 110 dpi
    fills the 1100 px column), wider only for many bars."""
    return max(10.0, 0.22 * (n_keys + 1) * max(1, n_series) + 2.8)


def _legend(ax, **kw) -> None:
    """A legend outside the data: to the right of the axes."""
    handles = getattr(ax, "_prism_handles", None) or ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, borderaxespad=0.0, **kw)


def _wrap(text: str, width: int = 34) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width)) or text


def fig_accuracy(runs: list[Run]) -> FigureResult:
    """Top-1 over all users beside coverage-matched chance; accuracy when answered beside chance
    on the same user-attributes; coverage."""
    res = FigureResult("accuracy", "Accuracy per attribute")
    series = _distinct(runs)
    res.notes += _not_measured_notes(runs, [r for r in runs if not r.measured])
    if not series:
        res.reason = "no run measured anything: " + " ".join(_not_measured_notes(runs))
        return res
    keys = _attrs(runs)
    fig = _figure(_width(len(keys), len(series)), 8.4)
    panels = (
        ("Top-1 accuracy over all users (unanswered counts as wrong)", "MEAN",
         lambda n, k: n["attributes"][k]["top1"], lambda n: n["all"]["top1"],
         lambda n, k: n["attributes"][k]["chance_matched"], lambda n: n["all"]["chance_matched"],
         "chance, answering the same users"),
        ("Accuracy when answered", "ALL",
         lambda n, k: n["attributes"][k]["top1_answered"], lambda n: n["all"]["answered"],
         lambda n, k: n["attributes"][k]["chance_answered"], lambda n: n["all"]["answered_chance"],
         "chance on the same answered users"),
        ("Coverage: share of users answered", "MEAN",
         lambda n, k: n["attributes"][k]["coverage"], lambda n: n["all"]["coverage"],
         None, None, None),
    )
    for p, (title, last, val, val_all, tick, tick_all, tick_label) in enumerate(panels):
        ax = fig.add_subplot(3, 1, p + 1)
        data, ticks = [], []
        for label, members in series:
            run = members[0]
            num = numbers(run)
            data.append((_wrap(label), [val(num, k) if k in num["attributes"] else None
                                        for k in keys] + [val_all(num)],
                         _color(runs.index(run))))
            ticks.append(None if tick is None else
                         [tick(num, k) if k in num["attributes"] else None for k in keys]
                         + [tick_all(num)])
        _bars(ax, _codes(keys, last), data, ticks=ticks if tick else None, tick_label=tick_label,
              ylabel="%" if p == 2 else "accuracy (%)")
        ax.set_title(title, fontsize=10)
        _legend(ax)
    res.figure = fig
    return res


def fig_heatmap(runs: list[Run]) -> FigureResult:
    import numpy as np
    res = FigureResult("heatmap", "All runs at a glance")
    if len(runs) < 2:
        res.reason = "one run only: the accuracy chart above shows it"
        return res
    keys = _attrs(runs)
    rows = _codes(keys)
    data = np.full((len(rows), len(runs)), np.nan)
    for j, r in enumerate(runs):
        if r.measured:
            num = numbers(r)
            data[:, j] = [100 * (num["attributes"].get(k, {}).get("top1") or 0) for k in keys] + [
                100 * (num["all"]["top1"] or 0)]
    fig = _figure(min(10.0, max(6.0, 1.2 * len(runs) + 3.0)), 0.36 * len(rows) + 2.2)
    ax = fig.add_subplot()
    from matplotlib import colormaps
    cmap = colormaps["viridis"].with_extremes(bad="0.88")
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(data):
        if np.isnan(v):
            if i == len(rows) // 2:
                ax.text(j, i, "not\nmeasured", ha="center", va="center", fontsize=8, color="0.3")
            continue
        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7.5,
                color="white" if v < 55 else "black")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(len(runs)), [f"{j + 1}: {_wrap(r.label, 22)}" for j, r in enumerate(runs)],
                  rotation=20, ha="right", fontsize=7.5)
    fig.colorbar(im, ax=ax, label="top-1 accuracy, all users (%)")
    ax.set_title("Top-1 accuracy by attribute and run (%)", fontsize=10)
    res.figure = fig
    res.notes += _not_measured_notes(runs, [r for r in runs if not r.measured])
    return res


def _pair2(rs: list[Run], a: str, b: str) -> tuple[Run | None, Run | None]:
    """Runs of variants ``a`` and ``b`` with the same topics setting (with topics first)."""
    for topics in (True, False):
        ra, rb = pair(rs, a, topics), pair(rs, b, topics)
        if ra and rb:
            return ra, rb
    return None, None


def _channel_series(rs: list[Run]) -> tuple[list[tuple[str, Run, Run]], list[str]]:
    """(name, run, baseline) comparisons within one group, and why others are missing."""
    out, why = [], []
    tp = topic_pair(rs)
    if tp:
        out.append((f"+ topics ({tp[0].variant}: posts + topics − posts only)", tp[0], tp[1]))
    elif any(r.topics and "text" in r.channels for r in rs):
        why.append("topics: not measured apart (no run without topics; \"prism evaluate "
                   "--no-topics\" makes one)")
    chain, text = _pair2(rs, "chain", "text-only")
    if chain and text:
        if "image" in chain.not_measured:
            why.append(f"images: not measured ({chain.not_measured['image']})")
        elif chain.measured and text.measured:
            out.append(("+ images (chain − text only)", chain, text))
    single, chain = _pair2(rs, "single", "chain")
    if single and chain and single.measured and chain.measured:
        out.append(("one prompt (single agent − chain)", single, chain))
    return out, why


def fig_channels(runs: list[Run]) -> FigureResult:
    """Per model and dataset: what each input adds, in points of top-1 per attribute."""
    res = FigureResult("channels", "Which input leaks")
    groups, alike = [], False
    for g, rs in _by_group(runs).items():
        comps, why = _channel_series(rs)
        res.notes += [f"{g}: {w}." for w in why]
        changed = []
        for name, a, b in comps:
            if same_scores(a, b):  # a chart of zeros only: said in words instead
                alike = True
                i, j = sorted((_number(runs, a), _number(runs, b)))
                res.notes.append(f"{g}: {name.split(' (')[0]} changes nothing — runs {i} and {j} "
                                 "score alike on every attribute.")
            else:
                changed.append((name, a, b))
        if changed:
            groups.append((g, changed))
    if not groups:
        res.reason = ("no pair of runs that differ in one input scores differently" if alike
                      else "no pair of runs differs in one input only (run the variants of one "
                      "model on one dataset, e.g. with \"prism audit\", and a posts-only run)")
        return res
    keys = _attrs(runs)
    groups = groups[:4]
    fig = _figure(_width(len(keys), 3), 3.3 * len(groups))
    for gi, (g, comps) in enumerate(groups):
        ax = fig.add_subplot(len(groups), 1, gi + 1)
        data, lows, highs = [], [0.0], [0.0]
        for ci, (name, a, b) in enumerate(comps):
            na, nb = numbers(a), numbers(b)
            vals = [(na["attributes"][k]["top1"] - nb["attributes"][k]["top1"])
                    if k in na["attributes"] and k in nb["attributes"] else None for k in keys]
            vals.append(na["all"]["top1"] - nb["all"]["top1"])
            data.append((_wrap(name, 30), vals, _color(ci + 5)))
            lows += [100 * v for v in vals if v is not None]
            highs += [100 * v for v in vals if v is not None]
        lo = min(-10.0, 1.15 * min(lows))
        hi = max(10.0, 1.15 * max(highs))
        _bars(ax, _codes(keys), data, ylabel="change in top-1 (points)", ylim=(lo, hi))
        ax.set_title(f"What each input adds: {g}", fontsize=10)
        _legend(ax)
    res.figure = fig
    return res


MODE_COLORS = ("#1b9e77", "#d95f02", "#7570b3")
LEAK_GROUPS = (("explicit", "revealed explicitly"), ("implicit", "revealed implicitly"),
               ("unrevealed", "not revealed by the plan"))
CHANNELS = (("text", "planned in text"), ("image", "planned in image"))


def _leak_groups(scores: dict, channels: bool = True) -> list[tuple[str, dict | None]]:
    """(title, GROUP or None) of each leakage mode and, with ``channels``, each planned channel."""
    by_mode, by_channel = scores.get("by_mode") or {}, scores.get("by_channel") or {}
    out = [(title, scores.get(name) if name == "unrevealed" else by_mode.get(name))
           for name, title in LEAK_GROUPS]
    return out + ([(title, by_channel.get(ch)) for ch, title in CHANNELS] if channels else [])


def _leak_row(group: dict | None, keys: list[str], field_: str = "top1") -> list:
    per = (group or {}).get("attributes") or {}
    return [per.get(k, {}).get(field_) for k in keys] + [(group or {}).get(field_)]


def fig_leakage(runs: list[Run]) -> FigureResult:
    """Accuracy on the attributes the synthetic leakage plan revealed explicitly / implicitly /
    not: per attribute (with n) for each model's lead run — posts only when there is one — then
    the means of every run by mode and planned channel."""
    res = FigureResult("leakage", "Accuracy by leakage mode (synthetic data)")
    planned = [r for r in runs if r.scores.get("by_mode")]
    if not planned:
        res.reason = "no run has a leakage plan (only synthetic users come with one)"
        return res
    measured = [r for r in planned if r.measured]
    res.notes += _not_measured_notes(runs, [r for r in planned if not r.measured])
    if not measured:
        res.reason = "every run with a leakage plan was not measured"
        return res
    keys = _attrs(measured)
    leads = [lead for rs in _by_group(measured).values() if (lead := lead_run(rs))][:4]
    for lead in leads:
        if lead.topics and "text" in lead.channels:
            res.notes.append(f"{lead.label}: topics were shown, so \"not revealed by the plan\" "
                             "includes what the topic titles give away (add a posts-only run).")
    series_runs = _distinct(measured)
    fig = _figure(_width(len(keys), 3), 3.4 * (len(leads) + 1))
    for i, r in enumerate(leads):
        ax = fig.add_subplot(len(leads) + 1, 1, i + 1)
        groups = _leak_groups(r.scores, channels=False)
        data = [(f"{title} (n={g['n'] if g else 0})", _leak_row(g, keys), MODE_COLORS[gi])
                for gi, (title, g) in enumerate(groups)]
        counts = [_leak_row(g, keys, "n") for _, g in groups]
        _bars(ax, _codes(keys), data, counts=counts, ylim=(0.0, 118.0))
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(f"{r.label}: accuracy by leakage mode (number over a bar: its n)",
                     fontsize=10)
        _legend(ax)
    ax = fig.add_subplot(len(leads) + 1, 1, len(leads) + 1)
    first = _leak_groups(series_runs[0][1][0].scores)
    groups = [f"{title}\n(n={g['n'] if g else 0})" for title, g in first]
    data = [(_wrap(label), [(g or {}).get("top1") for _, g in _leak_groups(members[0].scores)],
             _color(runs.index(members[0]))) for label, members in series_runs]
    _bars(ax, groups, data, ylabel="mean top-1 accuracy (%)")
    ax.set_title("Every run: mean accuracy by leakage mode and planned channel", fontsize=10)
    _legend(ax)
    res.figure = fig
    return res


def fig_parse_failures(runs: list[Run]) -> FigureResult:
    res = FigureResult("parse_failures", "Parse failures")
    measured = [r for r in runs if r.measured]
    if not any((r.scores.get("parse_failure_rate") or 0) > 0 for r in measured):
        res.reason = "no answer of any run failed to parse (0.0% everywhere, see the table)"
        return res
    keys = _attrs(measured)
    top = max(5.0, 110 * max((v or 0) for r in measured for v in (
        [r.scores["attributes"].get(k, {}).get("parse_failure_rate") for k in keys]
        + [r.scores.get("parse_failure_rate")])))
    fig = _figure(_width(len(keys), len(measured)), 3.4)
    ax = fig.add_subplot()
    data = [(_wrap(r.label), [r.scores["attributes"].get(k, {}).get("parse_failure_rate")
                              for k in keys] + [r.scores.get("parse_failure_rate")],
             _color(runs.index(r))) for r in measured]
    _bars(ax, _codes(keys), data, ylabel="%", ylim=(0.0, min(100.0, top)))
    ax.set_title("Parse-failure rate: answers that could not be read into a guess", fontsize=10)
    _legend(ax)
    res.figure = fig
    return res


def fig_cost(runs: list[Run]) -> FigureResult:
    import numpy as np
    res = FigureResult("cost", "Cost")
    costs = [_cost(r) for r in runs]
    panels = [(key, title) for key, title in (
        ("calls_per_user", "model calls per user"),
        ("tokens_per_user", "tokens per user (prompt + completion)"),
        ("model_s_per_user", "model seconds per user"))
        if any(c[key] for c in costs)]
    for key, title in (("calls_per_user", "model calls per user"),
                       ("tokens_per_user", "tokens per user"),
                       ("model_s_per_user", "model seconds per user")):
        if not any(c[key] for c in costs):
            why = (" (no model ran, or every answer came from the cache)"
                   if key == "model_s_per_user" else "")
            res.notes.append(f"{title}: 0 in every run{why}, so not drawn.")
    if not panels:
        res.reason = "every run records 0 calls, tokens and model seconds"
        return res
    fig = _figure(min(10.0, max(3.6 * len(panels), (0.6 * len(runs) + 2.2) * len(panels))), 3.0)
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        vals = [c[key] for c in costs]
        top = 1.18 * max(vals)
        for j, v in enumerate(vals):
            if v == 0:
                ax.bar(j, ZERO_STUB * top, 0.8, color="white", edgecolor=_color(j), hatch="////")
                ax.text(j, ZERO_STUB * top, "0", ha="center", va="bottom", fontsize=7)
            else:
                ax.bar(j, v, 0.8, color=_color(j))
                ax.text(j, v, f"{v:,.1f}" if v < 100 else f"{v:,.0f}", ha="center", va="bottom",
                        fontsize=7)
        ax.set_ylim(0, top)
        ax.set_xticks(np.arange(len(runs)), [str(j + 1) for j in range(len(runs))])
        ax.set_xlabel("run (numbered as in the tables)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    res.figure = fig
    return res


def _paper_runs(runs: list[Run]) -> list[Run]:
    key = PAPER_REFERENCE["attribute"]
    return [r for r in runs if r.is_v1 and r.measured and key in r.scores.get("attributes", {})]


def fig_paper(runs: list[Run]) -> FigureResult:
    """Religion accuracy of the v1 runs beside the figures published in the PRISM paper."""
    res = FigureResult("paper", "Published numbers (taken from the paper)")
    key = PAPER_REFERENCE["attribute"]
    ours = _paper_runs(runs)
    if not ours:
        res.reason = ("the paper's numbers are from PRISM v1 and no run here is on v1, so they "
                      "are not shown beside these runs")
        return res
    lo, hi = PAPER_REFERENCE["models_text_image"]
    rows = [(_wrap(f"this report, run {runs.index(r) + 1}: {r.label}", 48),
             100 * (r.scores["attributes"][key].get("top1") or 0), "C0") for r in ours]
    rows += [("paper: human annotators, average", PAPER_REFERENCE["human_average"], "0.55"),
             ("paper: Gemini, human-comparison study", PAPER_REFERENCE["gemini_human_comparison"],
              "0.35")]
    fig = _figure(9.0, 0.5 * (len(rows) + 1) + 1.8)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [max(v, 0.6) for _, v, _ in rows], color=[c for _, _, c in rows])
    ax.axvspan(lo, hi, color="orange", alpha=0.25,
               label=f"paper: M-LLMs with text + image, {lo:.2f}–{hi:.2f}")
    for yy, (_, v, _) in zip(y, rows):
        ax.text(v + 1, yy, f"{v:.1f}", va="center", fontsize=8)
    ax.set_yticks(y, [name for name, _, _ in rows], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("religion top-1 accuracy (%)")
    ax.set_title("Religion: runs on PRISM v1 beside the paper's numbers", fontsize=10)
    fig.legend(handles=ax.get_legend_handles_labels()[0], fontsize=8, loc="outside lower center",
               frameon=False)
    res.figure = fig
    return res


def report_figures(runs: list[Run]) -> list[FigureResult]:
    """Every figure of the report, drawn or left out with its reason, in report order."""
    return [fig_accuracy(runs), fig_heatmap(runs), fig_channels(runs), fig_leakage(runs),
            fig_parse_failures(runs), fig_cost(runs), fig_paper(runs)]


# ------------------------------------------------------------------ tables

Table = tuple[list[str], list[list[str]]]
NM = "not measured"


def _table_runs(runs: list[Run]) -> tuple[str, Table]:
    """(caption, table) of the runs; model and data columns only when they differ."""
    shared = len({r.model_words for r in runs}) == 1 and len({r.data_words for r in runs}) == 1
    head = ["#", "run"] + ([] if shared else ["model", "data"]) + [
        "inputs", "users", "complete / partial / failed", "images", "judge", "not measured"]
    rows = [[str(i + 1), r.label] + ([] if shared else [r.model_words, r.data_words]) + [
        r.inputs, str(r.n_users), r.status_counts, r.images,
        str(r.config.get("judge") or "none"),
        "; ".join(f"{c}: {w}" for c, w in r.not_measured.items()) or "–"]
        for i, r in enumerate(runs)]
    caption = (f"Every run: {runs[0].model_words} on {runs[0].data_words}." if shared else "")
    return caption, (head, rows)


def _table_scores(runs: list[Run]) -> Table:
    head = (["attribute"] + [f"{i + 1}: top-1" for i in range(len(runs))]
            + ["chance, always answering"])
    c0 = chance_scores(runs[0].records) or {"attributes": {}}
    rows = []

    def cells(fn):
        return [fn(r) if r.measured else NM for r in runs]

    for k in _attrs(runs):
        rows.append([attribute_name(k)]
                    + cells(lambda r, k=k: _pct(r.scores["attributes"].get(k, {}).get("top1")))
                    + [_pct(c0["attributes"].get(k, {}).get("top1"))])
        for sub in SUBFIELDS.get(k, ()):
            rows.append([f"· {attribute_name(sub)}"] + cells(lambda r, k=k, sub=sub: _pct(
                ((r.scores["attributes"].get(k, {}).get("subscores") or {}).get(sub) or {})
                .get("top1")))
                + [_pct((((c0["attributes"].get(k) or {}).get("subscores") or {}).get(sub)
                         or {}).get("top1"))])
    rows.append(["**mean top-1**"] + cells(lambda r: _pct(numbers(r)["all"]["top1"]))
                + [_pct(c0.get("top1"))])
    rows.append(["chance, answering as often"]
                + cells(lambda r: _pct(numbers(r)["all"]["chance_matched"])) + [""])
    rows.append(["**accuracy when answered**"]
                + cells(lambda r: _pct(numbers(r)["all"]["answered"])) + [""])
    rows.append(["chance on the same answers"]
                + cells(lambda r: _pct(numbers(r)["all"]["answered_chance"])) + [""])
    rows.append(["coverage"] + cells(lambda r: _pct(r.scores.get("coverage"))) + ["100.0"])
    rows.append(["mean top-3"] + cells(lambda r: _pct(r.scores.get("top3"))) + [""])
    rows.append(["parse failures"] + cells(lambda r: _pct(r.scores.get("parse_failure_rate")))
                + [""])
    rows.append(["guesses left open by the rules"]
                + cells(lambda r: _pct(r.scores.get("open_share"))) + [""])
    rows.append(["less precise (top-1)"] + cells(lambda r: _pct(r.scores.get("less_precise")))
                + [""])
    return head, rows


def _table_detail(run: Run) -> Table:
    head = ["attribute", "n", "answered", "top-1", "chance, same coverage", "when answered",
            "chance, same answers", "top-3", "above chance", "left open"]
    num = numbers(run)
    rows = []
    for k, p in num["attributes"].items():
        rows.append([attribute_name(k), str(p["n"]), str(p["n_answered"]), _pct(p["top1"]),
                     _pct(p["chance_matched"]), _pct(p["top1_answered"]),
                     _pct(p["chance_answered"]), _pct(p["top3"]), "yes" if p["above"] else "no",
                     _pct((run.scores["attributes"].get(k) or {}).get("open_share"))])
    a = num["all"]
    rows.append(["**all attributes**", str(a["n"]), str(a["n_answered"]), _pct(a["top1"]),
                 _pct(a["chance_matched"]), _pct(a["answered"]), _pct(a["answered_chance"]),
                 _pct(a["top3"]), f"{a['n_above']} of {a['n_attributes']}",
                 _pct(run.scores.get("open_share"))])
    return head, rows


def _table_leakage(runs: list[Run]) -> Table | None:
    head = ["#", "run"] + [title for title, _ in _leak_groups({})]
    rows = []
    for i, r in enumerate(runs):
        if not r.scores.get("by_mode"):
            continue
        if not r.measured:
            rows.append([str(i + 1), r.label] + [NM] * len(head[2:]))
            continue
        rows.append([str(i + 1), r.label] + ["–" if not g else f"{_pct(g['top1'])} (n={g['n']})"
                                             for _, g in _leak_groups(r.scores)])
    return (head, rows) if rows else None


def _table_cost(runs: list[Run]) -> Table:
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
    figure: FigureResult | None = None
    tables: list[tuple[str, Table]] = field(default_factory=list)   # (caption, table)
    items: list[str] = field(default_factory=list)
    lead: bool = False   # the opening summary: shown larger


SCORING_NOTES = [
    "Each attribute is scored by the explicit rules of prism's docs/scoring.md: top-1 uses the "
    "first guess, top-3 the best of the first three, and a guess scores 1, 0.5 (\"less "
    "precise\") or 0. Unanswered attributes score 0 and lower the coverage; parse failures are "
    "counted, not hidden; guesses the rules cannot decide (\"left open\") score 0 unless an "
    "LLM judge decides them, and their share is shown.",
    "Chance: every user is answered with the true attributes of another user of the same "
    "dataset, i.e. what knowing the population alone gives away. A chance guesser that always "
    "answers is not comparable with an attacker that answers a third of the attributes, so the "
    "report sets each top-1 beside chance answering the same users (coverage-matched: unanswered "
    "users score 0 for both), and the accuracy among answered attributes beside chance on the "
    "same user-attributes. \"Above chance\" means more than two standard errors above the "
    "coverage-matched chance, paired over users.",
]


def _paper_text(runs: list[Run]) -> list[str]:
    lo, hi = PAPER_REFERENCE["models_text_image"]
    key = PAPER_REFERENCE["attribute"]
    text = [f"From {PAPER_REFERENCE['source']}: religion accuracy of human annotators averages "
            f"{PAPER_REFERENCE['human_average']:.2f}%, Gemini reaches "
            f"{PAPER_REFERENCE['gemini_human_comparison']:.2f}% in the human-comparison study, "
            f"and the M-LLMs evaluated with text and images reach {lo:.2f}–{hi:.2f}%.",
            "What differs, so this is for orientation, not as a like-for-like comparison: the "
            "paper's numbers were measured on PRISM v1 with its own scoring rules, which it does "
            "not publish (this report's rules are in prism_eval/scoring.py); its attackers are "
            "M-LLMs given text and images, and only runs on v1 are shown beside them."]
    said: dict[str, list[int]] = {}  # one sentence for keyword-baseline runs that score alike
    for r in _paper_runs(runs):
        v = 100 * (r.scores["attributes"][key].get("top1") or 0)
        who = r.model_words
        if r.backend("text") == "lexicon" or r.model == "lexicon":
            msg = f"a keyword baseline, not an M-LLM: {{its}} religion top-1 of {v:.1f}%"
            if lo <= v <= hi:
                msg += (f" falls inside the M-LLM band ({lo:.2f}–{hi:.2f}%) because the posts and "
                        "topics name the religion outright often enough for keyword matching, "
                        "which sees words and nothing else — a measure of how much of this "
                        "attribute leaks verbatim, not a sign that a keyword baseline rivals an "
                        "M-LLM.")
            else:
                msg += " measures how much of this attribute leaks verbatim."
            if msg not in said:
                text.append(msg)
            said.setdefault(msg, []).append(runs.index(r) + 1)
        elif "image" in r.not_measured:
            text.append(f"Run {runs.index(r) + 1} ({who}) had no image input "
                        f"({r.not_measured['image']}), unlike the paper's text + image runs.")
    for msg, numbers_ in said.items():
        one = len(numbers_) == 1
        head = (f"Run {numbers_[0]} is " if one else
                f"Runs {', '.join(map(str, numbers_[:-1]))} and {numbers_[-1]} are each ")
        text[text.index(msg)] = head + msg.replace("{its}", "its" if one else "their")
    return text


def _summary_section(runs: list[Run]) -> _Section:
    """Three sentences per model and dataset, then what the attacker and the data are."""
    groups = _by_group(runs)
    text = []
    for rs in groups.values():
        sentences = summary_sentences(rs)
        if len(groups) > 1:
            head, _, rest = sentences[0].partition(": ")
            sentences[0] = f"{head}, {rs[0].group}: {rest}"
        text += sentences
    setup = []
    for rs in groups.values():
        r = rs[0]
        reader = next((x.image_reader for x in rs if x.image_reader), None)
        setup.append(f"Attacker: {r.model_words}, model spec \"{r.model}\""
                     + (f", images read by {reader}" if reader else "")
                     + f". Data: {r.data_words}, {r.n_users} users.")
        setup.append("Runs: " + "; ".join(
            f"{_number(runs, x)}. {VARIANT_NAMES.get(x.variant, x.variant)} — {x.inputs}"
            for x in rs) + ".")
    return _Section("What this audit found", text, items=setup, lead=True)


def _sections(runs: list[Run], figures: list[FigureResult]) -> list[_Section]:
    figs = {f.name: f for f in figures}
    out = [_summary_section(runs)]
    out.append(_Section("Runs", ["Each run is one model (or mix of models per role), one set of "
                                 "inputs and one layout of the inference chain over one dataset. "
                                 "\"Not measured\" names a channel the run could not measure; it "
                                 "is never drawn as a 0% bar."],
                        tables=[_table_runs(runs)]))
    acc_text = ["Top panel: top-1 accuracy over all users; the black tick is a chance guesser "
                "that answers the same users (another user's true value). Middle: accuracy "
                "among the attributes the model answered; the tick is chance on those same "
                "user-attributes. Bottom: coverage. A hatched stub with \"0\" is a measured zero; "
                "\"–\" means nothing to count (e.g. never answered)."]
    acc_text += _identical_notes(runs)
    out.append(_Section("Accuracy per attribute", acc_text, figure=figs["accuracy"],
                        tables=[("Top-1 (%) of every run; the last column is chance that always "
                                 "answers (run 1's users).", _table_scores(runs))]))
    details = [(f"Run {'/'.join(str(_number(runs, m)) for m in members)}: {label}",
                _table_detail(members[0])) for label, members in _distinct(runs)]
    out.append(_Section(
        "Like for like: accuracy when answered, beside chance",
        ["n: users scored; answered: users the model gave a guess for. Top-1 counts unanswered "
         "as wrong and is set beside chance answering the same users; \"when answered\" is the "
         "accuracy among answered users, beside chance on those users. All in %."],
        tables=details))
    out.append(_Section("All runs at a glance", [], figure=figs["heatmap"]))
    out.append(_Section(
        "Which input leaks: topics, images, one prompt",
        ["Each bar is the change in top-1 (percentage points) when one input is added to the "
         "same model on the same users: the topics the users follow (their titles often name "
         "the attribute: hobbies, travel, occupation), the images, or one prompt instead of the "
         "three-agent chain."], figure=figs["channels"]))
    leak_text = ["Synthetic users come with a leakage plan: which post reveals which attribute, "
                 "explicitly (stated) or implicitly (to be inferred), in text or in the image. "
                 "The per-attribute panels use the posts-only run when there is one, so that "
                 "\"not revealed by the plan\" is what correlations between attributes give away, "
                 "not the topic titles."]
    out.append(_Section("Accuracy by leakage mode (synthetic data)", leak_text,
                        figure=figs["leakage"],
                        tables=[("", t)] if (t := _table_leakage(runs)) else []))
    out.append(_Section("Parse failures", ["Answers that could not be read into a guess."],
                        figure=figs["parse_failures"]))
    out.append(_Section("Cost",
                        ["Model calls and tokens of the recorded runs (cached calls included); "
                         "model seconds are summed latencies, wall seconds the last session's "
                         "elapsed time."],
                        figure=figs["cost"], tables=[("", _table_cost(runs))]))
    out.append(_Section("Published numbers (taken from the paper)",
                        _paper_text(runs) if figs["paper"].figure is not None else [],
                        figure=figs["paper"]))
    # a section whose figure is left out and that has no table goes: its reason is listed below
    kept, not_shown = [], []
    for s in out:
        if s.figure is not None and s.figure.figure is None and not s.tables:
            not_shown.append(f"{s.figure.title}: {s.figure.reason}.")
            not_shown += [f"{s.figure.title}: {n}" for n in s.figure.notes]
        else:
            kept.append(s)
    kept.append(_Section("How the scores are computed", list(SCORING_NOTES)))
    failures = _failures(runs)
    if failures:
        kept.append(_Section("Failed users", ["Users without a prediction (they count as "
                                              "unanswered); rerun with --retry-failed."],
                             items=failures))
    if not_shown:
        kept.append(_Section("Figures not shown, and why", [], items=not_shown))
    return kept


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f4f4f4}
td.sub{padding-left:1.6em}.lead{font-size:1.05em;background:#f6f8fa;padding:.2em 1em;
border-left:4px solid #4a7;margin:.6em 0}.lead p{margin:.6em 0}.omitted{color:#555;font-style:italic}
p.cap{font-size:.92em;color:#444;margin:1.2em 0 .2em}
img{max-width:100%;height:auto}
"""


def _html_table(caption: str, table: Table) -> str:
    head, rows = table
    cap = f"<p class=\"cap\">{html.escape(caption)}</p>" if caption else ""
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows)
    return f"{cap}<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _html_cell(cell: str) -> str:
    if cell.startswith("**") and cell.endswith("**"):
        return f"<td><b>{html.escape(cell[2:-2])}</b></td>"
    if cell.startswith("· "):
        return f"<td class=\"sub\">{html.escape(cell)}</td>"
    return f"<td>{html.escape(cell)}</td>"


def _md_cell(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def _md_table(caption: str, table: Table) -> str:
    head, rows = table
    lines = ([f"_{caption}_", ""] if caption else [])
    lines += ["| " + " | ".join(_md_cell(h) for h in head) + " |",
              "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _omitted(fig: FigureResult) -> str:
    return f"Figure not shown: {fig.reason}."


def _render_html(title: str, meta: str, sections: list[_Section], pngs: dict[str, bytes]) -> str:
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(meta)}</p>"]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.lead:
            parts.append("<div class=\"lead\">" + "".join(
                f"<p><b>{html.escape(h)}:</b> {html.escape(t)}</p>" if sep else f"<p>{html.escape(h)}</p>"
                for h, sep, t in (x.partition(": ") for x in s.text)) + "</div>")
        else:
            parts += [f"<p>{html.escape(t)}</p>" for t in s.text]
        f = s.figure
        if f is not None and f.figure is not None:
            data = base64.b64encode(pngs[f.name]).decode("ascii")
            parts.append(f"<figure><img alt=\"{html.escape(f.title)}\" "
                         f"src=\"data:image/png;base64,{data}\"></figure>")
        elif f is not None:
            parts.append(f"<p class=\"omitted\">{html.escape(_omitted(f))}</p>")
        if f is not None and f.notes:
            parts.append("<ul class=\"omitted\">" + "".join(
                f"<li>{html.escape(n)}</li>" for n in f.notes) + "</ul>")
        for caption, table in s.tables:
            parts.append(_html_table(caption, table))
        if s.items:
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in s.items) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _render_md(title: str, meta: str, sections: list[_Section]) -> str:
    parts = [f"# {title}", "", f"_{meta}_", ""]
    for s in sections:
        parts += [f"## {s.title}", ""]
        for t in s.text:
            h, sep, rest = t.partition(": ")
            parts += [(f"**{h}:** {rest}" if s.lead and sep else t), ""]
        f = s.figure
        if f is not None and f.figure is not None:
            parts += [f"![{f.title}](figures/{f.name}.png)", ""]
        elif f is not None:
            parts += [f"_{_omitted(f)}_", ""]
        if f is not None and f.notes:
            parts += [f"- {n}" for n in f.notes] + [""]
        for caption, table in s.tables:
            parts += [_md_table(caption, table), ""]
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
    figures = report_figures(runs)
    sections = _sections(runs, figures)
    # defences (prism audit --defence): before/after section when the folder has defence.json
    from .defences.report_section import defence_section
    if (d := defence_section(out)) is not None:
        fig = FigureResult(d["figure_name"], d["figure_title"], d["figure"], d["reason"])
        figures.append(fig)
        sections.insert(1, _Section(d["title"], d["text"], figure=fig, tables=d["tables"]))
    pngs = {f.name: _png(f.figure) for f in figures if f.figure is not None}
    from importlib import metadata
    try:
        version = metadata.version("prism-privacy")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "source"
    title = title or "PRISM privacy audit"
    meta = (f"{len(runs)} run(s) · prism {version} · made {time.strftime('%Y-%m-%d %H:%M')} · "
            "accuracy = how often the model inferred a private attribute right (higher = more leakage)")
    for stale in (out / "figures").glob("*.png"):
        if stale.stem not in pngs and stale.stem in {f.name for f in figures} | {"variants", "coverage"}:
            stale.unlink()
    for name, png in pngs.items():
        (out / "figures" / f"{name}.png").write_bytes(png)
    files = {"html": out / "report.html", "markdown": out / "report.md"}
    files["html"].write_text(_render_html(title, meta, sections, pngs), encoding="utf-8")
    files["markdown"].write_text(_render_md(title, meta, sections), encoding="utf-8")
    return files
