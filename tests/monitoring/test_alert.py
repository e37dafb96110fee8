"""Alerts: one issue per trigger kind, updated in place; one retrain dispatch, never for skew.

GitHub is replaced by a small in-memory REST API behind the same ``gh api`` command lines
the module sends, so the tests see exactly the calls a real run would make.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from tabpipe.monitoring import alert
from tabpipe.monitoring.alert import GitHub

ROOT = Path(__file__).resolve().parents[2]
BOT = "github-actions[bot]"  # who GitHub says opened an issue with GITHUB_TOKEN
ENV = {"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://gh"}


class FakeApi:
    """Answers ``gh api --method M repos/o/r/PATH [--input -]`` like GitHub's REST API."""

    def __init__(self) -> None:
        self.issues: list[dict] = [{"number": 1, "title": "unrelated", "body": "hello"}]
        self.comments: list[tuple[int, str]] = []
        self.dispatches: list[dict] = []
        self.calls: list[tuple[str, str]] = []

    def __call__(self, args: Sequence[str], stdin: str | None) -> str:
        assert args[:2] == ["api", "--method"]
        method, path = args[2], args[3].removeprefix("repos/o/r/")
        self.calls.append((method, path))
        body = json.loads(stdin) if stdin else None
        if method == "GET" and path.startswith("issues?"):
            return json.dumps([i for i in self.issues if i.get("state", "open") == "open"])
        if method == "POST" and path == "issues":
            issue = {"number": len(self.issues) + 1, "user": {"login": BOT}, **body}
            self.issues.append(issue)
            return json.dumps(issue)
        if method == "PATCH" and path.startswith("issues/"):
            issue = next(i for i in self.issues if i["number"] == int(path.split("/")[1]))
            issue.update(body)
            return json.dumps(issue)
        if method == "POST" and path.endswith("/comments"):
            self.comments.append((int(path.split("/")[1]), body["body"]))
            return "{}"
        if method == "POST" and path == "dispatches":
            self.dispatches.append(body)
            return ""
        raise AssertionError(f"unexpected call {method} {path}")


def summary(tmp_path: Path, *checks: tuple[str, list[str]]) -> dict:
    entries = []
    for kind, findings in checks:
        report = tmp_path / f"{kind}.md"
        report.write_text(f"## {kind} report\n")
        entries.append(
            {
                "trigger": kind,
                "findings": findings,
                "source": "b.csv",
                "reports": {"markdown": str(report)},
            }
        )
    triggers = sorted({kind for kind, _ in checks})
    retrain = "schema-skew" not in triggers and bool(triggers)
    return {"triggers": triggers, "retrain": retrain, "checks": entries}


def test_each_kind_opens_one_issue_with_its_report_and_a_marker(tmp_path):
    api = FakeApi()
    found = summary(tmp_path, ("drift", ["Income", "Price"]), ("degradation", ["roc_auc"]))
    done = alert.raise_issues(found, GitHub("o/r", api), ENV)
    assert len(done) == 2 and all(line.startswith("opened issue") for line in done)
    drift_issue = next(i for i in api.issues if "drift" in i["title"])
    assert "<!-- tabpipe-monitor:drift fired=Income,Price -->" in drift_issue["body"]
    assert "## drift report" in drift_issue["body"]
    assert "https://gh/o/r/actions/runs/42" in drift_issue["body"]
    assert "monitoring:drift" in drift_issue["labels"]


def test_a_second_run_updates_the_issue_and_comments_only_when_what_fired_changed(tmp_path):
    api = FakeApi()
    github = GitHub("o/r", api)
    alert.raise_issues(summary(tmp_path, ("drift", ["Income"])), github, ENV)
    alert.raise_issues(summary(tmp_path, ("drift", ["Income"])), github, ENV)
    alert.raise_issues(summary(tmp_path, ("drift", ["Income", "Home"])), github, ENV)
    drift_issues = [i for i in api.issues if "tabpipe-monitor:drift" in i.get("body", "")]
    assert len(drift_issues) == 1, "no issue spam"
    assert [m for m, p in api.calls if p == "issues"] == ["POST"]
    assert sum(1 for m, p in api.calls if m == "PATCH") == 2
    assert len(api.comments) == 1 and "`Home`" in api.comments[0][1]
    assert "fired=Home,Income" in drift_issues[0]["body"]


def test_a_closed_issue_is_not_reused(tmp_path):
    api = FakeApi()
    github = GitHub("o/r", api)
    alert.raise_issues(summary(tmp_path, ("drift", ["Income"])), github, ENV)
    api.issues[-1]["state"] = "closed"
    alert.raise_issues(summary(tmp_path, ("drift", ["Income"])), github, ENV)
    assert [m for m, p in api.calls if p == "issues"] == ["POST", "POST"]


def test_an_issue_someone_else_wrote_is_never_edited_even_with_the_marker(tmp_path):
    api = FakeApi()
    marker = alert.marker("drift", ["Income"])
    api.issues.append(
        {"number": 2, "title": "copied", "body": f"{marker}\nmine", "user": {"login": "mallory"}}
    )
    done = alert.raise_issues(summary(tmp_path, ("drift", ["Income"])), GitHub("o/r", api), ENV)
    assert done == ["opened issue #3 (drift)"]
    assert api.issues[1]["body"] == f"{marker}\nmine" and ("PATCH", "issues/2") not in api.calls
    again = alert.raise_issues(summary(tmp_path, ("drift", ["Income"])), GitHub("o/r", api), ENV)
    assert again == ["updated issue #3 (drift)"]


def test_names_with_spaces_survive_the_marker():
    line = alert.marker("drift", ["Length (mm)", "a,b"])
    assert alert.fired_in(line, "drift") == ["Length (mm)", "a,b"]


def test_drift_and_degradation_dispatch_one_retrain_schema_skew_none(tmp_path):
    api = FakeApi()
    github = GitHub("o/r", api)
    both = summary(tmp_path, ("drift", ["Income"]), ("degradation", ["roc_auc"]))
    assert alert.dispatch_retraining(both, github, ENV)
    (event,) = api.dispatches
    assert event["event_type"] == alert.RETRAIN_EVENT
    assert "drift in Income" in event["client_payload"]["reason"]
    assert "degradation in roc_auc" in event["client_payload"]["reason"]
    skew = summary(tmp_path, ("schema-skew", ["Seniority"]), ("drift", ["Income"]))
    assert alert.dispatch_retraining(skew, github, ENV) == ""
    assert alert.dispatch_retraining({"triggers": [], "retrain": False}, github, ENV) == ""
    assert len(api.dispatches) == 1


def test_the_training_workflow_listens_to_the_dispatched_event():
    workflow = yaml.safe_load((ROOT / ".github/workflows/continuous-training.yml").read_text())
    on = workflow.get("on", workflow.get(True))
    assert alert.RETRAIN_EVENT in on["repository_dispatch"]["types"]


def test_the_cli_dry_run_makes_no_call(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no gh anywhere: a real call would fail
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary(tmp_path, ("drift", ["Income"]))))
    assert alert.main(["issues", str(path), "--repo", "o/r", "--dry-run"]) == 0
    assert alert.main(["dispatch", str(path), "--repo", "o/r", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: gh api --method POST repos/o/r/issues" in out
    assert "dispatched drift-detected" in out
    assert alert.main(["issues", str(path), "--repo", "o/r"]) == 1  # gh missing: a clear error


def test_a_refusing_api_surfaces_as_a_github_error(tmp_path):
    def refusing(args, stdin):
        raise alert.GitHubError("gh api failed: HTTP 403 Resource not accessible by integration")

    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary(tmp_path, ("drift", ["Income"]))))
    with pytest.raises(alert.GitHubError):
        alert.raise_issues(json.loads(path.read_text()), GitHub("o/r", refusing), ENV)
