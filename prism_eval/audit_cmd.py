"""`prism audit`: the main job — a model through every variant of the chain, scored and reported.

With no arguments it runs offline on the embedded default: a synthetic benchmark generated on the
spot (template text, placeholder images), the ``lexicon`` attacker (explicit cues, no model),
runs chain / text-only / posts-only (text-only without topics) / image-only /
single, then ``report.html`` and ``report.md``. Any model and the
published release work the same way::

    prism audit
    prism audit --dataset v1 --data-dir prism-v1 --model hf:Qwen/Qwen2.5-VL-7B-Instruct
    prism audit --dataset v1 --model gpt-4o --variants chain,text-only,image-only,single

Each variant is a results folder of its own (``OUT/<variant>``; see prism_eval/runner.py); they
share one response cache, so prompts common to several variants are paid once, and a killed
audit resumes where it stopped.
"""
from __future__ import annotations

import argparse

from .api import DEFAULT_RUNS, RUNS, RunOptions, audit
from .evaluate_cmd import DATASET_HELP, add_run_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", help=DATASET_HELP + " (default: synthetic)")
    add_run_arguments(p)
    p.add_argument("--variants", default=",".join(DEFAULT_RUNS),
                   help=f"comma-separated runs, from {', '.join(RUNS)}; posts-only is text-only "
                        f"without topics (default: {','.join(DEFAULT_RUNS)})")
    p.add_argument("--out", help="output folder (default: prism-audit/<dataset>_<model>)")
    p.add_argument("--title", help="report title")
    p.add_argument("--defence", "--defense", action="append", default=[], metavar="SPEC",
                   help="measure a defence: the runs before and after it on the same users, "
                        "model and cache, per attribute and channel, with its utility cost "
                        "(repeatable; see prism defend --help; default variants then "
                        "chain,posts-only,image-only)")


def run(args) -> int:
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.defence:
        from .defences.compare import defence_audit
        print(defence_audit(RunOptions.from_args(args, variants=variants), args.defence))
        return 0
    print(_imageless_not_measured(audit(RunOptions.from_args(args, variants=variants))))
    return 0


def _imageless_not_measured(result):
    """The printed table says "not measured" for the image channel of runs whose data held no
    image (e.g. v1 without its images folder), as the report does, never a 0.0% row."""
    for r in result.runs:
        counts = (((r.summary or {}).get("config") or {}).get("dataset") or {}).get("images") or {}
        if r.summary and "found" in counts and not counts["found"] and r.variant != "text-only":
            why = f"the data has no images ({counts['found']} of {counts.get('referenced', 0)} found)"
            r.summary.setdefault("not_measured", {}).setdefault("image", why)
    return result
