"""A stand-in for the parts of GitHub's REST API the deploy uses, on 127.0.0.1.

Workflow runs per commit (what ``tabpipe.release.deploy wait`` polls), and releases with their
assets (what ``tabpipe.release.deploy release`` creates, uploads to, publishes or deletes). Every
request is recorded; ``fail`` makes chosen requests answer 500, to test the clean-ups.
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


@dataclass
class FakeGitHub:
    repository: str = "rehearsal/tabpipe"
    base: str = ""
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[int, dict[str, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth
    fail: set[tuple[str, str]] = field(default_factory=set)  # (method, path prefix)

    def succeeded(self, sha: str, *paths: str) -> None:
        """Record a successful run of each workflow (by path) on a commit."""
        self.runs[sha] = [
            {
                "id": i + 1,
                "path": path,
                "status": "completed",
                "conclusion": "success",
                "run_attempt": 1,
                "html_url": f"https://github.invalid/{path}",
            }
            for i, path in enumerate(paths)
        ]

    def published(self) -> list[dict[str, Any]]:
        return [r for r in self.releases.values() if not r["draft"]]

    # --- the HTTP side ------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes, auth: str) -> tuple[int, Any]:
        url = urlparse(raw_path)
        self.requests.append((method, url.path, auth))
        if any(method == m and url.path.startswith(p) for m, p in self.fail):
            return 500, {"message": "injected failure"}
        prefix = f"/repos/{self.repository}"
        if method == "GET" and url.path == f"{prefix}/actions/runs":
            sha = parse_qs(url.query).get("head_sha", [""])[0]
            runs = self.runs.get(sha, [])
            return 200, {"total_count": len(runs), "workflow_runs": runs}
        if method == "POST" and url.path == f"{prefix}/releases":
            payload = json.loads(body)
            number = len(self.releases) + 1
            if any(r["tag_name"] == payload["tag_name"] for r in self.releases.values()):
                return 422, {"message": "Validation Failed: tag_name already_exists"}
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
            return 201, self.releases[number]
        if method == "POST" and url.path.startswith(f"/uploads{prefix}/releases/"):
            number = int(url.path.split("/")[-2])
            name = parse_qs(url.query)["name"][0]
            self.assets[number][name] = body
            return 201, {"id": len(self.assets[number]), "name": name}
        if url.path.startswith(f"{prefix}/releases/"):
            number = int(url.path.rsplit("/", 1)[1])
            if number not in self.releases:
                return 404, {"message": "Not Found"}
            if method == "PATCH":
                self.releases[number].update(json.loads(body))
                return 200, self.releases[number]
            if method == "DELETE":
                del self.releases[number]
                return 204, None
        return 404, {"message": f"no route for {method} {url.path}"}


@contextmanager
def serving(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """Serve ``fake`` on a free loopback port for the duration; ``fake.base`` is its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = fake.handle(
                self.command, self.path, body, self.headers.get("Authorization", "")
            )
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
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
