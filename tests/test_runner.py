"""The runner: results/summary files, resume (also after a real SIGKILL), config checks, failures, CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from release_factory import make_release, release_dataset

from prism_core.backends.base import Generation
from prism_core.backends.dummy import DummyBackend
from prism_core.errors import PrismError
from prism_eval.cli import main
from prism_eval.datasets_io import load_users
from prism_eval.runner import RESULTS, SUMMARY, evaluate, read_results, rescore

TIMING = (("cost", "seconds"), ("cost", "cached"))


def strip_timing(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        r = json.loads(json.dumps(r))
        for a, b in TIMING:
            r[a].pop(b, None)
        out.append(r)
    return out


def _dummy():
    return DummyBackend(responses="hash")


def _chain_backends():
    """One hash-answering dummy for every chain role (answers differ from user to user)."""
    b = _dummy()
    return {"text": b, "image": b, "synthesis": b}


def test_results_and_summary(release, tmp_path):
    ds, info = release_dataset(release)
    summary = evaluate(ds, {"text": _dummy(), "image": _dummy(), "synthesis": _dummy()},
                       tmp_path, dataset_info=info, progress=False, batch_size=4)
    records = read_results(tmp_path)
    assert [r["index"] for r in records] == list(range(6))
    assert [r["user_id"] for r in records] == [f"person-00{i}" for i in range(1, 7)]
    first = records[0]
    assert set(first) == {"format", "user_id", "index", "variant", "topics", "models", "status",
                          "prediction", "raw", "scores", "truth", "leakage", "calls",
                          "dropped_images", "truncated_posts", "cost", "errors", "failure"}
    assert first["format"] == 2 and first["status"] == "complete"
    assert [c["role"] for c in first["calls"]] == ["text", "image", "image", "image", "synthesis"]
    assert all(c["outcome"] == "ok" for c in first["calls"])
    assert summary["complete"] == 6 and summary["partial"] == 0 and summary["failures"] == 0
    assert first["models"] == {"text": "dummy", "image": "dummy", "synthesis": "dummy"}
    assert first["truth"]["sex"] == "male" and first["truth"]["age"] == 73
    assert set(first["raw"]["image"]) == {"post1:image", "post2:image", "post3:image"}
    assert first["cost"]["calls"] == 5 and first["failure"] is None
    assert set(first["scores"]["attributes"]) == set(first["truth"])
    assert summary["users"] == 6 and summary["failures"] == 0
    assert summary["cost"]["calls"] == sum(r["cost"]["calls"] for r in records)
    assert summary["session"]["cache_misses"] == summary["cost"]["calls"]
    assert summary["scores"]["n_users"] == 6
    assert summary["config"]["variant"] == "chain" and summary["config"]["dataset"]["dataset"] == "v1"
    assert summary["prompts"]["text"]["name"] == "text_agent"
    assert "datasets" in summary["versions"]
    assert json.loads((tmp_path / SUMMARY).read_text()) == summary
    assert not (tmp_path / "parts").exists()


def test_rerun_resumes_without_calls_and_overwrite_uses_the_cache(release, tmp_path):
    ds, info = release_dataset(release)
    first = evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=3)
    before = read_results(tmp_path)
    again = evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=3)
    assert again["session"]["cache_hits"] == again["session"]["cache_misses"] == 0
    assert read_results(tmp_path) == before
    # more users: only the new ones are run
    more = evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=5)
    assert more["users"] == 5 and more["session"]["cache_misses"] == 2 * 5  # 2 users x 5 calls
    assert read_results(tmp_path)[:3] == before
    # overwrite starts over but the cache answers every call
    over = evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=3,
                    overwrite=True)
    assert over["session"]["cache_misses"] == 0 and over["session"]["cache_hits"] == first["cost"]["calls"]
    assert strip_timing(read_results(tmp_path)) == strip_timing(before)


def test_other_configuration_is_refused(release, tmp_path):
    ds, info = release_dataset(release)
    evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=2)
    with pytest.raises(PrismError, match="another configuration.*variant.*overwrite"):
        evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=2, variant="single")
    with pytest.raises(PrismError, match="topics"):
        evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=2, topics=False)
    s = evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=2,
                 variant="single", overwrite=True)
    assert s["config"]["variant"] == "single" and s["users"] == 2


def test_half_written_line_is_dropped_and_no_user_duplicated(release, tmp_path):
    ds, info = release_dataset(release)
    evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=2)
    done = (tmp_path / RESULTS).read_text()
    # what a kill in the middle of writing the third user leaves behind
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "results-00000.jsonl").write_text(done + '{"user_id": "person-003", "ind')
    (tmp_path / RESULTS).unlink()
    s = evaluate(ds, _chain_backends(), tmp_path, dataset_info=info, progress=False, limit=4)
    records = read_results(tmp_path)
    assert [r["user_id"] for r in records] == ["person-001", "person-002", "person-003", "person-004"]
    assert s["session"]["cache_misses"] == 2 * 5  # person-003 and -004, five calls each
    assert s["users"] == 4


def test_dataset_and_iterable_dataset_agree(release, tmp_path):
    import datasets
    ds, info = release_dataset(release)  # streaming (IterableDataset)
    table = datasets.Dataset.from_list(list(ds.decode(False)), features=ds.features)
    evaluate(ds, "lexicon", tmp_path / "it", dataset_info=info, progress=False)
    evaluate(table, "lexicon", tmp_path / "ds", dataset_info=info, progress=False, limit=4)
    a, b = read_results(tmp_path / "it"), read_results(tmp_path / "ds")
    assert len(a) == 6 and len(b) == 4
    assert strip_timing(a[:4]) == strip_timing(b)


def test_corrupt_images_are_dropped_recorded_and_counted(release, tmp_path):
    import datasets
    ds, info = release_dataset(release)
    rows = list(ds.decode(False))
    rows[2]["posts"][1]["image"] = {"bytes": b"\xff\xd8 this is not a jpeg", "path": None}
    table = datasets.Dataset.from_list(rows, features=ds.features)
    summary = evaluate(table, "lexicon", tmp_path, progress=False)
    records = read_results(tmp_path)
    assert len(records) == 6 and summary["failures"] == 0
    bad = records[2]
    assert bad["user_id"] == "person-003" and bad["failure"] is None
    assert [d["image_id"] for d in bad["dropped_images"]] == ["post2:image"]
    assert "unreadable image" in bad["dropped_images"][0]["reason"]
    assert "post2" in bad["errors"][0] and bad["cost"]["calls"] > 0
    assert summary["dropped_images"] == 1 and summary["dropped_image_users"] == ["person-003"]
    assert all(not r["dropped_images"] for i, r in enumerate(records) if i != 2)


def test_release_images_missing_or_corrupt_are_recorded_on_their_users(v1_dir, tmp_path):
    """In a release folder the builder leaves a bad image out; the run still names it on its
    user, the summary counts it, and a release without any image is "not measured" instead."""
    root = make_release(v1_dir, tmp_path / "rel", n_users=4, images=True)
    posts = json.loads((root / "posts.json").read_text())
    refs = {u: [r for r in e["img_urls"] if r != "none"] for u, e in posts.items()}
    users = list(posts)
    (root / refs[users[1]][0]).write_bytes(b"\xff\xd8 not a jpeg")   # corrupt
    (root / refs[users[3]][-1]).unlink()                               # missing
    ds, info = load_users("v1", data_dir=str(root))
    assert info["images"]["unreadable"] == 1 and info["images"]["missing"] == 1
    summary = evaluate(ds, "lexicon", tmp_path / "run", dataset_info=info, progress=False)
    records = {r["user_id"]: r for r in read_results(tmp_path / "run")}
    assert summary["dropped_images"] == 2
    assert sorted(summary["dropped_image_users"]) == sorted([users[1], users[3]])
    [bad] = records[users[1]]["dropped_images"]
    assert refs[users[1]][0] in bad["reason"] and "missing or unreadable" in bad["reason"]
    assert len(records[users[3]]["dropped_images"]) == 1
    assert not records[users[0]]["dropped_images"] and records[users[1]]["failure"] is None
    # the same release without its images folder: not measured as a whole, no user blamed
    import shutil
    shutil.rmtree(root / "images")
    ds, info = load_users("v1", data_dir=str(root))
    summary = evaluate(ds, "lexicon", tmp_path / "none", dataset_info=info, progress=False)
    assert summary["dropped_images"] == 0 and summary["failures"] == 0


def test_first_batch_all_failing_stops_with_the_error(release, tmp_path):
    ds, info = release_dataset(release)
    broken = DummyBackend(error="connection refused")
    with pytest.raises(PrismError, match="first batch failed.*connection refused"):
        evaluate(ds, {"single": broken}, tmp_path, variant="single", progress=False)
    assert not (tmp_path / RESULTS).exists()


class YesJudge:
    def __init__(self):
        self.asked = []

    def verdict(self, attribute, truth, guess):
        self.asked.append((attribute, truth, guess))
        return "yes"

    def describe(self):
        return {"model": "yes-judge"}


def test_rescore_with_a_judge(release, tmp_path):
    ds, info = release_dataset(release)
    answer = json.dumps({"occupation": {"guesses": ["automotive restoration hobbyist"]}})
    evaluate(ds, {"single": DummyBackend(responses=answer)}, tmp_path, variant="single",
             dataset_info=info, progress=False, limit=3)
    before = json.loads((tmp_path / SUMMARY).read_text())
    assert before["scores"]["attributes"]["occupation"]["top1"] == 0
    judge = YesJudge()
    after = rescore(tmp_path / RESULTS, judge=judge, judge_spec="yes-judge")
    assert judge.asked and after["scores"]["attributes"]["occupation"]["top1"] == 1
    assert after["config"]["judge"] == "yes-judge" and after["scores"]["judge"] == [{"model": "yes-judge"}]
    assert after["session"] == before["session"] and after["cost"] == before["cost"]
    assert read_results(tmp_path)[0]["scores"]["attributes"]["occupation"]["judged"] == 1


# ------------------------------------------------------------------ the command line

def test_cli_evaluate_prints_table_and_score_reprints(release, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", "--dataset", str(release), "--model", "lexicon", "--out", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "attribute" in text and "top-1" in text and "coverage" in text
    assert "occupation" in text and "6 users, 0 failed" in text
    summary = json.loads((out / SUMMARY).read_text())
    assert summary["config"]["roles"] == {"text": "lexicon", "image": "lexicon", "synthesis": "lexicon"}
    assert main(["score", str(out)]) == 0
    assert "6 users" in capsys.readouterr().out


def test_cli_role_mix(release, tmp_path):
    out = tmp_path / "mix"
    assert main(["evaluate", "--dataset", "v1", "--data-dir", str(release), "--model", "lexicon",
                 "--role", "image=dummy", "--limit", "2", "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / SUMMARY).read_text())
    assert s["config"]["roles"] == {"text": "lexicon", "image": "dummy", "synthesis": "lexicon"}
    assert s["backends"]["image"]["backend"] == "dummy"


@pytest.mark.parametrize("argv, message", [
    (["--model", "lexicn"], "did you mean 'lexicon'"),
    (["--model", "gpt-4o"], "OPENAI_API_KEY"),
    (["--model", "lexicon", "--role", "imag=dummy"], "did you mean 'image'"),
    (["--model", "lexicon", "--dataset", "/nonexistent/prism"], "not found"),
    (["--model", "lexicon", "--dataset", "v1", "--data-dir", "/tmp"], "no posts.json"),
])
def test_cli_errors_are_one_line(release, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    if "--dataset" not in argv:
        argv = argv + ["--dataset", str(release)]
    assert main(["evaluate", *argv, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_cli_corrupt_release_is_one_line(v1_dir, tmp_path, capsys):
    rel = make_release(v1_dir, tmp_path / "rel", n_users=2)
    (rel / "posts.json").write_text('{"person-001": {"posts": ')
    assert main(["evaluate", "--dataset", str(rel), "--model", "lexicon", "--out",
                 str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "posts.json" in err and "not valid JSON" in err


# ------------------------------------------------------------------ kill and resume

SLOW_CLI = textwrap.dedent("""
    import json, os, signal, sys, time
    from prism_core.backends import register_backend
    from prism_core.backends.dummy import DummyBackend

    class Slow(DummyBackend):
        name = "slow"
        calls = 0
        def __init__(self, model=None, revision=None, **options):
            super().__init__(model=model, revision=revision, responses="hash")
        def generate(self, requests):
            out = []
            for r in requests:
                Slow.calls += 1
                if Slow.calls == int(os.environ.get("KILL_AT_CALL", "0")):
                    os.kill(os.getpid(), signal.SIGKILL)   # a crash in the middle of the run
                time.sleep(float(os.environ.get("CALL_DELAY", "0")))
                with open(os.environ["CALL_LOG"], "a") as f:
                    f.write(json.dumps([r.tags["user_id"], r.tags["role"]]) + "\\n")
                out.extend(super().generate([r]))
            return out

    register_backend("slow", Slow)
    from prism_eval.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SLOW_CLI, *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def test_kill_and_resume_equals_an_uninterrupted_run(release, tmp_path):
    args = ["evaluate", "--dataset", str(release), "--model", "slow", "--variant", "text-only",
            "--batch-size", "1", "--no-progress"]
    whole_log, part_log = tmp_path / "whole.log", tmp_path / "part.log"
    whole = _run_cli(args + ["--out", str(tmp_path / "whole")], {"CALL_LOG": str(whole_log)})
    assert whole.returncode == 0, whole.stderr
    # 2 calls per user (text, synthesis): users 1-3 are written, person-004's text call (the
    # 7th) is answered, and the process dies when its synthesis call (the 8th) starts
    killed = _run_cli(args + ["--out", str(tmp_path / "resumed")],
                      {"CALL_LOG": str(part_log), "KILL_AT_CALL": "8", "CALL_DELAY": "0.05"})
    assert killed.returncode == -9, killed.stderr
    part = tmp_path / "resumed" / "parts" / "results-00000.jsonl"
    assert len(part.read_text().splitlines()) == 3
    assert not (tmp_path / "resumed" / RESULTS).exists()
    resumed = _run_cli(args + ["--out", str(tmp_path / "resumed")], {"CALL_LOG": str(part_log)})
    assert resumed.returncode == 0, resumed.stderr
    a = read_results(tmp_path / "whole")
    b = read_results(tmp_path / "resumed")
    assert strip_timing(a) == strip_timing(b)
    # nothing paid twice: the calls of both sessions together are exactly those of one run
    calls_whole = whole_log.read_text().splitlines()
    calls_parts = part_log.read_text().splitlines()
    assert len(calls_parts) == len(set(calls_parts)) == len(calls_whole) == 12
    assert sorted(calls_parts) == sorted(calls_whole)
    s = json.loads((tmp_path / "resumed" / SUMMARY).read_text())
    assert s["session"]["cache_hits"] == 1     # person-004's text answer, paid before the kill
    assert s["session"]["cache_misses"] == 5
    assert s["users"] == 6


# ------------------------------------------------------------------ an API model and an API judge

def test_cli_with_an_openai_compatible_model_and_judge(release, tmp_path, monkeypatch, capsys):
    from fake_openai import FakeOpenAIServer, image_urls

    def reply(body):
        text = json.dumps(body)
        if "grade answers" in text:                 # the judge
            return "Yes."
        n = len(image_urls(body))
        return json.dumps({"age": {"guesses": [30 + n]},
                           "occupation": {"guesses": ["vintage car restorer"]}})

    out = tmp_path / "api"
    with FakeOpenAIServer(reply=reply) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        assert main(["evaluate", "--dataset", str(release), "--model", "openai:fake-vlm",
                     "--variant", "single", "--limit", "2", "--out", str(out), "--no-progress"]) == 0
        assert server.requests == 2
        records = read_results(out)
        assert records[0]["prediction"]["attributes"]["age"]["guesses"] == [33]  # 3 images sent
        assert records[0]["scores"]["attributes"]["occupation"]["top1"] == 0
        capsys.readouterr()
        assert main(["score", str(out / RESULTS), "--judge", "openai:fake-judge"]) == 0
        asked = server.requests - 2  # one question per distinct (truth, guess) pair
        assert asked == len({r["truth"]["occupation"] for r in records}) >= 1
        assert "occupation" in capsys.readouterr().out
        s = json.loads((out / SUMMARY).read_text())
        assert s["scores"]["attributes"]["occupation"]["top1"] == 1
        assert s["scores"]["judge"][0]["judge_model"] == "fake-judge"
        assert main(["score", str(out), "--judge", "openai:fake-judge"]) == 0
        assert server.requests == 2 + asked  # verdicts come from the run's cache
        # the judge during the run: same verdicts, asked once more (a new output folder)
        assert main(["evaluate", "--dataset", str(release), "--model", "openai:fake-vlm",
                     "--variant", "single", "--limit", "2", "--out", str(tmp_path / "judged"),
                     "--judge", "openai:fake-judge", "--no-progress"]) == 0
        judged = json.loads((tmp_path / "judged" / SUMMARY).read_text())
        assert judged["config"]["judge"] == "openai:fake-judge"
        assert judged["scores"]["attributes"]["occupation"]["top1"] == 1
    key_free = (out / RESULTS).read_text() + (out / SUMMARY).read_text() + (out / "run.json").read_text()
    assert "test-key" not in key_free


class FlakyForOneUser(DummyBackend):
    """Fails every request of one user while ``down`` is set (a transient API outage)."""

    def __init__(self, user_id):
        super().__init__(responses="hash")
        self.user_id, self.down = user_id, True

    def generate(self, requests):
        return [Generation(error="503 Service Unavailable")
                if self.down and r.tags["user_id"] == self.user_id else g
                for r, g in zip(requests, super().generate(requests))]


def test_retry_failed_replaces_the_failed_record(release, tmp_path):
    ds, info = release_dataset(release)
    b = FlakyForOneUser("person-002")
    s = evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info,
                 progress=False, limit=3)
    assert s["failed_users"] == ["person-002"]
    b.down = False
    s = evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info,
                 progress=False, limit=3)
    assert s["failed_users"] == ["person-002"]  # a plain resume keeps the record
    s = evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info,
                 progress=False, limit=3, retry_failed=True)
    records = read_results(tmp_path)
    assert s["failures"] == 0 and [r["user_id"] for r in records] == ["person-001", "person-002", "person-003"]
    assert records[1]["failure"] is None and records[1]["prediction"]["attributes"]
    assert s["session"]["cache_misses"] == 1


def test_a_second_run_on_the_same_folder_is_refused(release, tmp_path):
    from prism_eval.runner import _lock
    ds, info = release_dataset(release)
    held = _lock(tmp_path)  # as if another `prism evaluate` were writing there
    try:
        with pytest.raises(PrismError, match="another `prism evaluate` is writing"):
            evaluate(ds, "lexicon", tmp_path, dataset_info=info, progress=False, limit=1)
    finally:
        held.close()
    assert evaluate(ds, "lexicon", tmp_path, dataset_info=info, progress=False, limit=1)["users"] == 1


@pytest.mark.parametrize("form", ["parquet", "save_to_disk"])
def test_dataset_folders(release, tmp_path, form):
    import datasets
    ds, _ = release_dataset(release)
    table = datasets.Dataset.from_list(list(ds.decode(False)), features=ds.features)
    folder = tmp_path / form
    if form == "parquet":
        folder.mkdir()
        table.to_parquet(str(folder / "test-00000-of-00001.parquet"))
    else:
        datasets.DatasetDict({"test": table}).save_to_disk(str(folder))
    loaded, info = load_users(str(folder))
    assert info["dataset"] == str(folder.resolve())
    s = evaluate(loaded, "lexicon", tmp_path / "out", dataset_info=info, progress=False)
    assert s["users"] == 6
    records = read_results(tmp_path / "out")
    assert records[0]["truth"]["sex"] == "male"  # ClassLabel names survive the round trip
    assert "post1:image" in records[0]["raw"]["image"]


def test_not_prism_records_is_a_clear_error(tmp_path):
    import datasets
    folder = tmp_path / "other"
    datasets.Dataset.from_dict({"text": ["a", "b"]}).save_to_disk(str(folder))
    with pytest.raises(PrismError, match="not PRISM user records"):
        load_users(str(folder))


def test_synthetic_dataset_with_a_leakage_plan(tmp_path):
    """--dataset synthetic builds users with the real generator; the leakage plan reaches the scores."""
    ds, info = load_users("synthetic", n_users=6, seed=7, cache_dir=str(tmp_path / "hf"))
    images = info.pop("images")
    assert info == {"dataset": "synthetic", "n_users": 6, "seed": 7}
    assert images["found"] == images["referenced"] > 0 and images["missing"] == 0
    s = evaluate(ds, "lexicon", tmp_path / "out", dataset_info=info, progress=False)
    records = read_results(tmp_path / "out")
    assert len(records) == 6 and len({r["user_id"] for r in records}) == 6
    planned = 0
    for r in records:
        assert r["leakage"], r["user_id"]
        for item in r["leakage"]:
            key = item["attribute"].split(".")[0]
            assert r["scores"]["attributes"][key]["revealed"] is True
            assert item["mode"] in r["scores"]["attributes"][key]["modes"]
            planned += 1
    assert s["scores"]["revealed"]["n"] + s["scores"]["unrevealed"]["n"] == 6 * 12
    assert 0 < s["scores"]["revealed"]["n"] <= planned
