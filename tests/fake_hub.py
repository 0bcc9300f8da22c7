"""A loopback Hugging Face Hub for tests: the routes ``huggingface_hub`` uses to list and download
a dataset repository, served from memory on 127.0.0.1 (point ``HF_ENDPOINT`` at :attr:`FakeHub.url`).

Routes: ``GET /api/datasets/{repo}/revision/{rev}`` (repo_info: the commit sha),
``GET /api/datasets/{repo}/tree/{rev}?recursive=..`` (list_repo_tree, paginated through a
``Link`` header like the Hub's), ``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``
(hf_hub_download: ``X-Repo-Commit``, ``ETag``, ``Content-Length``; ``Range`` for resuming).
Errors carry the Hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound); a repo
added with a token answers 401 to requests without ``Authorization: Bearer <token>``.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit


@dataclass
class _Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    token: str | None = None


class FakeHub:
    """An in-memory Hub; ``add(repo_id, {path: bytes})`` publishes a commit, ``requests`` logs
    (method, path) of every request served."""

    def __init__(self, page_size: int = 1000):
        self.repos: dict[str, _Repo] = {}
        self.page_size = page_size
        self.requests: list[tuple[str, str]] = []
        self.refuse: set[str] = set()  # paths whose content GET answers 403 (a failed transfer)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, repo_id: str, files: dict[str, bytes], *, revision: str = "main",
            token: str | None = None) -> str:
        """Publish ``files`` as a new commit of ``repo_id`` at ``revision``; returns its sha."""
        digest = hashlib.sha1(repo_id.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha1(files[path]).digest())
        commit = digest.hexdigest()
        repo = self.repos.setdefault(repo_id, _Repo())
        repo.commits[commit] = dict(files)
        repo.refs[revision] = commit
        repo.token = token if token is not None else repo.token
        return commit

    def downloads(self) -> list[str]:
        """Paths fetched with GET from the resolve route (each file's content transfers)."""
        return [unquote(p.split("/resolve/", 1)[1].split("/", 1)[1])
                for m, p in self.requests if m == "GET" and "/resolve/" in p]

    # ------------------------------------------------------------ the HTTP side

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
                      head: bool = False):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _error(self, status: int, code: str, head: bool, extra: dict | None = None):
                body = json.dumps({"error": code}).encode()
                self._send(status, body, {"X-Error-Code": code, "Content-Type": "application/json",
                                          **(extra or {})}, head)

            def _serve(self, head: bool):
                with hub._lock:
                    hub.requests.append((self.command, self.path))
                url = urlsplit(self.path)
                m = (re.match(r"^/api/datasets/([^/]+/[^/]+)/(revision|tree)/([^/]+)(/.*)?$", url.path)
                     or re.match(r"^/datasets/([^/]+/[^/]+)/(resolve)/([^/]+)/(.+)$", url.path))
                if not m:
                    return self._error(404, "NotFound", head)
                repo_id, route, rev, rest = m.group(1), m.group(2), unquote(m.group(3)), m.group(4)
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._error(404, "RepoNotFound", head)
                if repo.token and self.headers.get("authorization") != f"Bearer {repo.token}":
                    return self._error(401, "RepoNotFound", head)
                commit = rev if rev in repo.commits else repo.refs.get(rev)
                if commit is None:
                    return self._error(404, "RevisionNotFound", head)
                files = repo.commits[commit]
                if route == "revision":
                    body = {"id": repo_id, "sha": commit, "private": bool(repo.token),
                            "siblings": [{"rfilename": p} for p in sorted(files)]}
                    return self._send(200, json.dumps(body).encode(),
                                      {"Content-Type": "application/json"}, head)
                if route == "tree":
                    return self._tree(repo_id, rev, files, (rest or "").strip("/"), url.query, head)
                return self._file(commit, files, unquote(rest), head)

            def _tree(self, repo_id, rev, files, prefix, query, head):
                q = parse_qs(query)
                recursive = q.get("recursive", ["False"])[0].lower() == "true"
                start = int(q.get("cursor", ["0"])[0])
                under = [p for p in sorted(files) if not prefix or p.startswith(prefix + "/")]
                items, folders = [], set()
                for p in under:
                    rel = p[len(prefix) + 1:] if prefix else p
                    parts = rel.split("/")
                    for i in range(1, len(parts)):
                        folder = "/".join(([prefix] if prefix else []) + parts[:i])
                        if folder not in folders and (recursive or i == 1):
                            folders.add(folder)
                            items.append({"type": "directory", "path": folder,
                                          "oid": hashlib.sha1(folder.encode()).hexdigest()})
                    if recursive or len(parts) == 1:
                        items.append({"type": "file", "path": p, "size": len(files[p]),
                                      "oid": hashlib.sha1(files[p]).hexdigest()})
                page = items[start:start + hub.page_size]
                headers = {"Content-Type": "application/json"}
                if start + hub.page_size < len(items):
                    nxt = (f"{hub.url}/api/datasets/{repo_id}/tree/{quote(rev, safe='')}"
                           + (f"/{quote(prefix, safe='')}" if prefix else "")
                           + f"?recursive={recursive}&expand=False&cursor={start + hub.page_size}")
                    headers["Link"] = f'<{nxt}>; rel="next"'
                self._send(200, json.dumps(page).encode(), headers, head)

            def _file(self, commit, files, path, head):
                if path not in files:
                    return self._error(404, "EntryNotFound", head, {"X-Repo-Commit": commit})
                if path in hub.refuse and not head:
                    return self._error(403, "Forbidden", head)
                data = files[path]
                headers = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes",
                           "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                           "Content-Type": "application/octet-stream"}
                rng = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range") or "")
                if rng and not head:
                    lo = int(rng.group(1))
                    hi = int(rng.group(2)) if rng.group(2) else len(data) - 1
                    headers["Content-Range"] = f"bytes {lo}-{hi}/{len(data)}"
                    return self._send(206, data[lo:hi + 1], headers)
                self._send(200, data, headers, head)

        return Handler
