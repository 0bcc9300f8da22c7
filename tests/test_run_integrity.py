"""Run integrity: per-call accounting, isolation, answers cached as they arrive, locks, run
folders written by anyone, input guards, cheap start."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from release_factory import make_release, release_dataset

from prism_core.backends.base import Generation
from prism_core.backends.dummy import DummyBackend
from prism_core.errors import PrismError
from prism_eval.cli import main
from prism_eval.datasets_io import load_users
from prism_eval.runner import RESULTS, SUMMARY, RunSpec, evaluate, read_results, rescore


class Scripted(DummyBackend):
    """Hash answers; ``fail(request)`` True gives that request an error; records what it sent."""

    def __init__(self, fail=None, text=None):
        super().__init__(responses="hash")
        self.fail, self.text, self.sent = fail, text, []

    def generate(self, requests):
        out = []
        for r, g in zip(requests, super().generate(requests)):
            self.sent.append((r.tags["user_id"], r.tags["role"], r.tags.get("image_id")))
            if self.fail and self.fail(r):
                g = Generation(error="503 Service Unavailable (after 2 attempt(s))")
            elif self.text and self.text(r) is not None:
                g = Generation(text=self.text(r))
            out.append(g)
        return out


class AsyncScripted(Scripted):
    """Scripted, taking single requests on an event loop as API backends do: users then flow
    through the stages one by one instead of in batches (prism_eval/run/flow.py)."""
    async_submit = True

    async def asubmit(self, request):
        return self.generate([request])[0]


#: Both ways of running users: batched stage by stage (local backends), flowing (API backends).
KINDS = pytest.mark.parametrize("kind", [Scripted, AsyncScripted], ids=["batches", "flow"])


def _chain(b):
    return {"text": b, "image": b, "synthesis": b}


# ---------------------------------------------------------------- per-call accounting

@KINDS
def test_a_failed_image_call_makes_the_user_partial_and_retry_failed_redoes_only_it(release, tmp_path,
                                                                                    kind):
    ds, info = release_dataset(release)
    down = {"on": True}
    b = kind(fail=lambda r: down["on"] and r.tags["user_id"] == "person-002"
                 and r.tags.get("image_id") == "post1:image")
    s = evaluate(ds, _chain(b), tmp_path, dataset_info=info, progress=False)
    rec = read_results(tmp_path)[1]
    assert rec["status"] == "partial" and rec["failure"] is None
    failed = [c for c in rec["calls"] if c["outcome"] == "failed"]
    assert [(c["role"], c["image_id"]) for c in failed] == [("image", "post1:image")]
    assert s["complete"] == 5 and s["partial"] == 1 and s["failures"] == 0
    assert s["partial_users"] == ["person-002"]
    assert s["scores"]["n_users"] == 5            # headline over complete users only
    assert s["scores_all_users"]["n_users"] == 6
    assert s["calls"]["failed"] == 1
    down["on"] = False
    b.sent.clear()
    s = evaluate(ds, _chain(b), tmp_path, dataset_info=info, progress=False, retry_failed=True)
    # exactly the failed call, then a new synthesis; the answered calls came from the cache
    assert b.sent == [("person-002", "image", "post1:image"), ("person-002", "synthesis", None)]
    assert s["complete"] == 6 and s["partial"] == 0
    clean = tmp_path / "clean"
    evaluate(ds, _chain(Scripted()), clean, dataset_info=info, progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "cost"} for r in rs]  # noqa: E731
    assert strip(read_results(tmp_path)) == strip(read_results(clean))


@KINDS
def test_headline_ignores_failed_users(release, tmp_path, kind):
    ds, info = release_dataset(release)
    b = kind(fail=lambda r: r.tags["user_id"] in ("person-001", "person-002"))
    s = evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info, progress=False)
    assert s["failures"] == 2 and s["complete"] == 4
    clean = evaluate(ds, {"single": Scripted()}, tmp_path / "c", variant="single",
                     dataset_info=info, progress=False, limit=None)
    assert s["scores"]["n_users"] == 4
    assert s["scores"]["top1"] is not None and s["scores"]["top1"] >= s["scores_all_users"]["top1"]
    assert clean["scores"]["n_users"] == 6


def test_format_1_records_are_read_as_complete_or_failed(tmp_path):
    from prism_eval.runner import summarise
    old = [{"user_id": "a", "prediction": {}, "scores": None, "failure": None},
           {"user_id": "b", "prediction": {}, "scores": None, "failure": "synthesis failed"}]
    s = summarise(old, config={})
    assert (s["complete"], s["partial"], s["failures"]) == (1, 0, 1) and s["format"] == 2


# ---------------------------------------------------------------- isolation

def test_a_request_that_cannot_be_encoded_fails_only_its_user(v1_dir, tmp_path):
    def edit(posts, target):
        posts["person-003"]["posts"]["post1"] += " a lone surrogate \ud800 here"
    rel = make_release(v1_dir, tmp_path / "rel", n_users=6, edit=edit)
    table, _ = load_users("v1", data_dir=str(rel))
    s = evaluate(table, "lexicon", tmp_path, progress=False, variant="text-only")
    records = read_results(tmp_path)
    assert [r["status"] for r in records] == ["complete", "complete", "failed",
                                              "complete", "complete", "complete"]
    assert "UnicodeEncodeError" in records[2]["failure"]
    assert s["failures"] == 1
    # --retry-failed goes through (the user fails again, the run does not stop)
    s = evaluate(table, "lexicon", tmp_path, progress=False, variant="text-only", retry_failed=True)
    assert s["failures"] == 1 and s["complete"] == 5


def test_a_batch_level_error_is_retried_user_by_user(release, tmp_path):
    ds, info = release_dataset(release)

    class Picky(Scripted):
        def generate(self, requests):
            if any(r.tags["user_id"] == "person-003" for r in requests):
                raise ValueError("cannot encode person-003's request")
            return super().generate(requests)

    s = evaluate(ds, {"single": Picky()}, tmp_path, variant="single", dataset_info=info,
                 progress=False)
    assert s["failed_users"] == ["person-003"] and s["complete"] == 5


# ---------------------------------------------------------------- unparsed answers

@KINDS
def test_retry_unparsed_asks_again_past_the_cache(release, tmp_path, kind):
    ds, info = release_dataset(release)
    garbled = {"on": True}
    b = kind(text=lambda r: "I cannot answer that." if garbled["on"]
                 and r.tags["user_id"] == "person-004" else None)
    evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info, progress=False)
    rec = read_results(tmp_path)[3]
    assert [c["outcome"] for c in rec["calls"]] == ["unparsed"]
    garbled["on"] = False
    b.sent.clear()
    evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info, progress=False)
    assert b.sent == []                              # a plain resume: nothing asked
    s = evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info,
                 progress=False, retry_unparsed=True)
    assert b.sent == [("person-004", "single", None)]
    assert read_results(tmp_path)[3]["calls"][0]["outcome"] == "ok"
    assert s["calls"]["unparsed"] == 0


# ---------------------------------------------------------------- cache as answers arrive

def test_api_answers_are_cached_as_they_arrive(tmp_path, monkeypatch):
    from fake_openai import FakeOpenAIServer

    from prism_core.backends import get_backend
    from prism_core.backends.base import ChatRequest
    from prism_core.cache import CachedBackend, ResponseCache

    monkeypatch.setenv("FAKE_KEY", "k")
    with FakeOpenAIServer(faults={"hang": ["slow"]}, slow_s=8.0) as server:
        api = get_backend("openai:fake", base_url=server.base_url, api_key_env="FAKE_KEY",
                          timeout=10, max_retries=0)
        cache = ResponseCache(tmp_path / "c.sqlite")
        cb = CachedBackend(api, cache)
        reqs = [ChatRequest.from_prompt(f"question {i}") for i in range(5)]
        reqs.append(ChatRequest.from_prompt("hang"))
        t = threading.Thread(target=cb.generate, args=(reqs,))
        t.start()
        deadline = time.time() + 7
        while time.time() < deadline and len(ResponseCache(tmp_path / "c.sqlite")) < 5:
            time.sleep(0.05)
        assert len(ResponseCache(tmp_path / "c.sqlite")) == 5   # before the hung call returns
        assert t.is_alive()
        t.join()


# ---------------------------------------------------------------- locks

def test_score_takes_the_lock_and_messages_name_the_holder(release, tmp_path):
    from prism_eval.run.store import lock
    ds, info = release_dataset(release)
    evaluate(ds, "lexicon", tmp_path, dataset_info=info, progress=False, limit=2)
    held = lock(tmp_path, "prism audit")
    try:
        with pytest.raises(PrismError, match=r"another `prism audit` is writing.*pid"):
            rescore(tmp_path)
        with pytest.raises(PrismError, match=r"another `prism audit` is writing"):
            evaluate(ds, "lexicon", tmp_path, dataset_info=info, progress=False, limit=2)
    finally:
        held.close()
    held = lock(tmp_path, "prism score")
    try:
        with pytest.raises(PrismError, match=r"another `prism score` is writing"):
            evaluate(ds, "lexicon", tmp_path, dataset_info=info, progress=False, limit=2)
    finally:
        held.close()
    assert rescore(tmp_path)["users"] == 2


# ---------------------------------------------------------------- run folders written by anyone

def _good_run(release, out):
    ds, info = release_dataset(release)
    evaluate(ds, "lexicon", out, dataset_info=info, progress=False, limit=3)
    return out


def test_malformed_results_lines_are_counted_and_skipped(release, tmp_path, caplog):
    out = _good_run(release, tmp_path / "run")
    lines = (out / RESULTS).read_text().splitlines(keepends=True)
    deep = "[" * 200_000 + "]" * 200_000 + "\n"
    bad = ["[1, 2, 3]\n", '{"index": 7}\n', "garbage {{{\n", deep, '"just a string"\n',
           '{"user_id": "x", "prediction": [1]}\n']
    (out / RESULTS).write_text("".join(lines + bad + [lines[0]]) + '{"user_id": "half')
    with caplog.at_level("WARNING"):
        records = read_results(out)
    assert [r["user_id"] for r in records] == ["person-001", "person-002", "person-003"]
    assert "duplicates" in caplog.text and "malformed" in caplog.text
    assert rescore(out)["users"] == 3                       # score: no traceback
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0


def test_corrupt_run_json_summary_and_cache_are_one_line_errors(release, tmp_path, capsys):
    ds, info = release_dataset(release)
    out = _good_run(release, tmp_path / "run")
    (out / "run.json").write_text("{not json")
    with pytest.raises(PrismError, match="run.json.*not valid JSON"):
        evaluate(ds, "lexicon", out, dataset_info=info, progress=False, limit=3)
    out2 = _good_run(release, tmp_path / "run2")
    (out2 / SUMMARY).write_text("\x00\x01")
    with pytest.raises(PrismError, match="summary.json.*not valid JSON"):
        rescore(out2)
    out3 = _good_run(release, tmp_path / "run3")
    for name in ("cache.sqlite-wal", "cache.sqlite-shm"):
        (out3 / name).unlink(missing_ok=True)
    (out3 / "cache.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(PrismError, match="cache.sqlite.*not a usable response cache"):
        evaluate(ds, "lexicon", out3, dataset_info=info, progress=False, limit=3)
    assert main(["evaluate", "--dataset", str(release), "--model", "lexicon", "--limit", "3",
                 "--out", str(out3), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a usable response cache" in err


def test_duplicate_user_in_results_is_counted_once(release, tmp_path):
    out = _good_run(release, tmp_path / "run")
    text = (out / RESULTS).read_text()
    (out / RESULTS).write_text(text + text.splitlines(keepends=True)[1])
    assert [r["user_id"] for r in read_results(out)] == ["person-001", "person-002", "person-003"]


def test_summary_scores_are_the_aggregate_of_the_records(release, tmp_path):
    # summarise holds every user's scores compactly (flat memory): the numbers must not change
    from prism_eval.scoring import aggregate
    ds, info = release_dataset(release)
    s = evaluate(ds, {"single": Scripted(fail=lambda r: r.tags["user_id"] == "person-002")},
                 tmp_path, variant="single", dataset_info=info, progress=False)
    records = read_results(tmp_path)
    assert s["scores"] == aggregate([r["scores"] for r in records if r["status"] == "complete"])
    assert s["scores_all_users"] == aggregate([r["scores"] for r in records])
    syn, syn_info = load_users("synthetic", n_users=6, seed=3)   # with leakage plans
    s = evaluate(syn, "lexicon", tmp_path / "syn", variant="text-only", dataset_info=syn_info,
                 progress=False)
    assert "by_mode" in s["scores"]
    assert s["scores"] == aggregate([r["scores"] for r in read_results(tmp_path / "syn")])


# ---------------------------------------------------------------- cheap start

def test_lexicon_run_imports_no_torch(release, tmp_path):
    code = ("import sys\n"
            "from prism_eval.datasets_io import load_users\n"
            "from prism_eval.runner import evaluate\n"
            f"ds, info = load_users('v1', data_dir={str(release)!r})\n"
            f"evaluate(ds, 'lexicon', {str(tmp_path / 'o')!r}, progress=False)\n"
            "print([m for m in ('torch', 'transformers', 'vllm') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------- RunSpec

def test_runspec_and_keywords_are_the_same_run(release, tmp_path):
    ds, info = release_dataset(release)
    a = evaluate(ds, "lexicon", tmp_path / "a", spec=RunSpec(variant="text-only", limit=2,
                                                             progress=False, dataset_info=info))
    b = evaluate(ds, "lexicon", tmp_path / "b", variant="text-only", limit=2, progress=False,
                 dataset_info=info)
    assert a["scores"] == b["scores"] and a["config"] == b["config"]
    with pytest.raises(TypeError, match="bogus"):
        evaluate(ds, "lexicon", tmp_path / "c", bogus=1)


def test_audit_holds_its_lock_under_its_own_name(release, tmp_path, monkeypatch):
    import prism_eval.run.loop as loop
    from prism_eval.run.store import lock
    seen = []

    def spy(out, command=None):
        seen.append(command)
        return lock(out, command)
    monkeypatch.setattr(loop, "lock", spy)
    assert main(["audit", "--dataset", str(release), "--variants", "chain", "--out",
                 str(tmp_path / "a"), "--no-progress", "--limit", "1"]) == 0
    assert seen == ["prism audit"]


# ---------------------------------------------------------------- input guards

def test_credentials_in_urls_are_scrubbed_from_written_configuration(release, tmp_path, monkeypatch):
    from fake_openai import FakeOpenAIServer

    from prism_core.backends import get_backend
    monkeypatch.setenv("FAKE_KEY", "k")
    ds, info = release_dataset(release)
    with FakeOpenAIServer() as server:
        url = server.base_url.replace("http://", "http://alice:hunter2@") + "?api_key=s3cret"
        b = get_backend("openai:fake", base_url=url, api_key_env="FAKE_KEY")
        assert "hunter2" not in json.dumps(b.describe()) and "s3cret" not in json.dumps(b.describe())
        info = {**info, "source": "https://bob:pa55@hub.example/x?token=t0ken"}
        evaluate(ds, {"single": b}, tmp_path, variant="single", dataset_info=info,
                 progress=False, limit=1)
    written = "".join((tmp_path / n).read_text() for n in ("summary.json", "run.json"))
    for secret in ("hunter2", "s3cret", "pa55", "t0ken"):
        assert secret not in written


def test_oversized_and_unencodable_api_requests_fail_alone_unsent(monkeypatch):
    from fake_openai import FakeOpenAIServer

    from prism_core.backends import get_backend
    from prism_core.backends.base import ChatRequest
    monkeypatch.setenv("FAKE_KEY", "k")
    with FakeOpenAIServer() as server:
        b = get_backend("openai:fake", base_url=server.base_url, api_key_env="FAKE_KEY",
                        max_request_bytes=100_000)
        big, bad, ok = (ChatRequest.from_prompt("x" * 200_000),
                        ChatRequest.from_prompt("lone \ud800"), ChatRequest.from_prompt("fine"))
        g_big, g_bad, g_ok = b.generate([big, bad, ok])
        assert "max_request_bytes" in g_big.error and "encode" in g_bad.error and g_ok.ok
        assert server.requests == 1


def test_a_long_post_is_cut_and_the_cut_recorded(release, tmp_path):
    from prism_eval import datasets_io
    row = {"user_id": "u", "posts": [{"post_id": "p1", "text": "y" * (datasets_io.MAX_POST_CHARS + 5)},
                                     {"post_id": "p2", "text": "short"}]}
    u = datasets_io.user_input(row)
    assert len(u.posts[0].text) == datasets_io.MAX_POST_CHARS and u.posts[1].text == "short"
    assert u.truncated_posts == [{"post_id": "p1", "chars": datasets_io.MAX_POST_CHARS + 5}]


def test_an_empty_release_is_an_error(v1_dir, tmp_path, capsys):
    def edit(posts, target):
        posts.clear()
        target.clear()
    rel = make_release(v1_dir, tmp_path / "rel", edit=edit)
    assert main(["evaluate", "--dataset", str(rel), "--model", "lexicon", "--out",
                 str(tmp_path / "o"), "--no-progress"]) == 2
    assert "no users" in capsys.readouterr().err


def test_a_built_dataset_is_read_as_a_stream_with_the_same_rows(tmp_path):
    """A prepared (memory-mapped) Dataset is read batch by batch from its Arrow file, so memory
    stays flat in the dataset's size; the rows, positions and image counts are those of the
    table path, and a dataset changed since it was written (selected, with indices) falls back."""
    from prism_eval.datasets_io import (_stream_files, dataset_image_counts, iter_users,
                                        user_input)

    ds, info = load_users("synthetic", n_users=12, seed=3, cache_dir=str(tmp_path / "hf"))
    assert _stream_files(ds) is not None
    table = [user_input(r, i, ds.features) for i, r in enumerate(ds.with_format("arrow")[:].to_pylist())]
    assert list(iter_users(ds, chunk=5)) == table
    assert [u.index for u in iter_users(ds, [2, 3, 11])] == [2, 3, 11]
    assert list(iter_users(ds, [2, 3, 11])) == [table[2], table[3], table[11]]
    assert dataset_image_counts(ds) == info["images"] and info["images"]["found"] == 36
    picked = ds.select([7, 1])
    assert _stream_files(picked) is None
    assert [u.user_id for u in iter_users(picked)] == [table[7].user_id, table[1].user_id]
