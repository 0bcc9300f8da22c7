"""The typed records of a run folder: what writers produce fits them, what does not is named."""
from __future__ import annotations

import json

import pytest

from prism_core.errors import PrismError
from prism_eval.records import ResultLine, RunSummary, check_line, check_summary
from prism_eval.runner import RESULTS, SUMMARY, evaluate


@pytest.fixture(scope="module")
def run(tmp_path_factory, synthetic_small):
    out = tmp_path_factory.mktemp("records") / "run"
    evaluate(synthetic_small, "lexicon", out, progress=False)
    return out


@pytest.fixture(scope="module")
def synthetic_small(tmp_path_factory):
    from prism_dataset.builder import PrismBuilder
    b = PrismBuilder(config_name="synthetic", n_users=6, seed=3, image_backend="none",
                     cache_dir=str(tmp_path_factory.mktemp("ds")))
    b.download_and_prepare()
    return b.as_dataset(split="train")


def test_written_lines_and_summary_fit_the_models(run):
    lines = [json.loads(x) for x in (run / RESULTS).read_text().splitlines()]
    assert len(lines) == 6
    for line in lines:
        rec = ResultLine.model_validate(line)
        assert rec.format == 2 and rec.status == "complete" and rec.calls
        assert all(c.outcome == "ok" for c in rec.calls)
    summary = RunSummary.model_validate(json.loads((run / SUMMARY).read_text()))
    assert summary.users == 6 and summary.complete == 6 and summary.failures == 0


def test_format_1_lines_read_with_defaults():
    rec = ResultLine.model_validate({"user_id": "u1", "index": 0, "prediction": None,
                                     "failure": "boom"})
    assert rec.format == 1 and rec.calls == [] and rec.status is None


@pytest.mark.parametrize("line, field", [
    ({"user_id": "", "index": 0}, "user_id"),
    ({"user_id": "u", "index": True}, "index"),
    ({"user_id": "u", "prediction": [1, 2]}, "prediction"),
    ({"user_id": "u", "calls": [{"role": "text", "outcome": "maybe"}]}, "calls.0.outcome"),
    ({"user_id": "u", "status": "done"}, "status"),
])
def test_a_line_that_does_not_fit_names_the_field(line, field):
    assert check_line(line).startswith(field)
    assert check_line([line]) == "not an object"


def test_a_summary_that_does_not_fit_is_one_line():
    with pytest.raises(PrismError, match=r"s\.json: not a run summary \(users: "):
        check_summary({"scores": {}, "users": "many"}, "s.json")
    with pytest.raises(PrismError, match="not a run summary"):
        check_summary([1], "s.json")
    assert check_summary({"scores": {}, "users": 0}, "s.json") == {"scores": {}, "users": 0}
