"""The notebooks in notebooks/ are stored clean and run top to bottom offline, showing what they say.

Each notebook runs in a fresh ``python3`` kernel (ipykernel's spec; jupyter_client starts it with
this interpreter) with the Hub offline, ``PRISM_V1_DIR`` pointing at the release folder and every
cache (datasets, Hub/evaluate modules, prism generation, temp files) inside ``tmp_path``. A probe
cell appended after the last cell prints the figures the test checks, as one JSON line.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
QUICKSTART = NOTEBOOKS / "quickstart.ipynb"
TRAINING = NOTEBOOKS / "metric_in_training_loop.ipynb"
PROBE = "PROBE "


def _execute(path: Path, tmp_path: Path, monkeypatch, v1_dir: Path, probe: str):
    """Run the notebook (plus a probe cell) in a new kernel; -> (notebook, probe dict, seconds)."""
    env = {
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PRISM_V1_DIR": str(v1_dir),
        "HF_HOME": str(tmp_path / "hf"),                     # Hub cache, evaluate's module cache
        "HF_DATASETS_CACHE": str(tmp_path / "datasets"),     # built Arrow files
        "PRISM_CACHE_DIR": str(tmp_path / "prism"),          # generation caches
        "TMPDIR": str(tmp_path / "tmp"),                     # tempfile.mkdtemp() in the notebook
        # conftest sets Agg for the tests themselves; the kernel should draw inline as in Jupyter
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)                      # the kernel inherits os.environ
    (tmp_path / "tmp").mkdir()
    workdir = tmp_path / "work"
    workdir.mkdir()

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"print({PROBE!r} + json.dumps({probe}))"))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the cell's traceback) on any error
    seconds = time.perf_counter() - start

    lines = [line for line in _stdout(nb.cells[-1]).splitlines() if line.startswith(PROBE)]
    assert len(lines) == 1, _stdout(nb.cells[-1])
    nb.cells.pop()  # the probe is not part of the notebook
    return nb, json.loads(lines[0][len(PROBE):]), seconds


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _images(nb) -> int:
    return sum(1 for c in _code_cells(nb) for o in c.outputs if "image/png" in o.get("data", {}))


def _check_ran_cleanly(nb) -> None:
    for i, cell in enumerate(_code_cells(nb)):
        assert cell.execution_count is not None, f"code cell {i} did not run"
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, f"code cell {i}: {errors[0].get('ename')}: {errors[0].get('evalue')}"


# ------------------------------------------------------------------ stored form

def test_the_two_notebooks_exist():
    assert QUICKSTART.is_file() and TRAINING.is_file()


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_stored_notebooks_have_no_outputs_and_a_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = _code_cells(nb)
    assert code and any(c.cell_type == "markdown" for c in nb.cells)
    for i, cell in enumerate(code):
        assert cell.outputs == [], f"code cell {i} of {path.name} is stored with outputs"
        assert cell.execution_count is None, f"code cell {i} of {path.name} has an execution count"
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids)  # stable, unique cell ids


# ------------------------------------------------------------------ execution

@pytest.mark.slow
def test_quickstart_runs_offline_and_reports_lexicon_leakage(tmp_path, monkeypatch, v1_dir):
    probe = ('{"v1_users": len(v1), "synthetic_users": len(synthetic), '
             '"results": os.path.isfile(os.path.join(out_dir, "results.jsonl")), '
             '"summary_top1": summary["scores"]["top1"], "summary_users": summary["users"], '
             '"failures": summary["failures"], "metric": {k: result[k] for k in '
             '("n_users", "top1", "top3", "coverage")}, "by_mode": {m: result["by_mode"][m]["top1"] '
             'for m in ("explicit", "implicit")}}')
    nb, got, seconds = _execute(QUICKSTART, tmp_path, monkeypatch, v1_dir, probe)
    print(f"quickstart.ipynb: {seconds:.1f} s")
    _check_ran_cleanly(nb)
    out = "\n".join(_stdout(c) for c in _code_cells(nb))

    # v1 came from PRISM_V1_DIR, not the Hub
    assert got["v1_users"] == len(json.loads((v1_dir / "target.json").read_text("utf-8")))
    assert f"release folder: {v1_dir}" in out
    assert "true attributes:" in out and "leakage plan" in out

    # the lexicon chain ran over all 40 synthetic users and printed the table with its mean row
    assert got["synthetic_users"] == 40 and got["summary_users"] == 40 and got["failures"] == 0
    assert got["results"]
    table = [line for line in out.splitlines() if line.startswith("mean ")]
    assert table and f"{100 * got['summary_top1']:5.1f}%" in table[0]

    # the evaluate metric agrees with the runner; explicit reveals leak more to a cue matcher
    metric = got["metric"]
    assert metric["n_users"] == 40
    assert metric["top1"] == pytest.approx(got["summary_top1"])
    assert 0 < metric["top1"] <= metric["top3"] <= 1 and 0 < metric["coverage"] < 1
    assert got["by_mode"]["explicit"] > got["by_mode"]["implicit"]
    assert _images(nb) >= 2  # the placeholder images and the per-attribute bar plot


@pytest.mark.slow
def test_training_loop_tracks_leakage_and_the_defence_lowers_it(tmp_path, monkeypatch, v1_dir):
    probe = ('{"history": history, "defended": history_defended, "final": final, '
             '"redacted": sum(t.count("[REDACTED]") for u in users for t in u["redacted"]), '
             '"clear": sum(t.count("[REDACTED]") for u in users for t in u["texts"])}')
    nb, got, seconds = _execute(TRAINING, tmp_path, monkeypatch, v1_dir, probe)
    print(f"metric_in_training_loop.ipynb: {seconds:.1f} s")
    _check_ran_cleanly(nb)
    history, defended, final = got["history"], got["defended"], got["final"]

    # the metric was computed after every epoch, for both runs
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1)) and len(history) >= 5
    assert len(defended) == len(history)
    assert history[-1]["loss"] < history[0]["loss"] / 5         # the attacker trained
    for h in history + defended:
        assert 0 <= h["top1"] <= h["top3"] <= 1

    # the last cell prints the final figures, the same ones the histories hold
    last = _stdout(_code_cells(nb)[-1])
    assert "final leakage:" in last and "no defence" in last and "redaction" in last
    printed = json.loads(last.split("final leakage:", 1)[1].strip().splitlines()[0])
    assert printed["no defence"]["top1"] == pytest.approx(history[-1]["top1"], abs=1e-4)
    assert printed["redaction"]["top1"] == pytest.approx(defended[-1]["top1"], abs=1e-4)

    undefended, redaction, prior = final["no defence"], final["redaction"], final["prior-only"]
    # the attacker learns from the posts: well above a prior-only attacker where posts reveal
    assert undefended["revealed"] > prior["revealed"] + 0.2
    assert undefended["top1"] > prior["top1"] + 0.05
    # the defence redacted something, and leakage is lower with it, most of all on explicit reveals
    assert got["redacted"] > 100 and got["clear"] == 0
    assert redaction["top1"] < undefended["top1"]
    assert redaction["revealed"] < undefended["revealed"]
    assert redaction["explicit"] < undefended["explicit"] - 0.05
    assert _images(nb) >= 2  # the learning curves and the comparison plot
