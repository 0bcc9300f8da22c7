"""A persistent response cache (SQLite, WAL) and the backend wrapper that serves from it.

``CachedBackend(backend, ResponseCache(path))`` answers repeated requests from disk, so a killed
run restarts without paying twice. The key hashes the backend's identity (name, model id,
revision and output-changing options such as the API URL or image size limits), the request's
role and prompt-template hash tags, its messages with each image replaced by its sha256, and the
generation settings. Sampled calls (temperature > 0) are not cached unless ``cache_sampled=True``.
Error answers are never stored. API keys are in neither key nor value: backends never expose them.
Several processes may write the same file at once (WAL + busy timeout).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from pathlib import Path

from .backends.base import Backend, ChatRequest, Generation
from .images import image_hash

__all__ = ["ResponseCache", "CachedBackend", "request_key"]

_STORED = ("text", "prompt_tokens", "completion_tokens", "latency_s", "finish_reason")


def request_key(backend: Backend, request: ChatRequest, identity: dict | None = None) -> str:
    """The cache key of ``request`` sent to ``backend`` (hex sha256).

    ``identity``: ``backend.cache_identity()`` when the caller already has it (one per batch);
    the key is the same either way.
    """
    messages = []
    for m in request.messages:
        content = m["content"]
        if not isinstance(content, str):
            content = [{"type": "image", "sha256": image_hash(p["image"])} if p.get("type") == "image"
                       else p for p in content]
        messages.append({"role": m["role"], "content": content})
    tags = request.tags or {}
    if identity is None:
        identity = backend.cache_identity()
    material = {"backend": identity, "role": tags.get("role"),
                "template_hash": tags.get("template_hash"), "messages": messages,
                "settings": request.settings()}
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _setup(conn: sqlite3.Connection, patience_s: float = 60.0) -> None:
    """WAL mode and the table, retried while other processes hold the file.

    Switching to WAL does not wait on the busy timeout, so processes opening a new cache at the
    same moment retry here instead of failing with "database is locked".
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
                         "value TEXT NOT NULL, created REAL NOT NULL)")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02 + random.random() * 0.05)


class ResponseCache:
    """Generations by key in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # a forked child opens its own
            conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False,
                                   isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            _setup(conn)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, key: str) -> Generation | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str]) -> dict[str, Generation]:
        out: dict[str, Generation] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            conn = self._connect()
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                rows = conn.execute(f"SELECT key, value FROM responses WHERE key IN "
                                    f"({','.join('?' * len(chunk))})", chunk).fetchall()
                for key, value in rows:
                    out[key] = Generation(**json.loads(value), cached=True)
        return out

    def put(self, key: str, generation: Generation) -> None:
        self.put_many({key: generation})

    def put_many(self, items: dict[str, Generation]) -> None:
        """Store successful generations (error answers are skipped) in one transaction."""
        rows = [(k, json.dumps({f: getattr(g, f) for f in _STORED}), time.time())
                for k, g in items.items() if g.ok]
        if not rows:
            return
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO responses (key, value, created) "
                                 "VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict:  # picklable: the connection is reopened where it lands
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"])


class CachedBackend(Backend):
    """Wraps a backend: hits come from the cache, only misses reach the wrapped backend.

    ``hits``/``misses`` count cacheable requests served from disk / sent on; ``uncached`` counts
    sampled requests that bypass the cache. Identical requests in one call are sent once.
    """

    def __init__(self, backend: Backend, cache: ResponseCache, *, cache_sampled: bool = False):
        self.backend, self.cache, self.cache_sampled = backend, cache, cache_sampled
        self.name, self.local = backend.name, backend.local
        self.model_id, self.revision, self.options = backend.model_id, backend.revision, {}
        self.reads_images = backend.reads_images
        self.async_submit = backend.async_submit
        self.hits = self.misses = self.uncached = 0
        #: key -> the answer on its way for a request sent by asubmit (a repeat waits for it).
        self._inflight: dict[str, asyncio.Future] = {}

    def describe(self) -> dict:
        return self.backend.describe()

    def cache_identity(self) -> dict:
        return self.backend.cache_identity()

    def not_measured(self) -> dict[str, str]:
        return self.backend.not_measured()

    def close(self) -> None:
        self.backend.close()

    def session(self):
        return self.backend.session()

    def cacheable(self, request: ChatRequest) -> bool:
        return self.cache_sampled or not request.temperature or request.temperature <= 0

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "uncached": self.uncached}

    def generate(self, requests: list[ChatRequest]) -> list[Generation]:
        results: list[Generation | None] = [None] * len(requests)
        cacheable = [self.cacheable(r) for r in requests]
        identity = self.backend.cache_identity() if any(cacheable) else None  # once per call
        keys = [request_key(self.backend, r, identity) if c else None
                for r, c in zip(requests, cacheable)]
        # a request tagged "refresh" is asked again past the cache (its answer then replaces)
        found = self.cache.get_many([k for k, r in zip(keys, requests)
                                     if k is not None and not (r.tags or {}).get("refresh")])
        to_send: dict[str, int] = {}          # key -> index of the request sent for it
        sent: list[int] = []
        for i, key in enumerate(keys):
            if key is None:
                self.uncached += 1
                sent.append(i)
            elif key in found:
                self.hits += 1
                results[i] = _copy(found[key])
            elif key in to_send:               # a repeat within this call: paid once
                self.hits += 1
            else:
                self.misses += 1
                to_send[key] = i
                sent.append(i)
        if sent:
            answers = self._send([requests[i] for i in sent],
                                 [keys[i] if keys[i] in to_send else None for i in sent])
            by_index = dict(zip(sent, answers))
            self.cache.put_many({k: by_index[i] for k, i in to_send.items()})
            for i, key in enumerate(keys):
                if results[i] is None:
                    if i in by_index:
                        results[i] = by_index[i]
                    else:  # a repeat of a cacheable request sent once in this call
                        first = by_index[to_send[key]]
                        results[i] = _copy(first, cached=first.ok)
        return results  # type: ignore[return-value]

    async def asubmit(self, request: ChatRequest) -> Generation:
        """One request on an event loop: from the cache, or sent and stored as soon as it is
        answered; an identical request already on its way is waited for, not sent again."""
        if not self.cacheable(request):
            self.uncached += 1
            return await self.backend.asubmit(request)
        key = request_key(self.backend, request)
        if not (request.tags or {}).get("refresh"):
            found = self.cache.get(key)
            if found is not None:
                self.hits += 1
                return _copy(found)
        if key in self._inflight:
            self.hits += 1
            first = await asyncio.shield(self._inflight[key])
            return _copy(first, cached=first.ok)
        self.misses += 1
        waiting = self._inflight[key] = asyncio.get_running_loop().create_future()
        try:
            gen = await self.backend.asubmit(request)
            self.cache.put(key, gen)
            waiting.set_result(gen)
            return gen
        except asyncio.CancelledError:
            waiting.cancel()
            raise
        except BaseException as exc:
            waiting.set_exception(exc)
            waiting.exception()  # marked retrieved here: repeats (if any) get it too
            raise
        finally:
            del self._inflight[key]

    def _send(self, requests: list[ChatRequest], keys: list[str | None]) -> list[Generation]:
        """The wrapped backend's answers; a backend that reports each answer as it arrives
        (``generate(..., on_answer=)``) has it stored at once, so a kill loses none."""
        if not getattr(self.backend, "streams_answers", False):
            return self.backend.generate(requests)

        def store(i: int, gen: Generation) -> None:
            if keys[i] is not None and gen.ok:
                self.cache.put(keys[i], gen)
        return self.backend.generate(requests, on_answer=store)


def _copy(g: Generation, **changes) -> Generation:
    return Generation(**{**g.to_dict(), **changes})
