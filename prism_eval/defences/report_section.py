"""The report's defence section: before/after top-1 per channel and attribute, and the cost.

:func:`defence_section` reads ``defence.json`` (written by ``prism audit --defence``, see
:mod:`.compare`) from the report's folder and returns the section's parts: title, text, the
before/after figure (one panel per channel; per attribute a grey "before" bar and one bar per
defence) and the tables of :func:`.tables.tables`. ``prism_eval/report.py`` adds it after the
opening summary when the file is there.
"""
from __future__ import annotations

import json
from pathlib import Path

from prism_core.attributes import ATTRIBUTES, ATTRIBUTE_KEYS

from .tables import CHANNEL_NAMES, RESULT, tables

__all__ = ["defence_section", "defence_figure"]

TITLE = "Defences: leakage before and after, and what they cost"
ZERO_STUB = 1.5  # height (top-1 %) of the stub that stands for a measured zero


def defence_figure(comp: dict):
    """A matplotlib Figure, or None when no channel was measured before and after."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    chans = [c for c in comp["channels"]
             if any("before" in d["channels"].get(c, {}) for d in comp["defences"])]
    if not chans:
        return None
    keys = [k for k in ATTRIBUTE_KEYS
            if any(k in d["channels"].get(c, {}).get("attributes", {})
                   for d in comp["defences"] for c in chans)]
    labels = [ATTRIBUTES[k].code for k in keys] + ["MEAN"]
    n = len(comp["defences"]) + 1
    fig = Figure(figsize=(min(14.0, max(9.0, 0.22 * n * len(labels) + 2)), 2.9 * len(chans) + 0.6),
                 dpi=110, layout="constrained")
    axes = fig.subplots(len(chans), 1, squeeze=False)[:, 0]
    width = 0.8 / n
    for ax, ch in zip(axes, chans):
        first = next(d for d in comp["defences"] if "before" in d["channels"].get(ch, {}))
        series = [("before", [first["channels"][ch]["attributes"].get(k, {}).get("before")
                              for k in keys] + [first["channels"][ch]["before"]], "0.6")]
        for i, d in enumerate(comp["defences"]):
            c = d["channels"].get(ch, {})
            if "after" not in c:
                continue
            series.append((d["spec"], [c["attributes"].get(k, {}).get("after") for k in keys]
                           + [c["after"]], colormaps["tab10"](i % 10)))
        for j, (name, values, color) in enumerate(series):
            xs = [x + (j - (len(series) - 1) / 2) * width for x in range(len(labels))]
            heights = [100 * v if v else 0.0 for v in values]
            ax.bar(xs, heights, width * 0.95, label=name, color=color, edgecolor="0.3",
                   linewidth=0.3)
            # a measured zero is a short hatched stub (as in the rest of the report), so that
            # "leaked nothing after the defence" is not mistaken for a missing bar
            zeros = [x for x, v in zip(xs, values) if v == 0]
            if zeros:
                ax.bar(zeros, [ZERO_STUB] * len(zeros), width * 0.95, color="white",
                       edgecolor=color, hatch="////", linewidth=0.6)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_ylim(0, 100)
        ax.set_ylabel("top-1 (%)")
        ax.set_title(f"{CHANNEL_NAMES[ch]} ({first['channels'][ch]['run']} run)", fontsize=10,
                     loc="left")
        ax.grid(axis="y", alpha=0.3)
    axes[-1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(4, n),
                    fontsize=8, frameon=False)
    return fig


def defence_section(folder: str | Path) -> dict | None:
    """The section's parts from ``folder/defence.json`` (None without it): title, text,
    figure (a matplotlib Figure or None), figure_name, figure_title, reason (why no figure)
    and tables [(caption, (head, rows))]."""
    path = Path(folder) / RESULT
    if not path.is_file():
        return None
    comp = json.loads(path.read_text("utf-8"))
    fig = defence_figure(comp)
    text = [f"The same model ({comp.get('model')}), options, users ({comp.get('users')}) and "
            "response cache before and after each defence; only the posts changed. Text (posts) "
            "is the run without the topics a user follows (defences act on posts, not topics), "
            "image the image-only run, all inputs the chain. Cells: top-1 before → after, and "
            "the change in percentage points. Utility: the share of words changed (word-level "
            "edit distance) and chrF (sacreBLEU, 100 = unchanged) over posts with text; images "
            "removed, the mean share of image area blurred or pixelated (a removed image counts "
            "as fully hidden), images re-encoded."]
    return {"title": TITLE, "text": text, "figure": fig, "figure_name": "defences",
            "figure_title": "Top-1 before and after each defence",
            "reason": None if fig is not None else "no channel was measured before and after",
            "tables": tables(comp)}
