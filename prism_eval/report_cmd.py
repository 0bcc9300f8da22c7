"""`prism report`: an HTML + Markdown report with plots for one or several results folders.

Examples::

    prism report prism-audit                       # every run of an audit
    prism report runs/gpt-4o runs/qwen --out report
    prism report GPT-4o=runs/a Qwen2.5-VL=runs/b   # name the runs
"""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="output folder of `prism evaluate` / `prism audit`, or a results.jsonl; "
                        "LABEL=PATH names a run")
    p.add_argument("--out", help="report folder (default: the input folder when there is one, "
                                 "else prism-report)")
    p.add_argument("--title", help="report title")


def run(args) -> int:
    from .report import build_report

    files = build_report(args.results, args.out, title=args.title)
    print(f"report: {files['html']}  (Markdown: {files['markdown']})")
    return 0
