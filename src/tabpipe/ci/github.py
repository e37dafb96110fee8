"""GitHub's REST API with the workflow's token: the one client the jobs share.

Used where no tool does the job safely: the deploy (workflow runs, releases), the sticky
comment's lookup and its fallback when CML cannot run, and the retraining pull request.
Standard library only (``urllib``): those jobs run before the project is installed, and a
client library would be one more dependency to pin for a handful of calls.

Lists are read over every page: ``per_page=100`` and the ``Link: <...>; rel="next"``
header GitHub sends while more pages remain.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

API_VERSION = "2022-11-28"
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
MAX_PAGES = 100  # 10,000 items: a bound, so a misbehaving server cannot loop us forever
# The login GitHub shows for comments, issues and pull requests written with GITHUB_TOKEN.
ACTIONS_BOT = "github-actions[bot]"


class GitHubAPIError(Exception):
    """A call failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHub:
    api: str
    repository: str
    token: str

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, token_variable: str = "GITHUB_TOKEN"
    ) -> GitHub:
        missing = [k for k in ("GITHUB_REPOSITORY", token_variable) if not env.get(k)]
        if missing:
            raise GitHubAPIError(f"{', '.join(missing)} not set: run this in a workflow job")
        api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        return cls(api, env["GITHUB_REPOSITORY"], env[token_variable])

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.api}/repos/{self.repository}{path}"

    def _request(
        self, method: str, url: str, body: bytes | None, content_type: str
    ) -> tuple[Any, str]:
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, link = response.read(), response.headers.get("Link", "")
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            raise GitHubAPIError(
                f"GitHub API {method} {url}: {error.code} {detail}", error.code
            ) from error
        except urllib.error.URLError as error:
            raise GitHubAPIError(f"GitHub API {method} {url}: {error.reason}") from error
        return (json.loads(raw) if raw else None), link

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        body = (
            data if data is not None else None if payload is None else json.dumps(payload).encode()
        )
        return self._request(method, self.url(path), body, content_type)[0]

    def pages(self, path: str, key: str | None = None) -> Iterator[Any]:
        """Every item of a listed resource, page after page (``key``: the list's field)."""
        separator = "&" if "?" in path else "?"
        url: str | None = self.url(f"{path}{separator}per_page=100")
        for _ in range(MAX_PAGES):
            if url is None:
                return
            answer, link = self._request("GET", url, None, "application/json")
            items = (answer or {}).get(key, []) if key else (answer or [])
            yield from items
            found = NEXT_LINK.search(link or "")
            url = found.group(1) if found else None
        raise GitHubAPIError(f"GitHub API GET {path}: more than {MAX_PAGES} pages")
