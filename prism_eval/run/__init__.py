"""Running a chain over a dataset, cut along its seams (see prism_eval/runner.py for the files):

- :mod:`.spec` — :class:`RunSpec`, the options of a run;
- :mod:`.roles` — which backend plays which role;
- :mod:`.sharding` — ``accelerate launch`` processes and the users each one runs;
- :mod:`.store` — the run folder: files, lock, run.json, part files, reading results;
- :mod:`.loop` — :func:`evaluate`, the user loop;
- :mod:`.summary` — summary.json and the CLI table;
- :mod:`.rescore` — scoring a finished run again.
"""
from .loop import evaluate
from .rescore import rescore
from .roles import build_backends, resolve_roles
from .spec import RunSpec
from .store import CACHE, PARTS, RESULTS, RUN, SUMMARY, read_results
from .summary import format_table, summarise, write_summary

__all__ = ["evaluate", "rescore", "resolve_roles", "build_backends", "read_results",
           "write_summary", "summarise", "format_table", "RunSpec", "RESULTS", "SUMMARY", "RUN",
           "CACHE", "PARTS"]
