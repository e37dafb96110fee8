"""tabpipe.ci.workflow: which DVC remote a job may use, and how dvc.lock gets back into git."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tabpipe.ci import workflow as ci
from tabpipe.core.paths import CHAMPION_FILE, PATHS

ROOT = Path(__file__).resolve().parents[2]

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


BUNDLED = ci.Remotes({"bundled": "storage"}, "bundled")
TEAM_DEFAULT = ci.Remotes({"bundled": "storage", "team": "s3://bucket/dvc"}, "team")
TEAM_NAMED = ci.Remotes({"bundled": "storage", "team": "s3://bucket/dvc"}, "bundled")


def test_the_bundled_remote_needs_no_credentials_and_is_never_pushed_to():
    choice = ci.choose_remote({}, BUNDLED)
    assert choice.pull_from == ("bundled",) and choice.push_to is None
    assert BUNDLED.credential_free("bundled")
    assert not TEAM_DEFAULT.credential_free("team")


def test_a_team_remote_with_credentials_is_pulled_from_then_pushed_to():
    env = {"AWS_ACCESS_KEY_ID": "AKIA"}
    assert ci.choose_remote(env, TEAM_DEFAULT) == ci.RemoteChoice(
        ("team", "bundled"), "team", "using DVC remote 'team' (AWS_ACCESS_KEY_ID set)"
    )
    named = ci.choose_remote({**env, "DVC_REMOTE": "team"}, TEAM_NAMED)
    assert named.pull_from[0] == "team" and named.push_to == "team"


def test_without_credentials_as_on_a_fork_only_remotes_that_need_none_are_used():
    choice = ci.choose_remote({"AWS_ACCESS_KEY_ID": ""}, TEAM_DEFAULT)
    assert choice.pull_from == ("bundled",) and choice.push_to is None
    assert "no credentials for DVC remote 'team'" in choice.reason
    alone = ci.choose_remote({}, ci.Remotes({"team": "s3://bucket/dvc"}, "team"))
    assert alone.pull_from == () and alone.push_to is None  # only the Actions cache is left


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


def test_pull_requests_never_push(capsys):
    assert ci.push({"GITHUB_EVENT_NAME": "pull_request", "AWS_ACCESS_KEY_ID": "k"}) == 0
    assert "never push" in capsys.readouterr().out


def test_without_data_or_credentials_training_is_skipped_with_a_warning_not_a_failure(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.dvc").write_text("outs:\n- md5: 0\n  path: data\n")
    monkeypatch.setattr(ci, "data_present", lambda pointers: False)
    monkeypatch.setattr(ci.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    monkeypatch.setattr(ci, "_output", lambda cmd: "data.dvc\n")
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}

    assert ci.pull(env, ci.Remotes({"team": "s3://b/p"}, "team")) == 0

    assert output.read_text() == "data=unavailable\n"
    assert "::warning title=Training skipped::" in capsys.readouterr().out
    assert "No training in this run" in summary.read_text()
    with_keys = {**env, "AWS_ACCESS_KEY_ID": "k"}
    monkeypatch.setattr(ci, "_run", lambda cmd, env=None: False)
    assert ci.pull(with_keys, ci.Remotes({"team": "s3://b/p"}, "team")) == 1  # a real failure


def git_kept_outputs() -> list[str]:
    """The outputs dvc.yaml keeps out of the DVC cache (``cache: false``): git holds them."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    kept = []
    for stage in spec["stages"].values():
        for out in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]:
            if isinstance(out, dict):
                ((path, options),) = out.items()
                if options and options.get("cache") is False:
                    kept.append(path)
    return kept


def test_the_results_to_record_are_every_git_kept_output_the_champion_and_the_lock(
    tmp_path, monkeypatch
):
    kept = git_kept_outputs()
    assert {"reports/gate.json", "reports/gate.md", "reports/reference_profile.json"} <= set(kept)
    expected = {"dvc.lock", "data.dvc", CHAMPION_FILE.as_posix(), *kept}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ci, "_output", lambda cmd: "data.dvc\n")
    for relative in expected:
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative == "plots":
            target.mkdir()
        else:
            target.write_text("{}\n")

    assert {p.as_posix() for p in ci.results_paths()} == expected

    (tmp_path / PATHS.gate_verdict).unlink()  # a run that stopped before the gate
    assert PATHS.gate_verdict not in ci.results_paths()


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
