"""tabpipe.ci: which DVC remote a job may use, and how dvc.lock gets back into git."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tabpipe import ci

IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **IDENTITY},
    )
    return done.stdout.strip()


def test_without_dvc_remote_the_default_remote_is_used_and_nothing_is_pushed():
    choice = ci.choose_remote({})
    assert choice.name is None and not choice.can_push and choice.args() == []


def test_a_named_remote_without_credentials_falls_back_to_the_default_as_on_a_fork():
    choice = ci.choose_remote({"DVC_REMOTE": "team", "AWS_ACCESS_KEY_ID": ""})
    assert choice.name is None and not choice.can_push
    assert "no credentials" in choice.reason


def test_a_named_remote_with_credentials_is_pulled_from_and_pushed_to():
    choice = ci.choose_remote({"DVC_REMOTE": "team", "AWS_ACCESS_KEY_ID": "AKIA"})
    assert choice.name == "team" and choice.can_push
    assert choice.args() == ["--remote", "team"]


def test_the_trigger_is_read_from_the_event_and_new_data_refreshes_imports(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "new-data", "client_payload": {"reason": "April"}}))
    trigger = ci.Trigger.from_env(
        {"GITHUB_EVENT_NAME": "repository_dispatch", "GITHUB_EVENT_PATH": str(event)}
    )
    assert trigger.refreshes_data and trigger.describe() == "repository_dispatch `new-data` (April)"
    assert ci.Trigger.from_env({"GITHUB_EVENT_NAME": "schedule"}).refreshes_data
    assert not ci.Trigger.from_env({"GITHUB_EVENT_NAME": "pull_request"}).refreshes_data
    assert ci.Trigger.from_env({}).event == "local"


def test_the_token_reaches_git_only_through_environment_config():
    env = ci.git_auth_env({"GITHUB_TOKEN": "s3cret", "GITHUB_SERVER_URL": "https://github.com"})
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    expected = base64.b64encode(b"x-access-token:s3cret").decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"AUTHORIZATION: basic {expected}"
    assert "GIT_CONFIG_COUNT" not in ci.git_auth_env({})


def test_annotations_keep_multi_line_messages_on_one_line(capsys):
    ci.annotate("warning", "a: b, c", "first\nsecond 100%")
    assert capsys.readouterr().out == "::warning title=a%3A b%2C c::first%0Asecond 100%25\n"


def test_pull_requests_never_push_and_a_missing_remote_is_a_notice(capsys):
    assert (
        ci.push({"GITHUB_EVENT_NAME": "pull_request", "DVC_REMOTE": "t", "AWS_ACCESS_KEY_ID": "k"})
        == 0
    )
    assert "never push" in capsys.readouterr().out
    assert ci.push({"GITHUB_EVENT_NAME": "push"}) == 0
    assert "DVC push skipped" in capsys.readouterr().out


@pytest.fixture
def repo_with_origin(tmp_path, monkeypatch):
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    (work / "dvc.lock").write_text("schema: '2.0'\n")
    (work / "metrics").mkdir()
    (work / "metrics" / "test.json").write_text('{"accuracy": 0.8}\n')
    (work / "params.yaml").write_text("train: {}\n")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "start")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "--quiet", "origin", "main")
    monkeypatch.chdir(work)
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    return origin, work


def collect_results(work: Path, lock: str, accuracy: float) -> Path:
    """What the training job would have produced, collected into an artifact folder."""
    produced = work.parent / "produced"
    (produced / "metrics").mkdir(parents=True, exist_ok=True)
    (produced / "dvc.lock").write_text(lock)
    (produced / "metrics" / "test.json").write_text(json.dumps({"accuracy": accuracy}) + "\n")
    results = work.parent / "results"
    ci.collect(results, [produced / "dvc.lock", produced / "metrics"], root=produced)
    return results


def test_record_commits_the_results_with_skip_ci_and_pushes_them(repo_with_origin):
    origin, work = repo_with_origin
    results = collect_results(work, "schema: '2.0'\nstages: {}\n", 0.9)

    assert (
        ci.record(
            results, {"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc"}
        )
        == 0
    )

    message = git(origin, "log", "-1", "--format=%s", "main")
    assert message.startswith("Record pipeline results of abc") and message.endswith("[skip ci]")
    assert git(origin, "log", "-1", "--format=%an", "main") == ci.BOT_NAME
    assert set(git(origin, "diff", "--name-only", "main~1", "main").split()) == {
        "dvc.lock",
        "metrics/test.json",
    }


def test_record_makes_no_commit_when_nothing_changed(repo_with_origin, capsys):
    origin, work = repo_with_origin
    results = collect_results(work, "schema: '2.0'\n", 0.8)
    before = git(origin, "rev-parse", "main")

    assert ci.record(results, {"GITHUB_EVENT_NAME": "schedule", "GITHUB_REF_NAME": "main"}) == 0

    assert git(origin, "rev-parse", "main") == before
    assert "nothing to record" in capsys.readouterr().out


def test_record_never_commits_on_a_pull_request(repo_with_origin):
    origin, work = repo_with_origin
    results = collect_results(work, "changed\n", 0.1)
    before = git(origin, "rev-parse", "main")
    assert ci.record(results, {"GITHUB_EVENT_NAME": "pull_request"}) == 0
    assert git(origin, "rev-parse", "main") == before


def test_a_refused_push_is_a_warning_not_a_failure(repo_with_origin, capsys):
    _, work = repo_with_origin
    results = collect_results(work, "changed\n", 0.7)
    env = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main"}
    git(work, "remote", "set-url", "origin", str(work.parent / "missing.git"))

    assert ci.record(results, env) == 0

    assert "::warning title=dvc.lock not recorded::" in capsys.readouterr().out


def test_record_ignores_manifest_entries_outside_the_work_tree(repo_with_origin, tmp_path):
    origin, _ = repo_with_origin
    results = tmp_path / "evil"
    results.mkdir()
    (results / ci.RESULTS_MANIFEST).write_text("../outside\n.git/config\n/etc/passwd\n")
    before = git(origin, "rev-parse", "main")
    assert ci.record(results, {"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main"}) == 0
    assert git(origin, "rev-parse", "main") == before
