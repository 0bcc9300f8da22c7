"""The SQLite response cache and the CachedBackend wrapper."""
from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3

import pytest
from fake_openai import FakeOpenAIServer
from tiny_models import tiny_image

from prism_core.backends import ChatRequest, Generation, get_backend
from prism_core.backends.dummy import DummyBackend
from prism_core.cache import CachedBackend, ResponseCache, request_key


class CountingDummy(DummyBackend):
    """Echo backend that records how many requests reached it."""

    def __init__(self, **options):
        super().__init__(responses="echo", **options)
        self.seen = 0

    def generate(self, requests):
        self.seen += len(requests)
        return super().generate(requests)


def _req(text="hello", image=tiny_image(0), **settings) -> ChatRequest:
    tags = settings.pop("tags", {"role": "text", "template_hash": "t1"})
    return ChatRequest.from_prompt(text, images=[image] if image else None, tags=tags, **settings)


def test_hit_on_identical_request_and_misses_on_changes(tmp_path):
    inner = CountingDummy()
    backend = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    first = backend.generate([_req()])[0]
    again = backend.generate([_req()])[0]
    assert (backend.hits, backend.misses, inner.seen) == (1, 1, 1)
    assert not first.cached and again.cached
    assert (again.text, again.prompt_tokens, again.completion_tokens, again.latency_s,
            again.finish_reason) == (first.text, first.prompt_tokens, first.completion_tokens,
                                     first.latency_s, first.finish_reason)
    changed = [_req(image=tiny_image(1)),                       # other image bytes
               _req(max_tokens=100), _req(seed=5), _req(stop=["x"]),  # other settings
               _req(response_format="json"), _req(text="hello!"),    # other prompt
               _req(tags={"role": "image", "template_hash": "t1"}),  # other role
               _req(tags={"role": "text", "template_hash": "t2"})]   # other template
    gens = backend.generate(changed)
    assert not any(g.cached for g in gens)
    assert backend.misses == 1 + len(changed) and inner.seen == 1 + len(changed)
    assert backend.generate(changed) and backend.hits == 1 + len(changed)


def test_other_model_or_revision_misses(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    req = _req()
    keys = {request_key(DummyBackend(model=m, revision=r), req)
            for m, r in [("a", None), ("b", None), ("a", "v2")]}
    assert len(keys) == 3
    CachedBackend(DummyBackend(model="a"), cache).generate([req])
    other = CachedBackend(DummyBackend(model="b"), cache)
    assert not other.generate([req])[0].cached and other.misses == 1


def test_sampled_calls_bypass_the_cache_unless_asked(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    inner = CountingDummy()
    backend = CachedBackend(inner, cache)
    backend.generate([_req(temperature=0.7, seed=1)] * 2)
    backend.generate([_req(temperature=0.7, seed=1)])
    assert inner.seen == 3 and backend.uncached == 3 and backend.hits == 0 and len(cache) == 0
    sampled = CachedBackend(inner, cache, cache_sampled=True)
    sampled.generate([_req(temperature=0.7, seed=1)])
    assert sampled.generate([_req(temperature=0.7, seed=1)])[0].cached


def test_duplicates_in_one_call_are_sent_once_and_order_is_kept(tmp_path):
    inner = CountingDummy()
    backend = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    reqs = [_req("a"), _req("b"), _req("a"), _req("c")]
    gens = backend.generate(reqs)
    assert inner.seen == 3
    assert [g.text for g in gens] == [r.text() for r in reqs]
    assert [g.cached for g in gens] == [False, False, True, False]


def test_errors_are_not_stored(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    failing = CachedBackend(DummyBackend(error="boom"), cache)
    assert failing.generate([_req()])[0].error == "boom"
    assert len(cache) == 0
    working = CachedBackend(DummyBackend(), cache)
    assert working.generate([_req()])[0].ok and len(cache) == 1


def test_persistent_across_instances_and_wal(tmp_path):
    path = tmp_path / "c.sqlite"
    CachedBackend(DummyBackend(), ResponseCache(path)).generate([_req()])
    again = CachedBackend(DummyBackend(), ResponseCache(path))
    assert again.generate([_req()])[0].cached
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _writer(path: str, worker: int, n: int, start) -> None:
    start.wait()  # all processes open the new file at the same moment
    cache = ResponseCache(path)
    for i in range(n):
        # every worker writes its own keys and a shared key space that collides on purpose
        cache.put(f"w{worker}-{i}", Generation(text=f"{worker}:{i}", completion_tokens=i))
        cache.put_many({f"shared-{i}": Generation(text=f"shared {i}")})
        assert cache.get(f"w{worker}-{i}").text == f"{worker}:{i}"


def test_concurrent_writers_in_several_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_writer, args=(path, w, 60, start)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = ResponseCache(path)
    assert len(cache) == 4 * 60 + 60
    assert cache.get("w3-59").text == "3:59" and cache.get("w3-59").completion_tokens == 59
    assert cache.get("shared-7").text == "shared 7" and cache.get("shared-7").cached


def test_api_key_is_neither_key_nor_value(tmp_path, monkeypatch):
    secret = "sk-cache-SECRET-777"
    monkeypatch.setenv("FAKE_API_KEY", secret)
    path = tmp_path / "c.sqlite"
    with FakeOpenAIServer() as server:
        api = get_backend("openai:fake", base_url=server.base_url, api_key_env="FAKE_API_KEY")
        backend = CachedBackend(api, ResponseCache(path))
        reqs = [_req(f"q{i}", image=tiny_image(i)) for i in range(5)]
        first = backend.generate(reqs)
        assert server.requests == 5 and all(g.ok for g in first)
        second = backend.generate(reqs)
        assert server.requests == 5 and all(g.cached for g in second)
        assert [g.text for g in second] == [g.text for g in first]
    backend.cache.close()
    for f in tmp_path.iterdir():  # the database, its WAL and shared-memory files
        assert secret.encode() not in f.read_bytes(), f.name
    rows = sqlite3.connect(path).execute("SELECT key, value FROM responses").fetchall()
    assert rows and all(secret not in k + v for k, v in rows)
    assert set(json.loads(rows[0][1])) == {"text", "prompt_tokens", "completion_tokens",
                                           "latency_s", "finish_reason"}


def test_cache_is_picklable_for_worker_processes(tmp_path):
    import pickle

    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", Generation(text="v"))
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.get("k").text == "v"


@pytest.mark.parametrize("backend_name", ["dummy", "lexicon"])
def test_wrapper_keeps_backend_identity(tmp_path, backend_name):
    inner = get_backend(backend_name)
    wrapped = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    assert wrapped.describe() == inner.describe() and wrapped.local == inner.local
    assert wrapped.name == backend_name and wrapped.stats() == {"hits": 0, "misses": 0,
                                                                 "uncached": 0}


def test_identity_is_read_once_per_call_and_keys_are_the_same_either_way(tmp_path):
    class IdentityCounter(CountingDummy):
        identities = 0

        def cache_identity(self):
            self.identities += 1
            return super().cache_identity()

    inner = IdentityCounter()
    reqs = [_req(text=f"t{i}") for i in range(4)] + [_req(text="t0"), _req(image=None),
                                                     _req(text="s", temperature=0.7)]
    for backend in (inner, DummyBackend(model="m", revision="r", responses={"a": "b"}),
                    get_backend("lexicon")):
        for r in reqs:
            assert request_key(backend, r) == request_key(backend, r, backend.cache_identity())
    path = tmp_path / "c.sqlite"
    wrapped = CachedBackend(inner, ResponseCache(path))
    inner.identities = 0
    wrapped.generate(reqs)
    assert inner.identities == 1 and inner.seen == 6
    stored = {k for (k,) in sqlite3.connect(path).execute("SELECT key FROM responses")}
    assert stored == {request_key(inner, r) for r in reqs[:-1]}
    inner.identities = 0
    wrapped.generate([reqs[-1]])  # sampled only: no key, so no identity either
    assert inner.identities == 0


def test_get_reads_what_get_many_reads(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many({"a": Generation(text="x", prompt_tokens=3, finish_reason="stop"),
                    "b": Generation(error="boom")})
    assert cache.get("a") == cache.get_many(["a"])["a"] and cache.get("a").cached
    assert (cache.get("a").text, cache.get("a").prompt_tokens) == ("x", 3)
    assert cache.get("b") is None and cache.get("missing") is None


class AsyncCounting(CountingDummy):
    """Takes single requests on an event loop (as API backends do), a little later."""
    async_submit = True

    async def asubmit(self, request):
        import asyncio
        self.seen += 1
        await asyncio.sleep(0.01)
        return DummyBackend.generate(self, [request])[0]


def test_asubmit_serves_hits_stores_each_answer_and_sends_a_repeat_once(tmp_path):
    import asyncio
    cache = ResponseCache(tmp_path / "c.sqlite")
    inner = AsyncCounting()
    backend = CachedBackend(inner, cache)
    assert backend.async_submit

    def run(reqs):
        async def go():
            return await asyncio.gather(*(backend.asubmit(r) for r in reqs))
        return asyncio.run(go())

    a, b, c = run([_req(), _req(), _req(text="other")])   # b: a repeat while a is on its way
    assert inner.seen == 2 and (backend.hits, backend.misses) == (1, 2)
    assert not a.cached and b.cached and b.text == a.text and len(cache) == 2
    [d] = run([_req()])
    assert d.cached and d.text == a.text and inner.seen == 2
    [e] = run([_req(tags={"role": "text", "template_hash": "t1", "refresh": True})])
    assert not e.cached and inner.seen == 3                 # asked again past the cache
    [f] = run([_req(temperature=0.7)])
    assert backend.uncached == 1 and inner.seen == 4 and len(cache) == 2
    failing = CachedBackend(AsyncCounting(error="boom"), cache)
    g = asyncio.run(failing.asubmit(_req(text="fails")))
    assert g.error == "boom" and len(cache) == 2            # errors are never stored
