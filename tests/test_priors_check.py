"""`prism priors check` and `prism priors fit`."""
from __future__ import annotations

import json

import yaml

from prism_dataset.priors.prior import PRIOR_DIR
from prism_eval.cli import main as prism


def test_check_v1_prints_distances_associations_and_incoherences(v1_dir, tmp_path, capsys):
    out = tmp_path / "check.json"
    code = prism(["priors", "check", "--prior", "v1", "-n", "2000", "--release", str(v1_dir),
                  "--max-tvd", "0.5", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "Constraint violations: 0" in text and "Cramér's V" in text
    assert "Total-variation distance" in text and "hobbies.size" in text
    result = json.loads(out.read_text())
    assert result["incoherences"]["per_543"]["release"] == [27, 29, 30]
    assert result["incoherences"]["per_543"]["default.yaml"] == [0, 0, 0]
    assert min(result["incoherences"]["per_543"]["v1.yaml"]) > 10   # v1.yaml copies the flaws
    assert result["tvd"]["travel_history.size"] == 0
    assert all(abs(v) < 0.1 for v in result["association"].values())  # independent marginals


def test_check_default_has_no_violations_and_strong_associations(v1_dir, tmp_path, capsys):
    out = tmp_path / "check.json"
    code = prism(["priors", "check", "-n", "2000", "--release", str(v1_dir), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "PhD needs age >= 25" in text
    result = json.loads(out.read_text())
    assert result["total_violations"] == 0 and "tvd" not in result
    assert result["association"]["sex|height_cm"] > 0.4
    # asked for distances, the realistic prior is far from v1's uniform marginals: exit 1
    assert prism(["priors", "check", "-n", "1000", "--release", str(v1_dir), "--distance"]) == 1


def test_check_reports_an_invalid_prior_file_in_one_line(tmp_path, capsys):
    spec = yaml.safe_load((PRIOR_DIR / "default.yaml").read_text())
    spec["variables"]["health"]["table"]["50-64"]["good"] = 0.9
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert prism(["priors", "check", "--prior", str(path), "-n", "10"]) == 2
    err = capsys.readouterr().err
    assert "table 'health'" in err and "row '50-64'" in err and "Traceback" not in err


def test_fit_writes_the_shipped_v1_prior(v1_dir, tmp_path, capsys):
    out = tmp_path / "v1.yaml"
    assert prism(["priors", "fit", "--release", str(v1_dir), "--out", str(out)]) == 0
    fitted = yaml.safe_load(out.read_text())
    shipped = yaml.safe_load((PRIOR_DIR / "v1.yaml").read_text())
    assert fitted["variables"] == shipped["variables"]
