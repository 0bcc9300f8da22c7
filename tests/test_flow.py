"""Scheduling without barriers: with API backends users flow through the stages on one event loop
(one client and one concurrency limit per backend); local backends keep batching; both give the
same results."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from release_factory import release_dataset

from prism_core.backends.base import Backend, Generation
from prism_core.backends.dummy import DummyBackend
from prism_core.errors import PrismError
from prism_eval.chain import VARIANTS
from prism_eval.runner import RESULTS, evaluate, read_results

REPO = Path(__file__).resolve().parents[1]


class AsyncHash(DummyBackend):
    """The dummy "hash" backend taking single requests on an event loop, as API backends do;
    ``gate(request)`` is awaited before answering; ``order`` lists what was submitted."""
    async_submit = True

    def __init__(self, gate=None, **options):
        super().__init__(responses="hash", **options)
        self.gate, self.order, self.batches = gate, [], 0

    def generate(self, requests):
        self.batches += 1
        return super().generate(requests)

    async def asubmit(self, request):
        self.order.append((request.tags["user_id"], request.tags["role"],
                           request.tags.get("image_id")))
        if self.gate is not None:
            await self.gate(request)
        return super().generate([request])[0]


def _chain(b):
    return {"text": b, "image": b, "synthesis": b}


def _strip(records):
    return [{k: v for k, v in r.items() if k != "cost"} for r in records]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_flowing_users_give_the_same_results_as_batches(release, tmp_path, variant):
    ds, info = release_dataset(release)
    batched, flowing = DummyBackend(responses="hash"), AsyncHash()
    roles = {r: batched for r in VARIANTS[variant]}
    evaluate(ds, roles, tmp_path / "b", variant=variant, dataset_info=info, progress=False)
    s = evaluate(ds, {r: flowing for r in VARIANTS[variant]}, tmp_path / "f", variant=variant,
                 dataset_info=info, progress=False)
    assert flowing.order and flowing.batches == 0          # every call went through asubmit
    assert s["users"] == 6
    assert _strip(read_results(tmp_path / "f")) == _strip(read_results(tmp_path / "b"))


def test_a_users_synthesis_does_not_wait_for_other_users_evidence(release, tmp_path):
    ds, info = release_dataset(release)
    seen: dict = {}

    async def gate(request):
        ready = seen.setdefault("ready", asyncio.Event())
        if request.tags["user_id"] == "person-002" and request.tags["role"] == "synthesis":
            ready.set()
        if request.tags["user_id"] == "person-001" and request.tags["role"] == "text":
            # behind a stage barrier person-002's synthesis never comes: this times out
            await asyncio.wait_for(ready.wait(), 120)

    b = AsyncHash(gate)
    s = evaluate(ds, _chain(b), tmp_path, dataset_info=info, progress=False)
    assert s["complete"] == 6
    assert b.order.index(("person-002", "synthesis", None)) < b.order.index(
        ("person-001", "synthesis", None))


def test_local_backends_keep_batching_stage_by_stage(release, tmp_path):
    ds, info = release_dataset(release)

    class Batches(DummyBackend):
        def __init__(self):
            super().__init__(responses="hash")
            self.roles = []

        def generate(self, requests):
            self.roles.append(sorted({r.tags["role"] for r in requests}) + [len(requests)])
            return super().generate(requests)

    b = Batches()
    evaluate(ds, _chain(b), tmp_path, dataset_info=info, progress=False)
    n_images = sum(len(r["raw"]["image"]) for r in read_results(tmp_path))
    assert b.roles == [["text", 6], ["image", n_images], ["synthesis", 6]]


def test_one_client_per_backend_and_its_concurrency_limit_over_all_users(release, tmp_path,
                                                                         monkeypatch):
    import openai
    from fake_openai import FakeOpenAIServer

    from prism_core.backends import get_backend

    made = []

    class Counted(openai.AsyncOpenAI):
        def __init__(self, **kw):
            made.append(kw["base_url"])
            super().__init__(**kw)

    monkeypatch.setattr(openai, "AsyncOpenAI", Counted)
    monkeypatch.setenv("FAKE_KEY", "k")
    ds, info = release_dataset(release)
    with FakeOpenAIServer(latency=0.05) as server:
        b = get_backend("openai:fake", base_url=server.base_url, api_key_env="FAKE_KEY",
                        concurrency=3)
        s = evaluate(ds, _chain(b), tmp_path, dataset_info=info, progress=False)
        assert s["users"] == 6 and server.requests == s["cost"]["calls"] - s["cost"]["cached"]
        assert len(made) == 1
        assert server.max_in_flight == 3  # the limit holds across users, and is reached
        made.clear()
        other = get_backend("openai:other", base_url=server.base_url, api_key_env="FAKE_KEY",
                            concurrency=2)
        evaluate(ds, {"text": other, "image": b, "synthesis": b}, tmp_path / "two",
                 dataset_info=info, progress=False)
        assert len(made) == 2


def test_a_configuration_error_in_the_flow_stops_the_run(release, tmp_path):
    ds, info = release_dataset(release)

    class Refused(AsyncHash):
        async def asubmit(self, request):
            raise PrismError("model 'x' needs an API key: set the environment variable X_KEY")

    with pytest.raises(PrismError, match="X_KEY"):
        evaluate(ds, _chain(Refused()), tmp_path / "a", dataset_info=info, progress=False)
    with pytest.raises(PrismError, match="first batch failed.*connection refused"):
        evaluate(ds, _chain(AsyncHash(error="connection refused")), tmp_path / "b",
                 dataset_info=info, progress=False)
    assert not (tmp_path / "b" / RESULTS).exists()


def test_an_exception_in_one_call_fails_only_that_call(release, tmp_path):
    ds, info = release_dataset(release)

    class Broken(AsyncHash):
        async def asubmit(self, request):
            if request.tags["user_id"] == "person-003" and request.tags["role"] == "text":
                raise ValueError("cannot encode")
            return await super().asubmit(request)

    s = evaluate(ds, _chain(Broken()), tmp_path, dataset_info=info, progress=False)
    assert s["partial_users"] == ["person-003"] and s["complete"] == 5


def test_the_default_async_submit_runs_generate_on_a_thread():
    class Plain(Backend):
        def generate(self, requests):
            return [Generation(text=r.text().upper()) for r in requests]

    async def go():
        from prism_core.backends import ChatRequest
        async with Plain().session() as b:
            return await b.asubmit(ChatRequest.from_prompt("hi"))
    assert asyncio.run(go()).text == "HI"


# ---------------------------------------------------------------- cheap start

def test_api_and_lexicon_commands_import_no_torch(release, tmp_path):
    from fake_openai import FakeOpenAIServer
    code = ("import sys\n"
            "from prism_eval.cli import main\n"
            "assert main(sys.argv[1:]) == 0\n"
            "print(json.dumps([m for m in ('torch', 'transformers', 'vllm', 'diffusers') "
            "if m in sys.modules]))\n").replace("import sys", "import json, sys")
    with FakeOpenAIServer() as server:
        api = ["evaluate", "--dataset", str(release), "--model", "openai:fake", "--backend-option",
               f"base_url={server.base_url}", "--backend-option", "api_key_env=FAKE_KEY",
               "--out", str(tmp_path / "api"), "--no-progress"]
        lexicon = ["evaluate", "--dataset", str(release), "--model", "lexicon",
                   "--out", str(tmp_path / "lex"), "--no-progress"]
        for argv in (api, lexicon):
            out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                                 text=True, env={**_env(), "FAKE_KEY": "k"}, timeout=300)
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout.strip().splitlines()[-1]) == [], argv[4]


def _env():
    import os
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_caller_that_stops_early_cancels_the_users_in_flight(release):
    import threading

    from prism_eval.chain import Chain
    from prism_eval.datasets_io import iter_users
    from prism_eval.run.flow import flow

    ds, _ = release_dataset(release)
    cancelled, entered = [], threading.Event()

    async def gate(request):
        if request.tags["user_id"] == "person-003":
            entered.set()
            try:
                await asyncio.Event().wait()          # hangs until cancelled
            except asyncio.CancelledError:
                cancelled.append(request.tags["role"])
                raise

    b = AsyncHash(gate)
    outcomes = flow(Chain(_chain(b)), iter_users(ds), window=6)
    first = next(outcomes)
    assert first and all(o.user.user_id != "person-003" for o in first)
    assert entered.wait(120)                           # person-003's call is in flight
    closer = threading.Thread(target=outcomes.close)   # stops the flow and waits for its thread
    closer.start()
    closer.join(120)
    assert not closer.is_alive() and cancelled
