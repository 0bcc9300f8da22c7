"""The command line as a new user meets it: --version, help for every option, missing extras
named with their install command before any work starts."""
from __future__ import annotations

import argparse
import importlib.util

import pytest

from prism_eval.cli import build_parser, main


def _options(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.dest != "help":
            yield path, action


def test_every_option_has_help():
    missing = [(" ".join(path), a.option_strings or a.dest)
               for path, a in _options(build_parser()) if not a.help]
    assert missing == []


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("prism 0.")


def test_evaluate_and_audit_share_one_default_model():
    parser = build_parser()
    assert parser.parse_args(["evaluate"]).model == parser.parse_args(["audit"]).model == "lexicon"


def test_variant_help_names_every_run():
    from prism_eval.api import RUNS
    text = next(a.help for path, a in _options(build_parser())
                if path == ("evaluate",) and "--variant" in a.option_strings)
    for name in RUNS:
        assert name in text


def test_missing_extra_is_named_before_any_work(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("torch", "transformers") else real(name, *a))
    built = []
    import prism_eval.api as api
    monkeypatch.setattr(api, "load_users", lambda *a, **k: built.append(a) or (_ for _ in ()).throw(
        AssertionError("the dataset was built before the check")))
    assert main(["evaluate", "--model", "hf:some/model", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torch, transformers" in err[0] and "prism-privacy[hf]" in err[0]
    assert built == []
