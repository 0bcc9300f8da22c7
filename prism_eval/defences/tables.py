"""defence.json and its tables: top-1 per attribute and channel before and after each defence,
and the utility cost (pure functions of run summaries; :mod:`.compare` runs the audit,
:mod:`.report_section` draws it).

Channels are runs: **text** is the posts' own text (``posts-only``; ``text-only`` when
posts-only is not run), **image** is ``image-only``, **all** is ``chain`` (``single`` when chain
is not run). A channel a run could not measure is "not measured", never 0 %.
"""
from __future__ import annotations

import time

from prism_core.attributes import ATTRIBUTE_KEYS

from .base import slug

__all__ = ["CHANNELS", "CHANNEL_NAMES", "RESULT", "comparison", "tables", "markdown_tables",
           "utility_row", "UTILITY_HEAD"]

RESULT = "defence.json"

#: channel -> the runs that measure it, first found wins
CHANNELS = {"text": ("posts-only", "text-only"), "image": ("image-only",),
            "all": ("chain", "single")}
CHANNEL_NAMES = {"text": "text (posts)", "image": "image", "all": "all inputs"}


def _channel_scores(summary: dict) -> dict:
    sc = summary["scores"]
    out = {"top1": sc.get("top1"),
           "attributes": {k: a.get("top1") for k, a in (sc.get("attributes") or {}).items()}}
    modes = sc.get("by_mode") or {}
    if modes:
        out["by_mode"] = {m: v.get("top1") for m, v in modes.items() if isinstance(v, dict)}
    return out


def _channels(runs: dict[str, dict], before: bool = True) -> dict:
    """channel -> {"run", "top1", "attributes", "by_mode"} or {"run", "not_measured": why}.

    An image run that read no image measured nothing when it is the *before* run (the data has
    no images); after a defence it measured what is left (e.g. nothing, once images are removed).
    """
    out = {}
    for channel, names in CHANNELS.items():
        name = next((n for n in names if n in runs), None)
        if name is None:
            continue
        summary = runs[name]
        missing = dict(summary.get("not_measured") or {})
        calls = summary.get("calls") or {}
        if before and channel == "image" and not any(calls.get(k)
                                                      for k in ("ok", "failed", "unparsed")):
            found = ((summary.get("config") or {}).get("dataset") or {}).get("images") or {}
            missing.setdefault("image", "no image was read: the data has no images"
                               + (f" ({found.get('found', 0)} of {found.get('referenced')} "
                                  "referenced images found)" if found.get("referenced") else ""))
        if channel in missing or (channel == "image" and "image" in missing):
            out[channel] = {"run": name, "not_measured": missing.get(channel) or missing["image"]}
        else:
            out[channel] = {"run": name, **_channel_scores(summary)}
    return out


def comparison(before: dict[str, dict], after: dict[str, dict[str, dict]],
               provenance: dict[str, dict], meta: dict) -> dict:
    """defence.json: per defence, per channel, top-1 before and after (overall, per attribute,
    by leakage mode), and the defence's utility cost; ``before``/``after``: run name -> summary."""
    base = _channels(before)
    defences = []
    for spec, runs in after.items():
        now = _channels(runs, before=False)
        channels = {}
        for ch, b in base.items():
            a = now.get(ch)
            if a is None:
                continue
            if "not_measured" in b or "not_measured" in a:
                channels[ch] = {"run": b["run"], "not_measured": b.get("not_measured")
                                or a.get("not_measured")}
                continue
            channels[ch] = {"run": b["run"], "before": b["top1"], "after": a["top1"],
                            "attributes": {k: {"before": b["attributes"].get(k),
                                               "after": a["attributes"].get(k)}
                                           for k in ATTRIBUTE_KEYS if k in b["attributes"]}}
            if b.get("by_mode") and a.get("by_mode"):
                channels[ch]["by_mode"] = {m: {"before": v, "after": a["by_mode"].get(m)}
                                           for m, v in b["by_mode"].items()}
        defences.append({"spec": spec, "slug": slug(spec), "channels": channels,
                         "utility": provenance[spec]["utility"],
                         "steps": provenance[spec]["steps"]})
    return {"format": 1, **meta, "channels": {c: CHANNEL_NAMES[c] for c in base},
            "defences": defences, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "–"
    b, a = entry.get("before"), entry.get("after")
    if b is None or a is None:
        return "–"
    delta = round(100 * (a - b), 1) + 0.0  # no "-0.0"
    return f"{_pct(b)} → {_pct(a)} ({delta:+.1f})"


def utility_row(u: dict) -> list[str]:
    t, i = u["text"], u["image"]
    return [("–" if t["words_changed"] is None else f"{100 * t['words_changed']:.1f}"),
            ("–" if t["chrf"] is None else f"{t['chrf']:.1f}"),
            ("–" if i["removed"] is None else f"{100 * i['removed']:.1f}"),
            ("–" if i["hidden_area"] is None else f"{100 * i['hidden_area']:.1f}"),
            ("–" if i["reencoded"] is None else f"{100 * i['reencoded']:.1f}")]


UTILITY_HEAD = ["defence", "words changed (%)", "chrF (0–100)", "images removed (%)",
                "image area hidden (%)", "images re-encoded (%)"]


def tables(comp: dict) -> list[tuple[str, tuple[list[str], list[list[str]]]]]:
    """(caption, (head, rows)) per defence, then the utility table."""
    out = []
    for d in comp["defences"]:
        chans = [c for c in comp["channels"] if c in d["channels"]]
        head = ["attribute"] + [f"{CHANNEL_NAMES[c]}: before → after (Δ pp)" for c in chans]
        rows = []
        for key in ATTRIBUTE_KEYS:
            if not any(key in d["channels"][c].get("attributes", {}) for c in chans):
                continue
            rows.append([key] + [("not measured" if "not_measured" in d["channels"][c]
                                  else _cell(d["channels"][c]["attributes"].get(key)))
                                 for c in chans])
        rows.append(["**MEAN**"] + [("not measured" if "not_measured" in d["channels"][c]
                                     else _cell(d["channels"][c])) for c in chans])
        for mode in ("explicit", "implicit"):
            if any(mode in (d["channels"][c].get("by_mode") or {}) for c in chans):
                rows.append([f"· revealed {mode}ly (plan)"] + [
                    _cell((d["channels"][c].get("by_mode") or {}).get(mode)) for c in chans])
        notes = "; ".join(f"{CHANNEL_NAMES[c]}: not measured ({d['channels'][c]['not_measured']})"
                          for c in chans if "not_measured" in d["channels"][c])
        out.append((f"{d['spec']}: top-1 (%) before → after, same model, users and cache"
                    + (f". {notes}" if notes else ""), (head, rows)))
    out.append(("Utility cost: what each defence changed in the posts",
                (UTILITY_HEAD, [[d["spec"]] + utility_row(d["utility"]) for d in comp["defences"]])))
    return out


def markdown_tables(comp: dict) -> str:
    parts = [f"Defences against {comp.get('model', '?')} on {comp.get('dataset', '?')} "
             f"({comp.get('users', '?')} users)", ""]
    for caption, (head, rows) in tables(comp):
        parts += [f"_{caption}_", "", "| " + " | ".join(head) + " |",
                  "|" + "|".join("---" for _ in head) + "|"]
        parts += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        parts.append("")
    return "\n".join(parts)


