"""The `prism` command. Each subcommand lives beside the code it drives and is imported lazily.

A command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; register it in
``COMMANDS`` below as name -> (module, one-line help).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import logging
import sys

from prism_core.errors import PrismError

COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("prism_eval.audit_cmd", "the main job: build a benchmark, run a model through every "
                                      "variant, score it and write a report (offline by default)"),
    "stats": ("prism_dataset.stats", "print statistics of a release folder or a built dataset"),
    "priors": ("prism_dataset.priors.check", "check a prior (violations, Cramér's V, distance from v1) or fit one"),
    "export": ("prism_dataset.export_cmd", "build a config (v1 or synthetic) and write it as a Hub-ready Parquet folder"),
    "push": ("prism_dataset.push_cmd", "upload an exported folder (or a freshly built config) to the Hugging Face Hub"),
    "evaluate": ("prism_eval.evaluate_cmd", "run a model's inference chain over a dataset and score it"),
    "score": ("prism_eval.score_cmd", "score the predictions of a results file again (e.g. with a judge)"),
    "report": ("prism_eval.report_cmd", "write an HTML + Markdown report with plots for one or several runs"),
    "defend": ("prism_eval.defend_cmd", "apply defences (redaction, NER anonymisation, LLM rewriting, "
                                        "image blurring, ...) to a split and write the defended split"),
    "warn": ("prism_eval.warn_cmd", "tell which attributes a draft post (and picture) reveals, or "
                                    "newly reveals, before it is posted"),
}


def _version() -> str:
    try:
        return importlib.metadata.version("prism-privacy")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        from prism_eval import __version__
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prism", description="Audit multi-modal LLMs for "
                                     "private-attribute inference (the PRISM benchmark).")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action="version", version=f"prism {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        # argument definitions are cheap to import; heavy work happens in run()
        importlib.import_module(module).add_arguments(p)
    return parser


class _Once(logging.Filter):
    """Lets each distinct warning through once per command: the runs of an audit build the same
    data and backends again and would repeat it (the report records what was missing)."""

    def __init__(self):
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


@contextlib.contextmanager
def _console_logging():
    """While a command runs: each warning once, written above the progress bars (not into
    them). Only the console handler of ``logging.basicConfig`` is touched (none under pytest)."""
    root = logging.getLogger()
    console = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if not console:
        yield
        return
    once = _Once()
    for h in console:
        h.addFilter(once)
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm
        with logging_redirect_tqdm():
            yield
    finally:
        for h in console:
            h.removeFilter(once)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        with _console_logging():
            return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a clear one-line error for expected failures
        if isinstance(exc, PrismError):
            print(f"prism {args.command}: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
