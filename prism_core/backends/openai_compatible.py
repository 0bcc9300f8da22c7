"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint via the official SDK.

Requests run concurrently on the SDK's async client under a bound (``concurrency``, default 16).
Inside ``async with backend.session():`` every request made on that event loop (``asubmit``,
``agenerate``) shares one client and one bound, so a runner can submit requests one at a time as
they become ready (``async_submit``); outside a session each ``agenerate`` opens its own.
Each request is retried with exponential backoff and jitter on 429 (honouring ``Retry-After``),
5xx, timeouts, dropped connections and malformed answers; the SDK's own retries are off so that
one policy applies. After the last attempt the request gets an error Generation: ``generate``
never raises for a failed request. Options::

    get_backend("openai:gpt-4o")                      # preset: URL + OPENAI_API_KEY
    get_backend("gemini")                             # alias preset (see presets.py)
    get_backend("openai:my-model", base_url="http://127.0.0.1:8000/v1", api_key_env="MY_KEY",
                concurrency=16, timeout=60, max_retries=6, backoff_base=1.0, backoff_max=60,
                max_request_bytes=20_000_000)

A request larger than ``max_request_bytes`` (encoded JSON, images included) is not sent: it gets
an error Generation, as does one that cannot be encoded (e.g. a lone surrogate in its text).
``describe()`` scrubs credentials from ``base_url``.

The API key is read from the environment variable at call time and never stored on the backend,
logged, cached or written to results (error texts are scrubbed of it).

JSON answers: a request with ``response_format="json"`` and a ``json_schema`` is sent with
``response_format={"type": "json_schema", ...}`` (the schema, not strict, so that providers that
support only part of JSON Schema still accept it); a provider that refuses it (a 4xx naming the
response format or schema) gets ``{"type": "json_object"}`` from then on, plain JSON mode, and so
do requests without a schema. ``json_schema=False`` always sends plain JSON mode; ``json_mode=False``
sends neither.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import json
import logging
import os
import random
import re
import time
from collections import Counter
from typing import Any

from ..errors import PrismError
from ..images import data_url
from .base import Backend, ChatRequest, Generation
from .presets import PROVIDERS, find_preset

logger = logging.getLogger(__name__)

#: ``api_key_env`` value for servers that need no key (a local vLLM or llm-katan server).
NO_KEY = ""
_OPENAI = PROVIDERS["openai"]  # a model no preset claims: OpenAI's URL (or its override) and key
_MAX_RETRY_AFTER = 600.0  # seconds; a longer Retry-After is capped


class OpenAIBackend(Backend):
    """Chat completions over HTTP with bounded concurrency and retries (see module docstring)."""
    name = "openai"
    local = False
    async_submit = True
    #: How backoff waits are slept (tests swap in a recorder).
    _sleep = staticmethod(asyncio.sleep)

    def __init__(self, model: str | None = None, revision: str | None = None, *,
                 base_url: str | None = None, api_key_env: str | None = None,
                 concurrency: int = 16, timeout: float = 60.0, max_retries: int = 6,
                 backoff_base: float = 1.0, backoff_max: float = 60.0, image_detail: str | None = None,
                 json_mode: bool = True, json_schema: bool = True,
                 max_request_bytes: int = 20_000_000, **options):
        if "api_key" in options:
            raise PrismError("API keys are read from the environment only: set the variable "
                                  "and pass its name as api_key_env")
        if not model:
            raise PrismError("the openai backend needs a model: openai:<model> or a preset "
                                  "name such as gpt-4o")
        preset = find_preset(model)
        super().__init__(model=preset.model if preset else model, revision=revision, **options)
        self.base_url = base_url or (preset.base_url if preset else
                                     os.environ.get(_OPENAI.base_url_env) or _OPENAI.base_url)
        self.api_key_env = api_key_env if api_key_env is not None else (
            preset.api_key_env if preset else _OPENAI.api_key_env)
        if int(concurrency) < 1:
            raise PrismError(f"openai backend: concurrency must be at least 1, got {concurrency!r}")
        self.concurrency, self.timeout = int(concurrency), float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base, self.backoff_max = float(backoff_base), float(backoff_max)
        self.image_detail, self.json_mode = image_detail, json_mode
        self.max_request_bytes = int(max_request_bytes)
        #: Whether to send the answer's JSON schema; turned off when the provider refuses it.
        self.json_schema = bool(json_schema)
        self._api_key()  # fail early, naming the variable
        #: Counts of attempt outcomes ("ok", "429", "500", "timeout", "malformed", ...) and totals.
        self.stats: Counter = Counter()
        #: Open sessions by id(event loop): [client, concurrency limit, key, depth].
        self._sessions: dict[int, list] = {}

    def _api_key(self) -> str:
        if self.api_key_env == NO_KEY:
            return "no-key"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise PrismError(f"model {self.model_id!r} needs an API key: set the environment "
                                  f"variable {self.api_key_env}")
        return key

    def describe(self) -> dict:
        out = super().describe()
        out.update(base_url=scrub_url(self.base_url), api_key_env=self.api_key_env or None)
        return out

    def cache_identity(self) -> dict:
        return {**super().cache_identity(), "base_url": self.base_url}

    # ------------------------------------------------------------------ sync entry

    #: ``generate(requests, on_answer=f)`` calls ``f(index, generation)`` as each answer arrives.
    streams_answers = True

    def generate(self, requests: list[ChatRequest], on_answer=None) -> list[Generation]:
        """Answers in request order; runs its own event loop (in a thread when one is running)."""
        if not requests:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(requests, on_answer))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # e.g. inside Jupyter
            return pool.submit(asyncio.run, self.agenerate(requests, on_answer)).result()

    async def agenerate(self, requests: list[ChatRequest], on_answer=None) -> list[Generation]:
        """Async version of :meth:`generate` for callers that already run an event loop."""
        async def one(i: int, r: ChatRequest) -> Generation:
            gen = await self.asubmit(r)
            if on_answer is not None:
                on_answer(i, gen)
            return gen
        async with self.session():
            return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    @contextlib.asynccontextmanager
    async def session(self):
        """One client and one concurrency limit for every request made on this event loop until
        the block ends (re-entrant: an inner block shares the outer one's)."""
        loop = id(asyncio.get_running_loop())
        if loop in self._sessions:
            self._sessions[loop][3] += 1
            try:
                yield self
            finally:
                self._sessions[loop][3] -= 1
            return
        from openai import AsyncOpenAI

        key = self._api_key()
        client = AsyncOpenAI(api_key=key, base_url=self.base_url, max_retries=0,
                             timeout=self.timeout)
        self._sessions[loop] = [client, asyncio.Semaphore(self.concurrency), key, 1]
        try:
            yield self
        finally:
            del self._sessions[loop]
            await client.close()

    async def asubmit(self, request: ChatRequest) -> Generation:
        """One request on the running loop, through its session (one is opened for it alone
        when none is)."""
        s = self._sessions.get(id(asyncio.get_running_loop()))
        if s is None:
            async with self.session():
                return await self.asubmit(request)
        client, limit, key, _ = s
        return await self._one(client, limit, request, key)

    # ------------------------------------------------------------------ one request

    async def _one(self, client, limit: asyncio.Semaphore, req: ChatRequest, key: str) -> Generation:
        import openai
        from openai.types.chat import ChatCompletion

        start = time.perf_counter()
        self.stats["requests"] += 1
        try:
            kwargs = self._payload(req)
            size = len(json.dumps(kwargs, ensure_ascii=False).encode("utf-8"))
        except (ValueError, TypeError) as exc:  # e.g. a lone surrogate: this request only
            return self._failed(f"cannot encode the request: {type(exc).__name__}: {exc}", key,
                                start, 0, final=True)
        if size > self.max_request_bytes:
            return self._failed(f"request of {size / 1e6:.1f} MB is over max_request_bytes "
                                f"({self.max_request_bytes / 1e6:.1f} MB)", key, start, 0, final=True)
        error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            wait = None
            async with limit:
                self.stats["attempts"] += 1
                try:
                    # the body is plain JSON already: posted as is, it skips the SDK's
                    # per-request parameter transform (about 1 ms of CPU a request)
                    resp = await client.post("/chat/completions", body=kwargs,
                                             cast_to=ChatCompletion)
                    gen = _to_generation(resp)
                    outcome = "ok"
                except openai.APITimeoutError:
                    outcome, error = "timeout", f"request timed out after {self.timeout:g} s"
                except openai.APIConnectionError as exc:
                    outcome, error = "connection", f"connection error: {exc}"
                except openai.APIStatusError as exc:
                    outcome, error = str(exc.status_code), str(exc.message)
                    if exc.status_code == 429:
                        wait = _retry_after(exc.response.headers)
                    elif _schema_refused(kwargs, exc):  # fall back to plain JSON mode
                        logger.warning("%s does not accept a JSON schema as response_format "
                                       "(%s); using plain JSON mode", self.model_id,
                                       _scrub(error, key)[:200])
                        self.json_schema = False
                        kwargs["response_format"] = {"type": "json_object"}
                        self.stats["schema_refused"] += 1
                        continue
                    elif exc.status_code < 500 and exc.status_code not in (408, 409):
                        self.stats[outcome] += 1
                        return self._failed(error, key, start, attempt + 1, final=True)
                except (openai.APIResponseValidationError, ValueError, KeyError, IndexError,
                        TypeError, AttributeError) as exc:
                    outcome, error = "malformed", f"malformed response: {type(exc).__name__}: {exc}"
            self.stats[outcome] += 1
            if outcome == "ok":
                gen.latency_s = time.perf_counter() - start
                return gen
            logger.info("%s attempt %d/%d failed: %s", self.model_id, attempt + 1,
                        self.max_retries + 1, _scrub(error, key))
            if attempt < self.max_retries:
                backoff = min(self.backoff_max, self.backoff_base * 2 ** attempt)
                backoff *= 0.5 + random.random() / 2  # jitter: 50-100 % of the step
                await self._sleep(max(backoff, min(wait, _MAX_RETRY_AFTER)) if wait is not None
                                  else backoff)
        return self._failed(error, key, start, self.max_retries + 1)

    def _failed(self, error: str, key: str, start: float, attempts: int,
                final: bool = False) -> Generation:
        self.stats["errors"] += 1
        note = "not retried" if final else f"after {attempts} attempt(s)"
        msg = _scrub(f"{error} ({note})", key)
        logger.warning("%s request failed: %s", self.model_id, msg)
        return Generation(error=msg, latency_s=time.perf_counter() - start)

    def _payload(self, req: ChatRequest) -> dict:
        kwargs: dict[str, Any] = {"model": self.model_id,
                                  "messages": [self._message(m) for m in req.messages],
                                  "max_tokens": req.max_tokens, "temperature": req.temperature}
        for name in ("top_p", "seed", "stop"):
            if getattr(req, name) is not None:
                kwargs[name] = getattr(req, name)
        if req.response_format == "json" and self.json_mode:
            if req.json_schema is not None and self.json_schema:
                kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "prism_answer", "schema": req.json_schema, "strict": False}}
            else:
                kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def _message(self, m: dict) -> dict:
        content = m["content"]
        if isinstance(content, str):
            return {"role": m["role"], "content": content}
        parts = []
        for p in content:
            if p.get("type") == "image":
                url: dict[str, Any] = {"url": data_url(p["image"])}
                if self.image_detail:
                    url["detail"] = self.image_detail
                parts.append({"type": "image_url", "image_url": url})
            else:
                parts.append({"type": "text", "text": p.get("text", "")})
        return {"role": m["role"], "content": parts}


def _to_generation(resp) -> Generation:
    if not hasattr(resp, "choices"):  # a body the SDK could not read as a completion
        raise ValueError(f"unexpected response {str(resp)[:80]!r}")
    choice = resp.choices[0]
    text = choice.message.content
    if text is None:
        raise ValueError("response has no message content")
    usage = resp.usage
    return Generation(text=text, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                      completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                      finish_reason=choice.finish_reason)


def _schema_refused(kwargs: dict, exc) -> bool:
    """A 4xx answer to a request sent with a JSON schema, naming the response format/schema."""
    sent = (kwargs.get("response_format") or {}).get("type") == "json_schema"
    text = str(getattr(exc, "message", "") or exc).lower()
    return (sent and 400 <= exc.status_code < 500 and exc.status_code not in (401, 403, 408, 409, 429)
            and any(w in text for w in ("response_format", "json_schema", "schema")))


def _retry_after(headers) -> float | None:
    """Seconds to wait from a Retry-After (or retry-after-ms) header; None when absent."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
_URL_SECRET = re.compile(r"(?i)([?&;](?:api[_-]?key|key|token|access[_-]?token|secret|password|"
                         r"sig|signature|auth)=)[^&;#\s]+")


def scrub_url(text):
    """``text`` with credentials in URLs (user:password@ and key-like query parameters) replaced
    by ***; anything that is not a string is returned as is."""
    if not isinstance(text, str):
        return text
    return _URL_SECRET.sub(r"\1***", _URL_USERINFO.sub(r"\1***@", text))


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key and len(key) >= 4 else text

