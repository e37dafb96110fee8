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


def check_lock(env, capsys):
    output = Path("github-output")
    output.write_text("")
    code = ci.check_lock({**env, "GITHUB_OUTPUT": str(output.resolve())})
    return code, output.read_text(), capsys.readouterr().out


def test_a_pull_request_whose_lock_matches_the_run_passes(repo_with_origin, capsys, monkeypatch):
    monkeypatch.setattr(ci, "results_paths", lambda: [Path("dvc.lock"), Path("metrics")])
    code, outputs, _ = check_lock({"GITHUB_EVENT_NAME": "pull_request"}, capsys)
    assert code == 0 and outputs == "changed=false\n"


def test_a_pull_request_with_a_stale_lock_fails_with_the_one_line_fix(
    repo_with_origin, capsys, monkeypatch
):
    monkeypatch.setattr(ci, "results_paths", lambda: [Path("dvc.lock"), Path("metrics")])
    Path("dvc.lock").write_text("schema: '2.0'\nstages: {train: {}}\n")  # what make run wrote
    (Path("metrics") / "slices.json").write_text("{}\n")  # a new result, untracked
    summary = Path("summary.md")
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_STEP_SUMMARY": str(summary.resolve())}

    code, outputs, out = check_lock(env, capsys)

    assert code == 1 and outputs == "changed=true\n"
    assert "::error title=dvc.lock is not up to date::" in out
    assert "dvc.lock, metrics/slices.json" in out
    fix = 'make run && git add dvc.lock metrics && git commit -m "Record dvc.lock and results"'
    assert fix in out and fix in summary.read_text()


def test_on_main_new_results_are_an_output_for_the_propose_job_not_a_failure(
    repo_with_origin, capsys, monkeypatch
):
    monkeypatch.setattr(ci, "results_paths", lambda: [Path("dvc.lock")])
    Path("dvc.lock").write_text("changed\n")
    code, outputs, out = check_lock({"GITHUB_EVENT_NAME": "schedule"}, capsys)
    assert code == 0 and outputs == "changed=true\n" and "::warning title=New results::" in out


@pytest.fixture
def github():
    from tests.support.fake_github import FakeGitHub, serving

    with serving(FakeGitHub(repository="o/r")) as fake:
        yield fake


def propose_env(fake, token="rehearsal-token", kind="github-token", **extra):
    return {
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_REF_NAME": "main",
        "GITHUB_SHA": "abc123def456",
        "GITHUB_REPOSITORY": fake.repository,
        "GITHUB_API_URL": fake.base,
        "GITHUB_TOKEN": token,
        "PR_TOKEN_KIND": kind,
        **extra,
    }


def test_propose_pushes_a_branch_and_opens_a_pull_request_never_touching_main(
    repo_with_origin, github, capsys
):
    origin, work = repo_with_origin
    main_before = git(origin, "rev-parse", "main")
    results = collect_results(work, "schema: '2.0'\nstages: {}\n", 0.9)

    assert ci.propose(results, propose_env(github)) == 0

    assert git(origin, "rev-parse", "main") == main_before
    branches = git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    (branch,) = [b for b in branches if b.startswith(ci.RETRAIN_BRANCH_PREFIX)]
    assert git(origin, "log", "-1", "--format=%an", branch) == ci.BOT_NAME
    assert set(git(origin, "diff", "--name-only", "main", branch).split()) == {
        "dvc.lock",
        "metrics/test.json",
    }
    (pull,) = github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (branch, "main")
    assert pull["title"] == "Record retrained results (schedule)"
    # Opened with GITHUB_TOKEN: GitHub would start no workflow; the job says so and how to fix.
    assert pull["starts_workflows"] is False
    out = capsys.readouterr().out
    assert "::warning title=Checks will not start::" in out and "RETRAIN_PR_TOKEN" in out


def test_with_a_dedicated_token_the_pull_requests_checks_start_and_a_rerun_finds_it(
    repo_with_origin, github, capsys
):
    _, work = repo_with_origin
    github.identities["pat"] = "release-bot"
    results = collect_results(work, "schema: '2.0'\nstages: {a: 1}\n", 0.91)
    env = propose_env(github, token="pat", kind="dedicated")

    assert ci.propose(results, env) == 0
    git(work, "checkout", "--quiet", "main")
    assert ci.propose(results, env) == 0  # the same results again: no second pull request

    (pull,) = github.pulls
    assert pull["starts_workflows"] is True and pull["user"]["login"] == "release-bot"
    out = capsys.readouterr().out
    assert "Checks will not start" not in out and "already proposed" in out


def test_propose_never_runs_for_a_pull_request_and_needs_collected_results(
    repo_with_origin, github, tmp_path, capsys
):
    _, work = repo_with_origin
    results = collect_results(work, "changed\n", 0.1)
    assert ci.propose(results, propose_env(github, GITHUB_EVENT_NAME="pull_request")) == 0
    assert ci.propose(tmp_path / "nothing", propose_env(github)) == 1
    assert github.pulls == [] and "the training job collected nothing" in capsys.readouterr().out


def test_propose_ignores_manifest_entries_outside_the_work_tree(repo_with_origin, github, tmp_path):
    origin, _ = repo_with_origin
    results = tmp_path / "evil"
    results.mkdir()
    (results / ci.RESULTS_MANIFEST).write_text("../outside\n.git/config\n/etc/passwd\n")
    assert ci.propose(results, propose_env(github)) == 1
    assert not (tmp_path / "outside").exists()
    branches = git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert branches == ["main"] and github.pulls == []
