"""`prism warn`: which attributes a draft reveals (and which are new given earlier posts), with
the evidence span or image region and a confidence, as JSON and as a message."""
from __future__ import annotations

import json

import pytest

from prism_eval.attackers import ocr
from prism_eval.cli import main
from prism_eval.warn import read_history, warn

POST = "Just got my nursing badge at St. Mary's, 29 and finally debt-free!"


def test_the_issue_example_names_occupation_and_age_with_their_spans(capsys):
    assert main(["warn", POST, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    found = {f["attribute"]: f for f in out["reveals"]}
    assert found["occupation"]["value"] == "nurse" and found["age"]["value"] == 29
    spans = {k: [POST[s["start"]:s["end"]] for s in f["spans"]] for k, f in found.items()}
    assert spans["occupation"] == ["nursing"] and spans["age"] == ["29"]
    assert all(0 < f["confidence"] <= 1 for f in found.values())
    # the readable message says the same
    assert main(["warn", POST]) == 0
    msg = capsys.readouterr().out
    assert "occupation: nurse" in msg and '"nursing" at 12-19' in msg
    assert "age: 29" in msg and '"29" at 41-43' in msg


def test_what_is_new_given_earlier_posts(tmp_path):
    history = tmp_path / "posts.json"
    history.write_text(json.dumps(["As a nurse I work nights.", {"text": "Coffee first."}]))
    w = warn("I'm a nurse, 29 and finally debt-free!", history=history)
    by = {f.attribute: f for f in w.findings}
    assert by["age"].new and not by["occupation"].new
    assert by["occupation"].known == "nurse"
    assert w.as_dict()["new"] == ["age"]
    assert "already known: nurse" in w.message()
    # a post with nothing to say says so
    assert warn("What a lovely day.").message().startswith("No attribute found")


def test_history_formats(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n')
    (tmp_path / "b.txt").write_text("one\n\ntwo\n")
    assert [t for t, _ in read_history(tmp_path / "a.jsonl")] == ["one", "two"]
    assert [t for t, _ in read_history(tmp_path / "b.txt")] == ["one", "two"]


def test_a_model_inference_is_located_in_the_text():
    # the dummy model always answers occupation "teacher" (no cue rule fires on "teaching")
    w = warn("Back to teaching kids tomorrow.", model="dummy")
    occ = next(f for f in w.findings if f.attribute == "occupation")
    assert occ.source == "model" and occ.value == "teacher"
    assert [s["text"] for s in occ.spans] == ["teaching"]


@pytest.mark.skipif(ocr.engine()[0] is None, reason="tesseract-ocr is not installed")
def test_a_picture_gives_regions(tmp_path):
    from test_defences import _sign
    badge = tmp_path / "badge.png"
    badge.write_bytes(_sign(["Hi, I'm a nurse", "at Tokyo Mercy Hospital"]))
    w = warn("new job!", image=badge)
    occ = next(f for f in w.findings if f.attribute == "occupation")
    [region] = occ.regions
    x0, y0, x1, y1 = region["box"]
    assert 0 <= x0 < x1 <= 420 and 0 <= y0 < y1 <= 200 and "nurse" in region["text"]
    assert "image region" in w.message()
