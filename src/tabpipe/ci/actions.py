"""GitHub Actions plumbing: annotations, job summaries, step outputs, the run's trigger.

The one place that writes ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY`` and reads the
event payload. Outside Actions every function still does something readable (an
annotation is a plain line; outputs are printed). Only the standard library is imported:
jobs run this before the project is installed.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


def annotate(level: Literal["notice", "warning", "error"], title: str, message: str) -> None:
    """Print a GitHub Actions annotation; outside Actions it is still a readable line."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    prop = data(title).replace(":", "%3A").replace(",", "%2C")
    print(f"::{level} title={prop}::{data(message)}", flush=True)


def append_summary(markdown: str, env: Mapping[str, str] = os.environ) -> None:
    """Append to the job summary ($GITHUB_STEP_SUMMARY) when there is one."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")


@dataclass(frozen=True)
class Trigger:
    """Why this run started, from the variables and event payload GitHub provides."""

    event: str
    action: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Trigger:
        payload: dict[str, Any] = {}
        path = env.get("GITHUB_EVENT_PATH")
        if path and Path(path).is_file():
            try:
                loaded = json.loads(Path(path).read_text(encoding="utf-8"))
                payload = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                payload = {}
        event = env.get("GITHUB_EVENT_NAME", "") or "local"
        action = str(payload.get("action") or "") if event == "repository_dispatch" else ""
        return cls(event, action, payload)

    @property
    def is_pull_request(self) -> bool:
        return self.event == "pull_request"

    @property
    def refreshes_data(self) -> bool:
        """Scheduled runs and a ``new-data`` dispatch first update imported data."""
        return self.event == "schedule" or (
            self.event == "repository_dispatch" and self.action == "new-data"
        )

    def describe(self) -> str:
        if self.event == "repository_dispatch":
            reason = ""
            client = self.payload.get("client_payload")
            if isinstance(client, dict) and client.get("reason"):
                reason = f" ({str(client['reason'])[:200]})"
            return f"repository_dispatch `{self.action or '?'}`{reason}"
        return self.event


def git_auth_env(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Environment that lets git fetch or push over HTTPS with the workflow's token.

    Checkouts keep no credentials (``persist-credentials: false``), so a step that needs
    git over the network passes ``GITHUB_TOKEN`` in its own env. The header travels in
    ``GIT_CONFIG_*`` variables: never in a command line, never written to ``.git/config``.
    Without a token (local runs, public repositories) nothing is added.
    """
    out = dict(env)
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        return out
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    index = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    out[f"GIT_CONFIG_KEY_{index}"] = f"http.{server}/.extraheader"
    out[f"GIT_CONFIG_VALUE_{index}"] = f"AUTHORIZATION: basic {basic}"
    out["GIT_CONFIG_COUNT"] = str(index + 1)
    return out


def set_outputs(
    values: Mapping[str, str], env: Mapping[str, str] = os.environ, *, echo: str | None = None
) -> None:
    """Append ``name=value`` lines to the step's outputs ($GITHUB_OUTPUT) when there is one.

    ``echo`` prints each line with that prefix too, so a log shows what the step decided.
    A value may not hold a newline (Actions would read the rest as another output).
    """
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"output {key!r} holds a newline")
        if echo:
            print(f"[{echo}] {key}={value}", flush=True)
    target = env.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in values.items())


def set_output(name: str, value: str, env: Mapping[str, str] = os.environ) -> None:
    set_outputs({name: value}, env)
