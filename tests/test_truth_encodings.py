"""The truth given back as the prediction scores 1.0 on all 543 v1 users in each of its three
encodings (raw target.json entry, the dataset row's attributes, canonical prediction), through
score_user, the evaluate metric and `prism score`."""
from __future__ import annotations

import json

import pytest

from prism_core.backends.dummy import DummyBackend
from prism_core.prediction import truth_as_prediction
from prism_dataset.builder import PrismBuilder
from prism_dataset.schema import decode_attributes
from prism_eval.cli import main
from prism_eval.runner import SUMMARY, evaluate
from prism_eval.scoring import score_user

ENCODINGS = ("target.json entry", "dataset row attributes", "canonical prediction")


@pytest.fixture(scope="module")
def v1(v1_dir, tmp_path_factory):
    builder = PrismBuilder(config_name="v1", data_dir=str(v1_dir),
                           cache_dir=str(tmp_path_factory.mktemp("cache")))
    builder.download_and_prepare()
    ds = builder.as_dataset(split="test")
    target = json.loads((v1_dir / "target.json").read_text("utf-8"))
    rows = [ds[i] for i in range(len(ds))]
    encoded = {
        "target.json entry": [target[r["user_id"]] for r in rows],
        "dataset row attributes": [r["attributes"] for r in rows],
        "canonical prediction": [truth_as_prediction(decode_attributes(r["attributes"], ds.features))
                                 for r in rows],
    }
    return rows, encoded


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_truth_scores_one_through_score_user(v1, encoding):
    rows, encoded = v1
    assert len(rows) == 543
    for row, pred in zip(rows, encoded[encoding]):
        score = score_user(pred, row["attributes"])
        assert score["top1"] == 1.0 and score["parse_failure_rate"] == 0, (row["user_id"], score)
        score = score_user(json.dumps(pred), row["attributes"])
        assert score["top1"] == 1.0, row["user_id"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_truth_scores_one_through_the_metric(v1, encoding):
    import evaluate as hf_evaluate

    from prism_eval.metrics import metric_path
    rows, encoded = v1
    result = hf_evaluate.load(metric_path()).compute(predictions=encoded[encoding],
                                                     references=rows)
    assert result["n_users"] == 543 and result["top1"] == result["top3"] == 1.0
    assert result["parse_failure_rate"] == 0 and result["coverage"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_truth_scores_one_through_prism_score(v1, encoding, tmp_path):
    rows, encoded = v1
    answers = {r["user_id"]: json.dumps(p) for r, p in zip(rows, encoded[encoding])}
    backend = DummyBackend(responses=lambda r: answers[r.tags["user_id"]])
    users = [{"user_id": r["user_id"], "posts": [{"post_id": "post1", "text": r["user_id"]}],
              "attributes": r["attributes"]} for r in rows]
    evaluate(users, {"text": backend, "image": backend, "synthesis": backend}, tmp_path,
             variant="single", progress=False)
    assert main(["score", str(tmp_path)]) == 0
    scores = json.loads((tmp_path / SUMMARY).read_text("utf-8"))["scores"]
    assert scores["n_users"] == 543 and scores["top1"] == 1.0 and scores["parse_failure_rate"] == 0
