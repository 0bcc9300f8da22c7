"""The `evaluate` module prism_privacy: offline load, docstring examples, agreement with scoring.py."""
from __future__ import annotations

import doctest
import json
import random
import sys

import evaluate
import pytest
from test_scoring_properties import random_prediction

from prism_core.attributes import from_v1
from prism_core.prediction import truth_as_prediction
from prism_eval.metrics import METRICS_DIR, metric_path
from prism_eval.scoring import aggregate, aggregate_by, score_user


@pytest.fixture(scope="module")
def metric():
    # conftest sets HF_HUB_OFFLINE: loading by folder path must need no network
    return evaluate.load(metric_path(), experiment_id="prism-test", keep_in_memory=True)


@pytest.fixture(scope="module")
def users(v1_dir):
    target = json.loads((v1_dir / "target.json").read_text("utf-8"))
    return [from_v1(entry) for entry in target.values()]


def test_metric_path():
    assert metric_path().endswith("prism_privacy")
    with pytest.raises(FileNotFoundError, match="available: \\['prism_privacy'\\]"):
        metric_path("nope")
    assert (METRICS_DIR / "prism_privacy" / "README.md").is_file()


def test_module_file_imports_one_per_line():
    """evaluate's dependency scanner misreads `import a, b` and trailing comments on imports."""
    source = (METRICS_DIR / "prism_privacy" / "prism_privacy.py").read_text("utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports and all("," not in line and "#" not in line for line in imports)
    assert not any(line.startswith("from .") for line in imports)  # the file is copied elsewhere


def test_docstring_examples(metric):
    module = sys.modules[type(metric).__module__]
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


def test_metric_card_examples(metric):
    card = METRICS_DIR / "prism_privacy" / "README.md"
    text = card.read_text("utf-8")
    for section in ("## Metric Description", "## How to Use", "### Inputs", "### Output Values",
                    "## Limitations and Bias", "## Citation"):
        assert section in text
    result = doctest.testfile(str(card), module_relative=False, globs={"metric": metric})
    assert result.attempted >= 2 and result.failed == 0


def test_loaded_by_name_from_the_metrics_folder(monkeypatch):
    monkeypatch.chdir(METRICS_DIR)
    m = evaluate.load("prism_privacy", keep_in_memory=True)
    assert m.compute(predictions=[{"age": 40}], references=[{"age": 41}])["top1"] == 1.0


def test_v1_truth_scores_one_and_shuffled_scores_chance(metric, users):
    result = metric.compute(predictions=[truth_as_prediction(u) for u in users], references=users)
    assert result["n_users"] == 543 and result["top1"] == result["top3"] == 1.0
    assert all(a["top1"] == 1.0 for a in result["attributes"].values())
    shuffled = users[:]
    random.Random(0).shuffle(shuffled)
    result = metric.compute(predictions=[truth_as_prediction(u) for u in shuffled], references=users)
    assert 0.1 < result["top1"] < 0.35 and result["coverage"] == 1.0
    assert 0.4 < result["attributes"]["sex"]["top1"] < 0.6


def test_metric_agrees_with_scoring(metric, users):
    rng = random.Random(7)
    preds = [random_prediction(rng) for _ in users[:150]]
    preds = [json.loads(json.dumps(p)) for p in preds]  # what survives a JSON round trip
    expected = aggregate([score_user(p, u) for p, u in zip(preds, users)])
    got = metric.compute(predictions=preds, references=users[:150])
    assert got == expected
    as_text = metric.compute(predictions=[json.dumps(p) for p in preds],
                             references=[json.dumps(u) for u in users[:150]])
    assert as_text == expected
    refs = users[:150]
    for start in range(0, 150, 40):
        metric.add_batch(predictions=preds[start:start + 40], references=refs[start:start + 40])
    assert metric.compute() == expected
    for p, u in zip(preds[:10], users[:10]):
        metric.add(prediction=p, reference=u)
    assert metric.compute() == aggregate([score_user(p, u) for p, u in zip(preds[:10], users[:10])])


def test_options(metric, users):
    preds = [truth_as_prediction(users[1]), truth_as_prediction(users[0])]
    short = metric.compute(predictions=preds, references=users[:2], return_per_attribute=False,
                           return_per_user=True, groups=["a", "b"])
    assert "attributes" not in short and len(short["per_user"]) == 2
    assert short["per_user"][0] == {**score_user(preds[0], users[0]), "group": "a"}
    assert set(short["by_group"]) == {"a", "b"} and "attributes" not in short["by_group"]["a"]
    full = metric.compute(predictions=preds, references=users[:2], groups=["a", "a"])
    assert full["by_group"]["a"] == aggregate_by([score_user(p, u) for p, u in
                                                  zip(preds, users[:2])], "missing")[None]


def test_leakage_from_option_or_rows(metric):
    truth = {"age": 34, "sex": "female"}
    plan = [{"attribute": "age", "post_id": "post1", "channel": "text", "mode": "explicit"}]
    pred = {"age": 34, "sex": "male"}
    by_option = metric.compute(predictions=[pred], references=[truth], leakage=[plan])
    row = {"user_id": "u1", "posts": [{"post_id": "post1", "image": {"bytes": b"\x89PNG"}}],
           "attributes": truth, "leakage": plan}
    by_row = metric.compute(predictions=[pred], references=[row])
    assert by_option == by_row
    assert by_row["revealed"]["top1"] == 1.0 and by_row["unrevealed"]["top1"] == 0.0


@pytest.mark.parametrize("kwargs,match", [
    (dict(predictions=[{}], references=[{}, {}]), "Mismatch|1 predictions but 2"),
    (dict(predictions=[{"age": 3}], references=[{"attributes": {"age": {"guesses": [3]}},
                                                 "parse_failures": {}}]), "swap"),
    (dict(predictions=[{"age": 3}], references=[{"age": "ancient"}]), r"references\[0\].*age"),
    (dict(predictions=[{"age": 3}], references=[{"colour": "red"}]), r"references\[0\].*colour"),
    (dict(predictions=[{"age": 3}], references=[{"age": 3}], leakage=[]), "leakage has 0"),
    (dict(predictions=[7], references=[{"age": 3}]), r"predictions\[0\] must be a dict"),
])
def test_clear_errors(metric, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metric.compute(**kwargs)


@pytest.mark.parametrize("text", ["[1]", "{oops", "no idea, sorry", ""])
def test_unreadable_predictions_are_counted_parse_failures(metric, text):
    result = metric.compute(predictions=[text], references=[{"age": 3, "sex": "male"}])
    assert result["errors"] == 1 and result["parse_failure_rate"] == 1.0 and result["top1"] == 0
