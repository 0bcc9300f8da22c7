"""Data parallel: `accelerate launch` with 2 processes writes the same results as one process.

On a CPU-only machine ``accelerate launch --cpu`` starts a single process unless MPI is
installed (accelerate's simple launcher); ``--multi_gpu --num_processes 2`` starts two through
torchrun, and the runner then joins them over gloo. Both are checked against one in-process run.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from release_factory import make_release

from prism_eval.datasets_io import load_users
from prism_eval.runner import SUMMARY, evaluate, read_results

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strip(records):
    records = json.loads(json.dumps(records))
    for r in records:
        del r["cost"]["seconds"], r["cost"]["cached"]
    return records


def _launch(flags: list[str], release: Path, out: Path) -> subprocess.CompletedProcess:
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or "accelerate"
    cmd = [accelerate, "launch", *flags, "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           "-m", "prism_eval.cli", "evaluate", "--dataset", str(release), "--model", "lexicon",
           "--batch-size", "2", "--out", str(out), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def release(v1_dir, tmp_path_factory) -> Path:
    return make_release(v1_dir, tmp_path_factory.mktemp("acc") / "release", n_users=9, images=True)


@pytest.fixture(scope="module")
def one_process(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    ds, info = load_users(str(release))
    evaluate(ds, "lexicon", out, dataset_info=info, progress=False, batch_size=2)
    return read_results(out), json.loads((out / SUMMARY).read_text())


def test_two_processes_equal_one(release, one_process, tmp_path):
    run = _launch(["--multi_gpu", "--num_processes", "2"], release, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("attribute") == 1  # only the main process prints the table
    summary = json.loads((tmp_path / SUMMARY).read_text())
    assert summary["session"]["processes"] == 2
    records = read_results(tmp_path)
    assert [r["user_id"] for r in records] == [f"person-00{i}" for i in range(1, 10)]
    assert _strip(records) == _strip(one_process[0])
    assert summary["scores"] == one_process[1]["scores"]
    assert summary["cost"]["calls"] == one_process[1]["cost"]["calls"]
    assert not (tmp_path / "parts").exists()


def test_accelerate_cpu_flag(release, one_process, tmp_path):
    run = _launch(["--cpu", "--num_processes", "2"], release, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _strip(read_results(tmp_path)) == _strip(one_process[0])
