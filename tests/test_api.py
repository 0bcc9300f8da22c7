"""The Python API of the main job is what the command line calls: both write the same bytes."""
from __future__ import annotations

import pytest

from prism_eval import audit, evaluate
from prism_eval.cli import main


@pytest.mark.slow
def test_default_audit_from_the_api_and_the_cli_writes_identical_results(tmp_path):
    assert main(["audit", "--n-users", "12", "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    result = audit(n_users=12, out=tmp_path / "api", progress=False)
    assert [r.name for r in result.runs] == ["chain", "text-only", "image-only", "single",
                                             "posts-only"]
    assert result.report and (tmp_path / "api" / "report.html").is_file()
    for run in result.runs:
        cli = (tmp_path / "cli" / run.name / "results.jsonl").read_bytes()
        assert cli and cli == run.results.read_bytes(), run.name
    assert "top-1" in str(result.runs[0])


def test_v1_lexicon_run_from_the_api_and_the_cli_writes_identical_results(tmp_path, v1_dir):
    argv = ["evaluate", "--dataset", "v1", "--data-dir", str(v1_dir), "--model", "lexicon",
            "--limit", "25", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "cli")]) == 0
    run = evaluate(dataset="v1", data_dir=str(v1_dir), model="lexicon", limit=25,
                   out=tmp_path / "api", progress=False)
    assert run.summary["users"] == 25
    assert (tmp_path / "cli" / "results.jsonl").read_bytes() == run.results.read_bytes()
