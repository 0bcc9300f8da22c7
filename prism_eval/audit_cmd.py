"""`prism audit`: the main job — a model through every variant of the chain, scored and reported.

With no arguments it runs offline on the embedded default: a synthetic benchmark generated on the
spot (template text, placeholder images), the ``lexicon`` attacker (explicit cues, no model),
variants chain / text-only / image-only / single, then ``report.html`` and ``report.md``. Any model and the
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
from pathlib import Path

from .chain import VARIANTS
from .evaluate_cmd import DATASET_HELP, add_run_arguments

DEFAULT_VARIANTS = "chain,text-only,image-only,single"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", help=DATASET_HELP + " (default: synthetic)")
    add_run_arguments(p, model_default="lexicon", n_users_default=100)
    p.add_argument("--variants", default=DEFAULT_VARIANTS,
                   help=f"comma-separated variants to run, from {', '.join(VARIANTS)} "
                        f"(default: {DEFAULT_VARIANTS})")
    p.add_argument("--out", help="output folder (default: prism-audit/<dataset>_<model>)")
    p.add_argument("--title", help="report title")


def parse_variants(text: str) -> list[str]:
    from prism_core.errors import PrismError
    variants = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise PrismError(f"--variants {text!r}: choose from {', '.join(VARIANTS)}")
    return list(dict.fromkeys(variants))


def run(args) -> int:
    from .evaluate_cmd import default_out, run_variants
    from .report import build_report

    variants = parse_variants(args.variants)
    out = Path(args.out or default_out(args, "prism-audit", variant=False))
    done = run_variants(args, variants, lambda v: str(out / v), cache_path=out / "cache.sqlite")
    if any(summary is None for _, _, summary in done):
        return 0  # not the main process of an `accelerate launch`
    width = max(len(v) for v in variants)
    print(f"{'variant':<{width}}  {'top-1':>6}  {'top-3':>6}  {'coverage':>8}  users  failed")
    for variant, _, summary in done:
        sc = summary["scores"]
        missing = summary.get("not_measured") or {}
        if variant == "image-only" and "image" in missing:  # no image reader: no number at all
            print(f"{variant:<{width}}  {'not measured: ' + missing['image']}")
            continue
        print(f"{variant:<{width}}  {100 * (sc['top1'] or 0):5.1f}%  {100 * (sc['top3'] or 0):5.1f}%  "
              f"{100 * (sc['coverage'] or 0):7.1f}%  {summary['users']:>5}  {summary['failures']:>6}")
    for variant, _, summary in done:
        for channel, why in (summary.get("not_measured") or {}).items():
            if variant != "image-only":
                print(f"note: {variant}: {channel} channel not measured ({why})")
    title = args.title or f"PRISM privacy audit: {args.model or ', '.join(args.role)} on {args.dataset}"
    files = build_report([folder for _, folder, _ in done], str(out), title=title)
    print(f"report: {files['html']}  (Markdown: {files['markdown']}; results in {out}/<variant>/)")
    return 0
