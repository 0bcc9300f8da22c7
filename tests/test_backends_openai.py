"""The openai backend against a fake chat-completions server on 127.0.0.1 (faults injected)."""
from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest
from fake_openai import FakeOpenAIServer, image_urls, last_user_text
from tiny_models import tiny_image

from prism_core.backends import ChatRequest, get_backend, parse_model_spec
from prism_core.backends.openai_compatible import OpenAIBackend
from prism_core.images import data_url as image_data_url
from prism_core.backends.presets import ALIASES, PROVIDERS, find_preset, presets_table
from prism_core.errors import PrismError

KEY = "sk-test-SECRET-4242-do-not-log"


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("FAKE_API_KEY", KEY)
    return KEY


def _backend(server, **options) -> OpenAIBackend:
    options = {"base_url": server.base_url, "api_key_env": "FAKE_API_KEY", "timeout": 1.0,
               "max_retries": 3, "backoff_base": 0.001, "backoff_max": 0.01, **options}
    return get_backend("openai:fake-model", **options)


def test_faults_are_retried_and_every_request_gets_an_outcome(api_key, caplog):
    faults = {"req-429": ["429", "500", "ok"], "req-slow": ["slow", "ok"],
              "req-malformed": ["malformed", "nochoices", "ok"], "req-400": ["400"],
              "req-dead": ["500", "503", "500", "500", "500"]}
    names = ["req-ok-1", "req-429", "req-slow", "req-malformed", "req-400", "req-dead",
             "req-ok-2"]
    with FakeOpenAIServer(faults=faults, slow_s=2.5) as server:
        backend = _backend(server)
        waits: list[float] = []

        async def record(seconds):
            waits.append(seconds)

        backend._sleep = record
        with caplog.at_level(logging.DEBUG):
            gens = backend.generate([ChatRequest.from_prompt(n, images=[tiny_image(i)])
                                     for i, n in enumerate(names)])
        outcomes = list(server.outcomes)
    assert len(gens) == len(names)
    by_name = dict(zip(names, gens))
    for name in ("req-ok-1", "req-429", "req-slow", "req-malformed", "req-ok-2"):
        g = by_name[name]
        assert g.ok, (name, g.error)
        assert g.text == f"echo: {name} [images: 1]"  # each answer is its own request's
        assert g.prompt_tokens > 0 and g.completion_tokens == 4 and g.finish_reason == "stop"
    assert "400" in by_name["req-400"].error and "not retried" in by_name["req-400"].error
    assert "500" in by_name["req-dead"].error and "4 attempt" in by_name["req-dead"].error
    attempts = {n: sum(1 for k, _ in outcomes if k == n) for n in names}
    assert attempts == {"req-ok-1": 1, "req-429": 3, "req-slow": 2, "req-malformed": 3,
                        "req-400": 1, "req-dead": 4, "req-ok-2": 1}
    assert backend.stats["requests"] == 7 and backend.stats["attempts"] == 15
    assert backend.stats["errors"] == 2 and backend.stats["ok"] == 5
    assert backend.stats["429"] == 1 and backend.stats["timeout"] == 1
    assert backend.stats["malformed"] == 2
    assert max(waits) >= 0.05  # the 429's Retry-After (0.05 s) beats the 0.01 s backoff cap
    assert KEY not in caplog.text


def test_timeouts_end_in_an_error_generation(api_key):
    with FakeOpenAIServer(faults={"stuck": ["slow"] * 3}, slow_s=2.5) as server:
        backend = _backend(server, max_retries=1)
        stuck, fine = backend.generate([ChatRequest.from_prompt("stuck"),
                                        ChatRequest.from_prompt("fine")])
        assert server.outcomes.count(("stuck", "slow")) == 2
    assert not stuck.ok and "timed out" in stuck.error and "2 attempt" in stuck.error
    assert fine.ok and backend.stats["timeout"] == 2


def test_retry_after_is_honoured(api_key):
    with FakeOpenAIServer(faults={"limited": ["429", "429"]}, retry_after=0.3) as server:
        backend = _backend(server, max_retries=2)
        waits: list[float] = []

        async def record(seconds):
            waits.append(seconds)

        backend._sleep = record
        [g] = backend.generate([ChatRequest.from_prompt("limited")])
    assert g.ok and len(waits) == 2 and all(w >= 0.3 for w in waits)


def test_backoff_grows_exponentially_with_jitter(api_key):
    with FakeOpenAIServer(faults={"x": ["500"] * 5}) as server:
        backend = _backend(server, max_retries=4, backoff_base=1.0, backoff_max=100.0)
        waits: list[float] = []

        async def record(seconds):
            waits.append(seconds)

        backend._sleep = record
        [g] = backend.generate([ChatRequest.from_prompt("x")])
    assert not g.ok and len(waits) == 4
    for i, w in enumerate(waits):  # 50-100 % of 1, 2, 4, 8 s
        assert 0.5 * 2 ** i <= w <= 2 ** i


@pytest.mark.parametrize("limit", [1, 4])
def test_concurrency_is_really_bounded(api_key, limit):
    with FakeOpenAIServer(latency=0.05) as server:
        backend = _backend(server, concurrency=limit)
        gens = backend.generate([ChatRequest.from_prompt(f"r{i}") for i in range(24)])
        assert all(g.ok for g in gens)
        assert server.requests == 24
        assert server.max_in_flight == limit  # never more, and really concurrent


def test_images_are_sent_as_base64_data_urls_and_settings_forwarded(api_key):
    png, other = tiny_image(1), tiny_image(2)
    with FakeOpenAIServer() as server:
        backend = _backend(server, image_detail="low")
        req = ChatRequest.from_prompt("two images", images=[png, other], system="sys",
                                      max_tokens=77, temperature=0.0, seed=3, stop=["END"],
                                      response_format="json", tags={"role": "image"})
        [g] = backend.generate([req])
        body = server.bodies[0]
    assert g.ok
    urls = image_urls(body)
    assert [base64.b64decode(u.split(",", 1)[1]) for u in urls] == [png, other]
    assert all(u.startswith("data:image/png;base64,") for u in urls)
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["messages"][1]["content"][0]["image_url"]["detail"] == "low"
    assert last_user_text(body) == "two images"
    assert body["model"] == "fake-model" and body["max_tokens"] == 77 and body["seed"] == 3
    assert body["stop"] == ["END"] and body["response_format"] == {"type": "json_object"}
    assert "tags" not in body and "role" not in json.dumps(body["messages"][1]["content"])


def test_image_data_url_mime_types():
    assert image_data_url(b"\xff\xd8\xff\xe0rest").startswith("data:image/jpeg;base64,")
    assert image_data_url(b"GIF89a...").startswith("data:image/gif;base64,")
    assert image_data_url(b"RIFF\0\0\0\0WEBPVP8 ").startswith("data:image/webp;base64,")


def test_api_key_never_logged_stored_or_described(api_key, caplog):
    with FakeOpenAIServer(faults={"bad": ["500"] * 9}) as server:
        backend = _backend(server, max_retries=1)
        for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", ""):
            logging.getLogger(name).setLevel(logging.DEBUG)
        with caplog.at_level(logging.DEBUG):
            gens = backend.generate([ChatRequest.from_prompt("good"),
                                     ChatRequest.from_prompt("bad")])
        seen = list(server.auth_headers)
    assert seen and all(h == f"Bearer {KEY}" for h in seen)  # it was sent...
    assert caplog.records  # ... the loggers were really capturing ...
    assert KEY not in caplog.text  # ... and never logged
    for text in (repr(backend), json.dumps(backend.describe()), json.dumps(vars(backend),
                                                                           default=str),
                 json.dumps([g.to_dict() for g in gens]), json.dumps(backend.cache_identity())):
        assert KEY not in text
    assert backend.describe()["api_key_env"] == "FAKE_API_KEY"


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(PrismError, match="GEMINI_API_KEY"):
        get_backend("gemini")
    with pytest.raises(PrismError, match="environment"):
        get_backend("openai:gpt-4o", api_key="sk-inline")


def test_no_key_mode_for_local_servers(monkeypatch):
    with FakeOpenAIServer() as server:
        backend = get_backend("openai:local", base_url=server.base_url, api_key_env="")
        assert backend.generate([ChatRequest.from_prompt("hi")])[0].ok


def test_generate_inside_a_running_event_loop(api_key):
    with FakeOpenAIServer() as server:
        backend = _backend(server)

        async def notebook_cell():
            return backend.generate([ChatRequest.from_prompt("from a loop")])

        [g] = asyncio.run(notebook_cell())
        assert g.ok and g.text.startswith("echo: from a loop")
        [a] = asyncio.run(backend.agenerate([ChatRequest.from_prompt("async")]))
        assert a.ok


# ------------------------------------------------------------------ presets


@pytest.mark.parametrize("name, model, url_part, key_env", [
    ("gpt-4o", "gpt-4o", "api.openai.com", "OPENAI_API_KEY"),
    ("gemini", "gemini-2.5-flash", "generativelanguage.googleapis.com", "GEMINI_API_KEY"),
    ("gemini-1.5-pro", "gemini-1.5-pro", "generativelanguage.googleapis.com", "GEMINI_API_KEY"),
    ("grok", "grok-2-vision-1212", "api.x.ai", "XAI_API_KEY"),
    ("doubao", "doubao-1.5-vision-pro-32k-250115", "volces.com", "ARK_API_KEY"),
    ("qwen-vl", "qwen-vl-max", "dashscope.aliyuncs.com/compatible-mode", "DASHSCOPE_API_KEY"),
    ("qwen2.5-vl-72b-instruct", "qwen2.5-vl-72b-instruct", "dashscope", "DASHSCOPE_API_KEY"),
    ("glm-4v", "glm-4v-plus", "open.bigmodel.cn", "ZHIPUAI_API_KEY"),
])
def test_presets(name, model, url_part, key_env, monkeypatch):
    for p in PROVIDERS.values():
        monkeypatch.delenv(p.base_url_env, raising=False)
    preset = find_preset(name)
    assert (preset.model, preset.api_key_env) == (model, key_env)
    assert url_part in preset.base_url
    assert parse_model_spec(name) == ("openai", name)
    monkeypatch.setenv(key_env, "k")
    backend = get_backend(name)
    assert backend.model_id == model and url_part in backend.base_url
    assert backend.api_key_env == key_env and backend.local is False


def test_a_model_no_preset_claims_goes_to_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    backend = get_backend("openai:my-model")
    assert find_preset("my-model") is None and backend.model_id == "my-model"
    assert (backend.base_url, backend.api_key_env) == ("https://api.openai.com/v1", "OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert get_backend("openai:my-model").base_url == "http://127.0.0.1:9/v1"


def test_preset_overrides(monkeypatch):
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MY_KEY", "k")
    assert find_preset("gemini").base_url == "http://127.0.0.1:9/v1"
    backend = get_backend("gemini", base_url="http://127.0.0.1:8/v1", api_key_env="MY_KEY")
    assert backend.base_url == "http://127.0.0.1:8/v1" and backend.api_key_env == "MY_KEY"
    assert find_preset("no-such-model") is None
    assert set(ALIASES) <= {line.split("`")[1] for line in presets_table().splitlines()[2:]
                            if line.startswith("| `")}


def test_json_schema_is_sent_and_refusal_falls_back_to_json_mode(api_key):
    from prism_core.prediction import answer_schema

    schema = answer_schema(complete=True)
    req = ChatRequest.from_prompt("answer in JSON", response_format="json", json_schema=schema)
    with FakeOpenAIServer() as server:
        [g] = _backend(server).generate([req])
        sent = server.bodies[0]["response_format"]
    assert g.ok and sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"] == schema and sent["json_schema"]["strict"] is False
    with FakeOpenAIServer(refuse_schema=True) as server:
        backend = _backend(server)
        first = backend.generate([req])[0]
        again = backend.generate([req])[0]   # remembered: plain JSON mode straight away
        kinds = [b["response_format"]["type"] for b in server.bodies]
    assert first.ok and again.ok
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert backend.stats["schema_refused"] == 1 and backend.json_schema is False
    with FakeOpenAIServer() as server:        # json_schema=False: plain JSON mode only
        _backend(server, json_schema=False).generate([req])
        assert server.bodies[0]["response_format"] == {"type": "json_object"}
