"""Tell people and the training workflow what monitoring found, without spamming anyone.

``python -m tabpipe.monitoring.alert issues SUMMARY`` opens one GitHub issue per trigger kind
(schema skew, drift, degradation), or updates the one already open: it finds it by a
hidden marker in the body (``<!-- tabpipe-monitor:KIND ... -->``) on an issue the bot opened
(``ALERT_AUTHOR``, default ``github-actions[bot]``: an issue anyone else wrote, marker or
not, is never edited), replaces the body with the latest report and adds a comment only
when what fired changed.

``python -m tabpipe.monitoring.alert dispatch SUMMARY`` sends one ``repository_dispatch`` event that
the continuous-training workflow listens to, when drift or degradation asks for a retrain
(never for schema skew: retraining on broken data would be wrong).

Both talk to the GitHub REST API through the ``gh`` CLI (preinstalled on GitHub's runners;
it reads ``GH_TOKEN``). ``--dry-run`` prints the calls instead of making them. Only the
standard library is imported, so a job runs this with a bare Python and ``PYTHONPATH=src``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from tabpipe.ci.github import ACTIONS_BOT

# repository_dispatch event types; .github/workflows/continuous-training.yml must list them.
RETRAIN_EVENT = "drift-detected"
RETRAIN_KINDS = ("drift", "degradation")
TITLES = {
    "schema-skew": "Monitoring: schema skew in incoming data (no retraining until fixed)",
    "drift": "Monitoring: data drift detected (retraining dispatched)",
    "degradation": "Monitoring: model performance degraded (retraining dispatched)",
}
NEXT_STEPS = {
    "schema-skew": (
        "**What to do:** the data no longer matches `contracts/data.yaml`. Fix the source, "
        "or, if the change is intended, update the contract in a pull request. Retraining "
        "is not triggered for schema skew."
    ),
    "drift": (
        "**What happens:** a `repository_dispatch` (`drift-detected`) asked the "
        "continuous-training workflow to retrain. Ingest the new data (`tabpipe ingest`) so "
        "the retrained model learns from it; close this issue once the new model is released."
    ),
    "degradation": (
        "**What happens:** a `repository_dispatch` (`drift-detected`) asked the "
        "continuous-training workflow to retrain. Add the labelled feedback to the training "
        "data (`tabpipe ingest`) so the retrained model learns from it."
    ),
}
LABELS = ("monitoring",)
MAX_BODY = 60_000
MARKER = re.compile(r"<!-- tabpipe-monitor:(?P<kind>[a-z-]+)(?: fired=(?P<fired>[^ ]*))? -->")
PAGES = 5
BOT_AUTHOR = ACTIONS_BOT  # who opens the issues with GITHUB_TOKEN

Runner = Callable[[Sequence[str], str | None], str]


class GitHubError(Exception):
    """A gh call failed; the message carries gh's own error."""


def gh(args: Sequence[str], stdin: str | None = None) -> str:
    """Run ``gh ARGS`` and return its output (raises GitHubError on failure)."""
    try:
        done = subprocess.run(
            ["gh", *args], input=stdin, capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitHubError(f"gh {' '.join(args[:3])}: {exc}") from exc
    if done.returncode != 0:
        raise GitHubError(f"gh {' '.join(args[:3])} failed: {done.stderr.strip()[:500]}")
    return done.stdout


def dry_run(args: Sequence[str], stdin: str | None = None) -> str:
    """Print the call instead of making it; reads answer 'nothing there yet'."""
    print(f"[alert] dry run: gh {' '.join(args)}", flush=True)
    if stdin:
        print(f"[alert]   body: {stdin[:300]}{'...' if len(stdin) > 300 else ''}", flush=True)
    return "[]" if "GET" in args else "{}"


@dataclass
class GitHub:
    repo: str
    run: Runner = gh

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        args = ["api", "--method", method, f"repos/{self.repo}/{path}"]
        if payload is not None:
            args += ["--input", "-"]
        out = self.run(args, None if payload is None else json.dumps(payload))
        return json.loads(out) if out.strip() else None

    def open_issues(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, PAGES + 1):
            batch = self._call("GET", f"issues?state=open&per_page=100&page={page}") or []
            found += [i for i in batch if "pull_request" not in i]
            if len(batch) < 100:
                break
        return found

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": list(labels)}
        return self._call("POST", "issues", payload) or {}

    def update_issue(self, number: int, title: str, body: str) -> dict[str, Any]:
        return self._call("PATCH", f"issues/{number}", {"title": title, "body": body}) or {}

    def comment(self, number: int, body: str) -> None:
        self._call("POST", f"issues/{number}/comments", {"body": body})

    def dispatch(self, event_type: str, client_payload: Mapping[str, Any]) -> None:
        self._call(
            "POST", "dispatches", {"event_type": event_type, "client_payload": client_payload}
        )


# --- what to say ------------------------------------------------------------------------


def marker(kind: str, fired: Sequence[str]) -> str:
    """The hidden line that finds this kind's issue again; names are URL-quoted."""
    return f"<!-- tabpipe-monitor:{kind} fired={','.join(quote(f, safe='') for f in fired)} -->"


def find_issue(
    issues: Sequence[Mapping[str, Any]], kind: str, author: str = BOT_AUTHOR
) -> Mapping[str, Any] | None:
    """The open issue the bot opened with this kind's marker (the oldest, if several)."""
    matching = [
        issue
        for issue in issues
        if (issue.get("user") or {}).get("login") == author
        and any(m.group("kind") == kind for m in MARKER.finditer(issue.get("body") or ""))
    ]
    return min(matching, key=lambda issue: issue["number"]) if matching else None


def fired_in(body: str, kind: str) -> list[str] | None:
    for m in MARKER.finditer(body or ""):
        if m.group("kind") == kind:
            return [unquote(f) for f in (m.group("fired") or "").split(",") if f]
    return None


def findings(summary: Mapping[str, Any], kind: str) -> list[str]:
    """What fired for this kind: drifted features, degraded metrics, or broken columns."""
    out: list[str] = []
    for check in summary.get("checks", []):
        if check.get("trigger") != kind:
            continue
        out += check.get("findings") or (
            [Path(check["source"]).name] if kind == "schema-skew" else []
        )
    return sorted(set(out))


def reports_for(summary: Mapping[str, Any], kind: str) -> list[str]:
    texts = []
    for check in summary.get("checks", []):
        path = check.get("reports", {}).get("markdown")
        if check.get("trigger") == kind and path and Path(path).is_file():
            texts.append(Path(path).read_text(encoding="utf-8"))
    return texts


def run_link(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return ""


def issue_body(summary: Mapping[str, Any], kind: str, env: Mapping[str, str]) -> str:
    fired = findings(summary, kind)
    link = run_link(env)
    seen = f"Last seen by [the monitoring run]({link})." if link else "Last seen by a local run."
    parts = [
        marker(kind, fired),
        f"**{TITLES[kind]}**",
        "",
        f"{seen} This issue is updated in place on every run that finds it again; "
        "it is never duplicated.",
        "",
        NEXT_STEPS[kind],
        "",
        *reports_for(summary, kind),
    ]
    body = "\n".join(parts)
    if len(body) > MAX_BODY:
        body = (
            body[:MAX_BODY] + "\n\n*(report truncated; the full report is in the run's artifact)*"
        )
    return body


# --- commands ---------------------------------------------------------------------------


def raise_issues(
    summary: Mapping[str, Any], github: GitHub, env: Mapping[str, str] = os.environ
) -> list[str]:
    """Open or update one issue per fired kind; returns what was done, one line each."""
    kinds = [k for k in summary.get("triggers", []) if k in TITLES]
    if not kinds:
        return []
    issues = github.open_issues()
    author = env.get("ALERT_AUTHOR", "").strip() or BOT_AUTHOR
    done = []
    for kind in kinds:
        body = issue_body(summary, kind, env)
        existing = find_issue(issues, kind, author)
        if existing is None:
            created = github.create_issue(TITLES[kind], body, [*LABELS, f"monitoring:{kind}"])
            done.append(f"opened issue #{created.get('number', '?')} ({kind})")
            continue
        number = int(existing["number"])
        before = fired_in(existing.get("body") or "", kind)
        github.update_issue(number, TITLES[kind], body)
        now = findings(summary, kind)
        if before != now:
            link = run_link(env)
            note = f"{kind} again, now in: {', '.join(f'`{f}`' for f in now) or '(none)'}"
            github.comment(number, note + (f" ([run]({link}))" if link else ""))
            done.append(f"updated issue #{number} ({kind}) and commented: what fired changed")
        else:
            done.append(f"updated issue #{number} ({kind})")
    return done


def dispatch_retraining(
    summary: Mapping[str, Any], github: GitHub, env: Mapping[str, str] = os.environ
) -> str:
    """One repository_dispatch when the summary asks for a retrain; '' when it does not."""
    if not summary.get("retrain"):
        return ""
    kinds = [k for k in summary.get("triggers", []) if k in RETRAIN_KINDS]
    reasons = [f"{kind} in {', '.join(findings(summary, kind))}" for kind in kinds]
    payload = {
        "reason": "; ".join(reasons)[:500],
        "triggers": kinds,
        "run_url": run_link(env),
    }
    github.dispatch(RETRAIN_EVENT, payload)
    return f"dispatched {RETRAIN_EVENT}: {payload['reason']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.monitoring.alert",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("command", choices=("issues", "dispatch"))
    parser.add_argument("summary", type=Path, help="summary.json written by tabpipe monitor")
    parser.add_argument("--repo", default=os.environ.get("GITHUB_REPOSITORY", ""))
    parser.add_argument("--dry-run", action="store_true", help="print the gh calls, make none")
    args = parser.parse_args(argv)
    if not args.repo:
        parser.error("no repository: pass --repo OWNER/NAME (GITHUB_REPOSITORY is not set)")
    try:
        summary = json.loads(args.summary.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"[alert] ERROR: {args.summary}: {exc}", file=sys.stderr)
        return 1
    github = GitHub(args.repo, dry_run if args.dry_run else gh)
    try:
        if args.command == "issues":
            lines = raise_issues(summary, github) or ["nothing fired: no issue to open"]
        else:
            lines = [dispatch_retraining(summary, github) or "no retraining asked for"]
    except GitHubError as exc:
        print(f"[alert] ERROR: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(f"[alert] {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
