"""Fault injection against a loopback OpenAI-compatible server: 429 with Retry-After, 5xx, hangs,
malformed bodies, non-JSON answers, and kill -9 during a run. Asserts nothing lost, nothing
silently wrong, nothing paid twice, and results equal to a clean run once faults stop."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_openai import FakeOpenAIServer, last_user_text

from prism_eval.runner import SUMMARY, read_results

REPO = Path(__file__).resolve().parents[1]


def _answer(body: dict) -> str:
    """Varied, valid answers: a guess that depends on the request."""
    h = int(hashlib.sha256(last_user_text(body).encode()).hexdigest(), 16)
    return json.dumps({"age": {"guesses": [20 + h % 50], "confidence": 0.5},
                       "sex": {"guesses": ["female" if h % 2 else "male"], "confidence": 0.6}})


class RecordingServer(FakeOpenAIServer):
    """Also records, per answered request, when its answer was written and what it asked."""

    def __init__(self, **kw):
        super().__init__(reply=_answer, **kw)
        self.answered: list[tuple[float, str]] = []

    def _completion(self, body: dict) -> dict:
        return {**super()._completion(body), "_key": _key(body)}  # extra field: ignored by clients

    def _send(self, h, status, obj, headers=None):
        super()._send(h, status, obj, headers)
        if status == 200 and obj.get("choices"):
            with self.lock:
                self.answered.append((time.time(), obj["_key"]))


def _key(body: dict) -> str:
    return hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()


def _cmd(release, server, out, *extra):
    return [sys.executable, "-m", "prism_eval.cli", "evaluate", "--dataset", str(release),
            "--model", "openai:fake-vlm", "--backend-option", f"base_url={server.base_url}",
            "--backend-option", "api_key_env=FAKE_KEY", "--backend-option", "backoff_base=0.01",
            "--backend-option", "backoff_max=0.05", "--backend-option", "timeout=2",
            "--out", str(out), "--no-progress", *extra]


def _env():
    return {**os.environ, "FAKE_KEY": "test-key", "PYTHONPATH": str(REPO)}


def _strip(records):
    return [{k: v for k, v in r.items() if k != "cost"} for r in records]


def test_kill_during_a_stage_resends_nothing_answered_and_matches_a_clean_run(release, tmp_path):
    posts = json.loads((release / "posts.json").read_text())
    hang = posts["person-003"]["posts"]["post1"][:40]   # this text call hangs in the 2nd run
    with RecordingServer(latency=0.05, slow_s=8) as server:
        clean = subprocess.run(_cmd(release, server, tmp_path / "clean"), env=_env(),
                               capture_output=True, text=True, timeout=300)
        assert clean.returncode == 0, clean.stderr
        total = len(server.answered)
        server.answered.clear()
        server.reset()
        server.faults = {hang: ["slow"]}
        proc = subprocess.Popen(_cmd(release, server, tmp_path / "run", "--batch-size", "6"),
                                env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        # the other users' text answers are in; person-003's hangs: kill during the stage
        while time.time() < deadline and not (
                len(server.answered) >= 5 and time.time() - server.answered[-1][0] > 1.0):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait()
        assert 0 < len(server.answered) < total
        before = {k for t, k in server.answered if t < killed_at - 0.5}
        assert before, "nothing was answered before the kill"
        server.reset()
        resumed = subprocess.run(_cmd(release, server, tmp_path / "run", "--batch-size", "6"), env=_env(),
                                 capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        resent = {_key(b) for b in server.bodies}
    assert not (before & resent), f"{len(before & resent)} answered request(s) sent again"
    assert _strip(read_results(tmp_path / "run")) == _strip(read_results(tmp_path / "clean"))


def test_mixed_faults_then_retry_failed_equals_a_clean_run(release, tmp_path):
    # person-002's first post text and one image answer with errors more often than the retries
    # allow; other requests get 429 (Retry-After), 503, malformed bodies and no choices once
    faults = {"Bought fresh food": ["500"] * 3, "[post2:image]": ["429", "503"],
              "images: 1": ["malformed", "nochoices"]}
    with RecordingServer(latency=0.01, faults=faults) as server:
        run = subprocess.run(_cmd(release, server, tmp_path / "run", "--backend-option",
                                  "max_retries=1"), env=_env(), capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        s = json.loads((tmp_path / "run" / SUMMARY).read_text())
        records = read_results(tmp_path / "run")
        # nothing silently wrong: a user with a failed call is never "complete"
        for r in records:
            failed = [c for c in r["calls"] if c["outcome"] == "failed"]
            assert (r["status"] == "complete") == (not failed and not r["failure"])
        assert s["complete"] + s["partial"] + s["failures"] == s["users"] == 6
        assert s["partial"] + s["failures"] >= 1
        server.faults.clear()
        server.reset()
        again = subprocess.run(_cmd(release, server, tmp_path / "run", "--retry-failed"),
                               env=_env(), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        failed_before = sum(1 for r in records for c in r["calls"] if c["outcome"] == "failed")
        redone = sum(1 for r in records if r["status"] != "complete")
        # exactly the failed calls, then one synthesis per redone user
        assert server.requests == failed_before + redone
        server.reset()
        clean = subprocess.run(_cmd(release, server, tmp_path / "clean"), env=_env(),
                               capture_output=True, text=True, timeout=300)
        assert clean.returncode == 0, clean.stderr
    s = json.loads((tmp_path / "run" / SUMMARY).read_text())
    assert s["complete"] == 6
    assert _strip(read_results(tmp_path / "run")) == _strip(read_results(tmp_path / "clean"))


def test_a_hung_call_fails_only_its_user_after_the_timeout(release, tmp_path):
    with RecordingServer(latency=0.01, faults={"[post1:image]": ["slow"] * 3}, slow_s=4) as server:
        run = subprocess.run(_cmd(release, server, tmp_path / "run", "--backend-option",
                                  "max_retries=0", "--limit", "2"), env=_env(),
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    records = read_results(tmp_path / "run")
    statuses = {r["user_id"]: r["status"] for r in records}
    assert "partial" in statuses.values()
    hung = [c for r in records for c in r["calls"] if c["outcome"] == "failed"]
    assert hung and all("timed out" in c["error"] for c in hung)
