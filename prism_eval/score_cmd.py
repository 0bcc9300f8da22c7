"""`prism score`: score the predictions of an existing results file again (e.g. with the LLM judge)."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="results.jsonl of `prism evaluate`, or its output folder")
    p.add_argument("--judge", metavar="SPEC", help="LLM judge for open answers (occupation, "
                                                   "shopping habits), e.g. gpt-4o; none = rules only")


def run(args) -> int:
    from .runner import format_table, rescore

    # a judge's verdicts are cached beside the results, like the run's own calls
    print(format_table(rescore(args.results, judge=args.judge)))
    return 0
