"""A stand-in for the parts of GitHub's REST API the workflows use, on 127.0.0.1.

- workflow runs per commit (what ``tabpipe.release.deploy wait`` polls);
- releases with their assets (what ``tabpipe.release.deploy release`` creates, uploads to,
  publishes or deletes);
- a pull request's comments, listed 30 to a page by default (``per_page`` up to 100) with
  GitHub's ``Link: <...>; rel="next"`` header, each with its author (what the sticky
  comment reads and writes);
- pull requests (what the propose job opens), recording whether GitHub would start
  workflows for one: never when it was opened with the run's own ``GITHUB_TOKEN``.

Tokens: ``workflow_token`` plays the run's GITHUB_TOKEN (its comments and pull requests are
``github-actions[bot]``'s); tokens in ``read_only`` (a fork's token) may read but every write
answers 403 as GitHub does. Every request is recorded; ``fail`` makes chosen requests
answer 500, to test the clean-ups.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT = "github-actions[bot]"
FORBIDDEN = {"message": "Resource not accessible by integration"}


@dataclass
class FakeGitHub:
    repository: str = "rehearsal/tabpipe"
    base: str = ""
    workflow_token: str = "rehearsal-token"
    read_only: set[str] = field(default_factory=set)
    identities: dict[str, str] = field(default_factory=dict)  # other tokens -> their login
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[int, dict[str, bytes]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth
    fail: set[tuple[str, str]] = field(default_factory=set)  # (method, path prefix)
    _next_id: int = 1000

    def succeeded(self, sha: str, *paths: str, branch: str = "main", event: str = "push") -> None:
        """Record a successful run of each workflow (by path) on a commit."""
        self.runs[sha] = [
            {
                "id": i + 1,
                "path": path,
                "event": event,
                "head_branch": branch,
                "status": "completed",
                "conclusion": "success",
                "run_attempt": 1,
                "html_url": f"https://github.invalid/{path}",
            }
            for i, path in enumerate(paths)
        ]

    def published(self) -> list[dict[str, Any]]:
        return [r for r in self.releases.values() if not r["draft"]]

    def add_comment(self, pr: int, body: str, author: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {"id": self._next_id, "body": body, "user": {"login": author}}
        self.comments.setdefault(pr, []).append(comment)
        return comment

    @staticmethod
    def token(auth: str) -> str:
        return auth.removeprefix("Bearer ").removeprefix("token ").strip()

    def login(self, auth: str) -> str:
        token = self.token(auth)
        return BOT if token == self.workflow_token else self.identities.get(token, "someone")

    # --- the HTTP side ------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, body: bytes, auth: str
    ) -> tuple[int, Any, dict[str, str]]:
        url = urlparse(raw_path)
        self.requests.append((method, url.path, auth))
        query = parse_qs(url.query)
        if any(method == m and url.path.startswith(p) for m, p in self.fail):
            return 500, {"message": "injected failure"}, {}
        if method != "GET" and self.token(auth) in self.read_only:
            return 403, FORBIDDEN, {}
        prefix = f"/repos/{self.repository}"
        path = url.path.removeprefix(prefix)
        if method == "GET" and path == "/actions/runs":
            runs = self.runs.get(query.get("head_sha", [""])[0], [])
            return 200, {"total_count": len(runs), "workflow_runs": runs}, {}
        if path.startswith("/issues/") and path.endswith("/comments"):
            number = int(path.split("/")[2])
            if method == "GET":
                return self._page(raw_path, self.comments.get(number, []), query)
            comment = self.add_comment(number, json.loads(body)["body"], self.login(auth))
            return 201, comment, {}
        if path.startswith("/issues/comments/") and method == "PATCH":
            wanted = int(path.rsplit("/", 1)[1])
            for comment in (c for listed in self.comments.values() for c in listed):
                if comment["id"] == wanted:
                    comment["body"] = json.loads(body)["body"]
                    return 200, comment, {}
            return 404, {"message": "Not Found"}, {}
        if path == "/pulls" and method == "GET":
            head = query.get("head", [""])[0]
            found = [
                p
                for p in self.pulls
                if p["state"] == "open" and (not head or head.endswith(":" + p["head"]["ref"]))
            ]
            return self._page(raw_path, found, query)
        if path == "/pulls" and method == "POST":
            payload = json.loads(body)
            number = len(self.pulls) + 1
            opener = self.login(auth)
            pull = {
                "number": number,
                "state": "open",
                "title": payload["title"],
                "body": payload.get("body", ""),
                "head": {"ref": payload["head"]},
                "base": {"ref": payload["base"]},
                "user": {"login": opener},
                "html_url": f"https://github.invalid/{self.repository}/pull/{number}",
                # GitHub starts no workflow for events the run's own GITHUB_TOKEN causes.
                "starts_workflows": opener != BOT,
            }
            self.pulls.append(pull)
            return 201, pull, {}
        if method == "POST" and path == "/releases":
            payload = json.loads(body)
            number = len(self.releases) + 1
            if any(r["tag_name"] == payload["tag_name"] for r in self.releases.values()):
                return 422, {"message": "Validation Failed: tag_name already_exists"}, {}
            self.releases[number] = {
                **payload,
                "id": number,
                "draft": bool(payload.get("draft")),
                "html_url": f"https://github.invalid/releases/{number}",
                "upload_url": (
                    f"{self.base}/uploads{prefix}/releases/{number}/assets{{?name,label}}"
                ),
            }
            self.assets[number] = {}
            return 201, self.releases[number], {}
        if method == "POST" and url.path.startswith(f"/uploads{prefix}/releases/"):
            number = int(url.path.split("/")[-2])
            name = query["name"][0]
            self.assets[number][name] = body
            return 201, {"id": len(self.assets[number]), "name": name}, {}
        if path.startswith("/releases/"):
            number = int(path.rsplit("/", 1)[1])
            if number not in self.releases:
                return 404, {"message": "Not Found"}, {}
            if method == "PATCH":
                self.releases[number].update(json.loads(body))
                return 200, self.releases[number], {}
            if method == "DELETE":
                del self.releases[number]
                return 204, None, {}
        return 404, {"message": f"no route for {method} {url.path}"}, {}

    def _page(
        self, raw_path: str, items: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        """One page, GitHub's way: 30 by default, ``per_page`` at most 100, a next link."""
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            url = urlparse(raw_path)
            rest = {k: v[0] for k, v in query.items() if k != "page"}
            following = "&".join([*(f"{k}={v}" for k, v in rest.items()), f"page={page + 1}"])
            headers["Link"] = f'<{self.base}{url.path}?{following}>; rel="next"'
        return 200, chunk, headers


@contextmanager
def serving(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """Serve ``fake`` on a free loopback port for the duration; ``fake.base`` is its URL."""

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                status, payload, headers = fake.handle(
                    self.command, self.path, body, self.headers.get("Authorization", "")
                )
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
