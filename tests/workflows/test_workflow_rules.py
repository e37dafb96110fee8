"""The workflows follow the security rules zizmor and OpenSSF Scorecard check, and more.

Read-only by default, write scopes only where a job needs them, no credentials left in
checkouts, every action pinned to a commit with its version beside it, no expression
expanded inside a script, a concurrency group per workflow and a timeout per job.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.workflows.spec import (
    GITHUB,
    jobs,
    load,
    steps,
    uses_lines,
    workflow_files,
)

# The only write scopes any job holds, and why.
WRITE_SCOPES = {
    ("continuous-training.yml", "comment"): {"pull-requests"},  # the sticky report comment
    ("continuous-training.yml", "record"): {"contents"},  # the [skip ci] dvc.lock commit
    ("cloud-training.yml", "launch"): {"id-token"},  # OIDC for short-lived cloud credentials
    ("deploy.yml", "release"): {"contents"},  # the registry tags and the GitHub release
    ("monitoring.yml", "issue"): {"issues"},  # one issue per trigger kind, updated in place
    ("monitoring.yml", "dispatch"): {"contents"},  # repository_dispatch asks for a retrain
}
# Jobs that pull from the DVC remote with its credentials (tabpipe.ci.workflow pull/push only).
REMOTE_JOBS = {"train", "check"}
# Secrets outside the DVC remote's steps: only the cloud runner's launch, and only these.
LAUNCH_SECRETS = {"CML_RUNNER_APP_PRIVATE_KEY", "KUBERNETES_CONFIGURATION"}
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(\.\d+){1,2}\b")


def test_there_is_one_workflow_per_concern():
    assert [p.name for p in workflow_files()] == [
        "ci.yml",
        "cloud-training.yml",
        "continuous-training.yml",
        "deploy.yml",
        "experiment-sweep.yml",
        "monitoring.yml",
    ]
    names = [load(p)["name"] for p in workflow_files()]
    assert names == [
        "CI",
        "Cloud training",
        "Continuous training",
        "Deploy",
        "Experiment sweep",
        "Monitoring",
    ]


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_a_workflow_grants_nothing_at_the_top(path):
    assert load(path).get("permissions") == {}, f"{path.name}: set `permissions: {{}}` at the top"


def test_each_job_declares_its_permissions_and_writes_only_where_needed():
    for file, job_id, job in jobs():
        assert "permissions" in job, f"{file}/{job_id} must declare its permissions"
        granted = job["permissions"] or {}
        assert isinstance(granted, dict), f"{file}/{job_id}: no permission shorthands"
        writes = {scope for scope, level in granted.items() if level == "write"}
        assert writes == WRITE_SCOPES.get((file, job_id), set()), (file, job_id, writes)
        assert set(granted.values()) <= {"read", "write", "none"}


def test_every_checkout_keeps_no_credentials():
    checkouts = [s for s in steps() if s.uses.startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step.spec.get("with", {}).get("persist-credentials") is False, step.where


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version_in_a_comment():
    lines = uses_lines()
    assert lines
    for file, number, ref, rest in lines:
        assert PINNED.match(ref), f"{file}:{number}: {ref} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.match(rest), f"{file}:{number}: add the version, e.g. `# v1.2.3`"


def test_an_action_is_pinned_to_the_same_commit_and_version_everywhere():
    seen: dict[str, tuple[str, str]] = {}
    for file, number, ref, rest in uses_lines():
        repo, sha = ref.split("@")
        repo = "/".join(repo.split("/")[:2])
        version = rest.strip().lstrip("#").strip()
        assert seen.setdefault(repo, (sha, version)) == (sha, version), f"{file}:{number}: {repo}"


def test_no_expression_is_expanded_inside_a_script():
    """Untrusted text (branch names, titles, payloads) reaches scripts only through env."""
    scripts = [s for s in steps() if s.run]
    assert scripts
    for step in scripts:
        assert "${{" not in step.run, f"{step.where}: pass the value through env:"


def test_every_job_has_a_timeout_and_every_workflow_a_concurrency_group():
    for path in workflow_files():
        spec = load(path)
        group = (spec.get("concurrency") or {}).get("group", "")
        assert group.startswith("${{ github.workflow }}-"), path.name
        assert "github.event.pull_request.number || github.ref" in group, path.name
    for file, job_id, job in jobs():
        assert isinstance(job.get("timeout-minutes"), int), f"{file}/{job_id} needs timeout-minutes"
        assert job["timeout-minutes"] <= 60


def test_no_workflow_runs_untrusted_code_with_the_base_repositorys_privileges():
    for path in workflow_files():
        triggers = load(path)["on"]
        assert "pull_request_target" not in triggers, path.name
        assert "workflow_run" not in triggers, path.name
    for step in steps():
        assert "pull_request_target" not in str(step.spec), step.where


def test_secrets_reach_only_the_steps_that_talk_to_the_dvc_remote():
    from tabpipe.ci.workflow import CREDENTIAL_VARIABLES

    for step in steps():
        text = yaml.safe_dump(step.spec)
        if "secrets." not in text:
            continue
        if (step.file, step.job) == ("cloud-training.yml", "launch"):
            assert set(re.findall(r"secrets\.(\w+)", text)) <= LAUNCH_SECRETS, step.where
            continue
        assert step.job in REMOTE_JOBS, step.where
        assert re.fullmatch(r"python -m tabpipe\.ci\.workflow (pull|push)", step.run.strip()), (
            step.where
        )
        env = step.spec.get("env", {})
        mapped = {k for k, v in env.items() if "secrets." in str(v)}
        assert set(CREDENTIAL_VARIABLES) <= mapped, step.where
        assert all(v == f"${{{{ secrets.{k} }}}}" for k, v in env.items() if k in mapped)
    for file, job_id, job in jobs():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), f"{file}/{job_id}"


def test_dependabot_keeps_the_action_pins_and_the_python_lock_current():
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert {"github-actions", "uv"} <= ecosystems
    for update in config["updates"]:
        assert update["directory"] == "/" and update["schedule"]["interval"]
