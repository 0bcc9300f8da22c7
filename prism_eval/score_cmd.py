"""`prism score`: score the predictions of an existing results file again (e.g. with the LLM judge)."""
from __future__ import annotations

import argparse
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="results.jsonl of `prism evaluate`, or its output folder")
    p.add_argument("--judge", metavar="SPEC", help="LLM judge for open answers (occupation, "
                                                   "shopping habits), e.g. gpt-4o; none = rules only")


def run(args) -> int:
    from .runner import format_table, rescore

    judge = None
    if args.judge:  # verdicts are cached beside the results, like the run's own calls
        from .judge import LLMJudge
        folder = args.results if os.path.isdir(args.results) else os.path.dirname(args.results) or "."
        judge = LLMJudge(args.judge, cache=os.path.join(folder, "cache.sqlite"))
    try:
        summary = rescore(args.results, judge=judge, judge_spec=args.judge)
    finally:
        if judge is not None:
            judge.close()
    print(format_table(summary))
    return 0
