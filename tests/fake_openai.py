"""A fake OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

Usage::

    from fake_openai import FakeOpenAIServer
    with FakeOpenAIServer(latency=0.1, faults={"req-3": ["429", "500", "ok"]}) as server:
        backend = get_backend("openai:fake-model", base_url=server.base_url,
                              api_key_env="FAKE_KEY")       # with FAKE_KEY set in the environment
        ...
        server.requests        # total POSTs received
        server.max_in_flight   # most requests handled at the same time
        server.outcomes        # [(key, behaviour), ...] one per POST, in arrival order

``faults`` maps a substring of the last user message to the behaviours of its successive attempts:
"ok", "429" (with ``Retry-After: retry_after``), "500", "503", "400", "slow" (answers after
``slow_s``, past any short client timeout), "malformed" (200 with a body that is not JSON) and
"nochoices" (200 JSON without choices); once the list is used up the request succeeds.
``refuse_schema`` answers 400 to every request sent with a ``json_schema`` response format. ``reply``
(a function of the request body) makes the answer text; the default echoes the last user text and
the number of images it got. Standard library only (one thread per connection); ``tests/`` is on
``sys.path`` under pytest, so import it as ``fake_openai``.

As a separate process (so that the server does not share the client's interpreter)::

    python tests/fake_openai.py --latency 0.1 [--reply varied]   # prints the base URL, serves
                                                                 # until stdin closes or killed

``GET /stats`` then answers ``{"requests", "max_in_flight", "in_flight", "first_at", "last_at",
"busy_s"}`` (``first_at``: when the first request arrived, ``last_at``: when the last one was
answered, ``busy_s``: the integral of requests in flight over time, so ``busy_s / (last_at -
first_at)`` is the mean number in flight) and ``GET /log`` one ``{"key", "arrived", "answered",
"status"}`` per request (``key``: sha256 of its body; times from ``time.time()``).
``--reply varied`` answers with valid prediction JSON whose values and length depend on the
request (``varied_reply``).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

__all__ = ["FakeOpenAIServer", "last_user_text", "image_urls", "varied_reply", "request_key"]


def last_user_text(body: dict) -> str:
    """Text of the last user message of a chat-completions request body."""
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return "\n".join(p.get("text", "") for p in c if p.get("type") == "text")
    return ""


def image_urls(body: dict) -> list[str]:
    """The ``image_url`` URLs of all messages, in order."""
    return [p["image_url"]["url"] for m in body.get("messages", [])
            if isinstance(m.get("content"), list)
            for p in m["content"] if p.get("type") == "image_url"]


def _echo(body: dict) -> str:
    return f"echo: {last_user_text(body)} [images: {len(image_urls(body))}]"


def request_key(raw: bytes) -> str:
    """sha256 of a request's body as sent (the same request sent again has the same key)."""
    return hashlib.sha256(raw).hexdigest()


_VALUES = {"sex": ["female", "male"], "relationship_status": ["single", "married", "divorced"],
           "education": ["high school", "bachelor", "master", "phd"],
           "occupation": ["teacher", "nurse", "software engineer", "chef", "farmer"],
           "religion": ["christianity", "islam", "none", "buddhism"],
           "health": ["healthy", "diabetes", "asthma"]}


def varied_reply(body: dict) -> str:
    """A valid prediction JSON that depends on the request: which attributes, their guesses and
    the answer's length vary (a stand-in for a real model's answers)."""
    seen = f"{last_user_text(body)}|{[len(u) for u in image_urls(body)]}"
    h = int(hashlib.sha256(seen.encode()).hexdigest(), 16)
    attrs = {"age": {"guesses": [18 + h % 60, 20 + h % 45], "confidence": round((h % 10) / 10, 1),
                     "evidence": [f"post{1 + h % 3}"]}}
    for i, (key, values) in enumerate(_VALUES.items()):
        if (h >> (3 * i)) % 3:
            attrs[key] = {"guesses": [values[(h >> (5 * i)) % len(values)]],
                          "confidence": round(((h >> i) % 10) / 10, 1),
                          "reason": "seen in the posts " * (1 + (h >> (2 * i)) % 6)}
    return json.dumps({"attributes": attrs})


class FakeOpenAIServer:
    """Context manager running the fake server in a background thread (see module docstring)."""

    def __init__(self, latency: float = 0.0, faults: dict[str, list[str]] | None = None,
                 reply: Callable[[dict], str] | None = None, retry_after: float = 0.05,
                 slow_s: float = 2.0, refuse_schema: bool = False, keep_bodies: bool = True):
        self.latency, self.retry_after, self.slow_s = latency, retry_after, slow_s
        self.refuse_schema = refuse_schema  # 400 for response_format json_schema (JSON mode only)
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.keep_bodies = keep_bodies  # False: ``bodies`` stays empty (long benchmarks)
        self.reply = reply or _echo
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.outcomes: list[tuple[str, str]] = []
        self.bodies: list[dict] = []
        self.auth_headers: list[str] = []
        self.attempts: Counter = Counter()
        self.first_at = self.last_at = None
        self.busy_s, self._changed = 0.0, None
        self.log: list[dict] = []
        self._httpd: ThreadingHTTPServer | None = None

    # -------------------------------------------------------------- lifecycle

    def __enter__(self) -> "FakeOpenAIServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # headers and body leave in one write (no Nagle/delayed-ACK stall)

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                server._handle(self)

            def do_GET(self):
                if self.path.rstrip("/") == "/stats":
                    server._send(self, 200, server.stats())
                elif self.path.rstrip("/") == "/log":
                    with server.lock:
                        log = list(server.log)
                    server._send(self, 200, {"log": log})
                else:
                    server._send(self, 404, {"error": {"message": f"no route {self.path}"}})

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # many clients connect at once; keep the backlog long

            def handle_error(self, request, client_address):
                import sys
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)  # a client gone is no news

        self._httpd = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def stats(self) -> dict:
        """Counts so far (also served as JSON at GET /stats)."""
        with self.lock:
            return {"requests": self.requests, "max_in_flight": self.max_in_flight,
                    "in_flight": self.in_flight, "first_at": self.first_at,
                    "last_at": self.last_at, "busy_s": self.busy_s}

    def reset(self) -> None:
        """Forget counts and recorded requests (faults already used up stay used up)."""
        with self.lock:
            self.requests = self.max_in_flight = 0
            self.outcomes, self.bodies, self.auth_headers, self.log = [], [], [], []
            self.first_at = self.last_at = None
            self.busy_s = 0.0

    def _in_flight(self, change: int) -> None:
        """Count a request in or out (under the lock), integrating the number in flight."""
        now = time.time()
        if self._changed is not None:
            self.busy_s += self.in_flight * (now - self._changed)
        self._changed = now
        self.in_flight += change
        if change > 0:
            self.first_at = self.first_at or now
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        else:
            self.last_at = now

    # -------------------------------------------------------------- handling

    def _behaviour(self, text: str) -> tuple[str, str]:
        for key, plan in self.faults.items():
            if key in text:
                with self.lock:
                    n = self.attempts[key]
                    self.attempts[key] += 1
                return key, plan[n] if n < len(plan) else "ok"
        return text[:40], "ok"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.requests += 1
            self._in_flight(+1)
            self.auth_headers.append(h.headers.get("Authorization", ""))
        entry = {"key": None, "arrived": time.time(), "answered": None, "status": None}
        try:
            if h.path.rstrip("/") != "/v1/chat/completions":
                self._send(h, 404, {"error": {"message": f"no route {h.path}"}})
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send(h, 400, {"error": {"message": "body is not JSON"}})
                return
            key, behaviour = self._behaviour(last_user_text(body))
            entry["key"] = request_key(raw)
            with self.lock:
                if self.keep_bodies:
                    self.bodies.append(body)
                self.outcomes.append((key, behaviour))
                self.log.append(entry)
            time.sleep(self.slow_s if behaviour == "slow" else self.latency)
            if self.refuse_schema and (body.get("response_format") or {}).get("type") == "json_schema":
                self._send(h, 400, {"error": {"message": "response_format type 'json_schema' is "
                                                         "not supported by this model"}})
            elif behaviour == "429":
                self._send(h, 429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                           {"Retry-After": f"{self.retry_after}"})
            elif behaviour in ("500", "503", "400"):
                self._send(h, int(behaviour), {"error": {"message": f"injected {behaviour}"}})
            elif behaviour == "malformed":
                self._send_raw(h, 200, b"<html>this is not json", "application/json")
            elif behaviour == "nochoices":
                self._send(h, 200, {"id": "x", "object": "chat.completion", "choices": []})
            else:
                self._send(h, 200, self._completion(body))
                entry["status"] = 200
            if entry["status"] is None:
                entry["status"] = "fault"
            entry["answered"] = time.time()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            entry["status"] = "dropped"
        finally:
            with self.lock:
                self._in_flight(-1)

    def _completion(self, body: dict) -> dict:
        text = self.reply(body)
        prompt_tokens = sum(len(json.dumps(m.get("content")).split()) for m in body["messages"])
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                "model": body.get("model", ""),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                          "total_tokens": prompt_tokens + len(text.split())}}

    def _send(self, h, status: int, obj: dict, headers: dict | None = None) -> None:
        self._send_raw(h, status, json.dumps(obj).encode(), "application/json", headers)

    @staticmethod
    def _send_raw(h, status: int, data: bytes, ctype: str, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


def main(argv=None) -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="fake OpenAI-compatible chat-completions server")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    ap.add_argument("--reply", choices=("echo", "varied"), default="echo",
                    help="echo the request (default) or answer with varied prediction JSON")
    args = ap.parse_args(argv)
    reply = varied_reply if args.reply == "varied" else None
    with FakeOpenAIServer(latency=args.latency, reply=reply, keep_bodies=False) as server:
        print(server.base_url, flush=True)
        try:
            sys.stdin.read()  # serve until stdin closes or the process is killed
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
