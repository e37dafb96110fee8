"""The workflows follow the security rules zizmor and OpenSSF Scorecard check, and more.

Read-only by default, write scopes only where a job needs them, no credentials left in
checkouts, every action pinned to a commit with its version beside it, no expression
expanded inside a script, a concurrency group per workflow and a timeout per job.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.workflows.spec import (
    GITHUB,
    ROOT,
    jobs,
    load,
    steps,
    uses_lines,
    workflow_files,
)

# The only write scopes any job holds, and why.
WRITE_SCOPES = {
    ("continuous-training.yml", "comment"): {"pull-requests"},  # the sticky report comment
    # the results branch and its pull request, when no RETRAIN_PR_TOKEN is set (never main)
    ("continuous-training.yml", "propose"): {"contents", "pull-requests"},
    ("deploy.yml", "release"): {"contents"},  # the registry tags and the GitHub release
    ("monitoring.yml", "issue"): {"issues"},  # one issue per trigger kind, updated in place
    ("monitoring.yml", "dispatch"): {"contents"},  # repository_dispatch asks for a retrain
}
# Jobs bound to an environment, which GitHub's settings limit to main (docs/github-setup.md).
ENVIRONMENTS = {
    ("continuous-training.yml", "publish"): "dvc-write",
    ("continuous-training.yml", "propose"): "dvc-write",
    ("deploy.yml", "release"): "production",
}
# Secrets that can write, by environment; every other secret is a read-only DVC_READONLY_*.
WRITE_SECRETS = {
    "dvc-write": {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AZURE_STORAGE_CONNECTION_STRING",
        "GDRIVE_CREDENTIALS_DATA",
        "RETRAIN_PR_TOKEN",
    },
}
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(\.\d+){1,2}\b")


def test_there_is_one_workflow_per_concern():
    assert [p.name for p in workflow_files()] == [
        "ci.yml",
        "continuous-training.yml",
        "deploy.yml",
        "experiment-sweep.yml",
        "monitoring.yml",
    ]
    names = [load(p)["name"] for p in workflow_files()]
    assert names == [
        "CI",
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
        group = (load(path).get("concurrency") or {}).get("group", "")
        assert group.startswith("${{ github.workflow }}-"), path.name
    for file, job_id, job in jobs():
        assert isinstance(job.get("timeout-minutes"), int), f"{file}/{job_id} needs timeout-minutes"
        assert job["timeout-minutes"] <= 60


def render_group(path, event: str, ref: str = "refs/heads/main", run_id: str = "1", pr: int = 0):
    """The concurrency group and cancel-in-progress a run would get (the forms used here)."""
    spec = load(path)["concurrency"]
    values = {
        "github.workflow": load(path)["name"],
        "github.event_name": event,
        "github.ref": ref,
        "github.run_id": run_id,
        "github.event.pull_request.number": str(pr) if pr else "",
    }
    cancel = evaluate(str(spec["cancel-in-progress"]), values).lower()
    return evaluate(spec["group"], values), cancel


def evaluate(text: str, values: dict[str, str]) -> str:
    """A tiny evaluator for the `${{ ... }}` forms the concurrency blocks use."""

    def expr(body: str) -> str:
        body = body.strip()
        for name, value in values.items():
            body = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w.])", repr(value), body)
        body = re.sub(r"format\('pr-\{0\}', ('[^']*')\)", r"('pr-' + \1)", body)
        body = body.replace("&&", " and ").replace("||", " or ").replace("!cancelled()", "True")
        result = eval(body, {"__builtins__": {}})  # our own workflow files, no builtins
        return str(result).lower() if isinstance(result, bool) else str(result)

    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: expr(m.group(1)), text)


MAIN_EVENTS = ("push", "schedule", "workflow_dispatch", "repository_dispatch")
# Where a pending main run may be replaced by a newer one, because the newer run does all
# the replaced one would have (docs/ci-cd.md, "Concurrency"); everywhere else a main run
# has a group of its own.
SELF_SUFFICIENT = {
    ("deploy.yml", "push"),
    ("deploy.yml", "workflow_dispatch"),
    ("continuous-training.yml", "schedule"),
    ("continuous-training.yml", "workflow_dispatch"),
    ("continuous-training.yml", "repository_dispatch"),
    ("monitoring.yml", "schedule"),
}


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_main_run_is_cancelled_and_a_pull_requests_newer_push_cancels_its_older_run(path):
    on = load(path)["on"]
    for event in MAIN_EVENTS:
        if event not in on:
            continue
        first, cancel = render_group(path, event, run_id="101")
        second, _ = render_group(path, event, run_id="102")
        assert cancel == "false", f"{path.name}: a {event} run on main must never be cancelled"
        if (path.name, event) in SELF_SUFFICIENT:
            assert first == second, f"{path.name}: {event} runs are meant to queue"
        else:
            assert first != second, f"{path.name}: {event} runs need a group of their own"
    if "pull_request" in on:
        one, cancel = render_group(path, "pull_request", "refs/pull/7/merge", "201", pr=7)
        again, _ = render_group(path, "pull_request", "refs/pull/7/merge", "202", pr=7)
        other, _ = render_group(path, "pull_request", "refs/pull/8/merge", "203", pr=8)
        main_run, _ = render_group(path, "push", run_id="201")
        assert cancel == "true" and one == again != other != main_run, path.name


def test_the_evaluator_reads_the_forms_it_is_given():
    values = {"github.event_name": "push", "github.run_id": "9"}
    text = "${{ github.event_name == 'pull_request' && 'a' || github.run_id }}"
    assert evaluate(text, values) == "9"
    assert evaluate("${{ github.event_name == 'push' }}", values) == "true"


def test_no_workflow_runs_untrusted_code_with_the_base_repositorys_privileges():
    for path in workflow_files():
        triggers = load(path)["on"]
        assert "pull_request_target" not in triggers, path.name
        assert "workflow_run" not in triggers, path.name
    for step in steps():
        assert "pull_request_target" not in str(step.spec), step.where


def test_jobs_bound_to_an_environment_are_exactly_the_main_only_writers():
    for file, job_id, job in jobs():
        expected = ENVIRONMENTS.get((file, job_id))
        assert job.get("environment") == expected, (file, job_id)
        if expected:
            assert "github.ref == 'refs/heads/main'" in job["if"], (file, job_id)
            assert "github.event_name != 'pull_request'" in job["if"] or file == "deploy.yml"


def test_write_credentials_reach_only_jobs_in_their_environment_read_only_ones_the_rest():
    """No pull-request job can write to the DVC remote (or plant a run-cache entry)."""
    from tabpipe.ci.workflow import CREDENTIAL_VARIABLES

    seen_read_only = set()
    for step in steps():
        text = yaml.safe_dump(step.spec)
        names = set(re.findall(r"secrets\.(\w+)", text))
        if not names:
            continue
        environment = ENVIRONMENTS.get((step.file, step.job))
        writes = {n for n in names if not n.startswith("DVC_READONLY_")}
        assert writes <= WRITE_SECRETS.get(environment or "", set()), (step.where, writes)
        env = step.spec.get("env", {})
        if environment is None:
            assert re.fullmatch(
                r"python -m tabpipe\.ci\.workflow pull( --data-only)?", step.run.strip()
            ), step.where
            for variable in CREDENTIAL_VARIABLES:
                assert env[variable] == f"${{{{ secrets.DVC_READONLY_{variable} }}}}", step.where
            seen_read_only.add((step.file, step.job))
    assert ("continuous-training.yml", "train") in seen_read_only
    for file, job_id, job in jobs():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), f"{file}/{job_id}"


def test_the_auditor_personas_findings_are_only_the_read_only_credentials():
    """zizmor --persona=auditor flags secrets outside an environment: only DVC_READONLY_*.

    docs/github-setup.md explains each: pull-request jobs cannot use an environment limited to
    main, and these credentials cannot write.
    """
    from tests.workflows.test_linters import tool

    done = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--persona=auditor",
            "--format=json",
            str(GITHUB),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings, done.stderr
    assert {f["ident"] for f in findings} == {"secrets-outside-env"}
    files = set()
    for finding in findings:
        (primary,) = [loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary"]
        assert primary["concrete"]["feature"].startswith("secrets.DVC_READONLY_"), primary
        files.add(Path(primary["symbolic"]["key"]["Local"]["verbatim_path"]).name)
    documented = (ROOT / "docs" / "github-setup.md").read_text()
    for file in files:
        assert f"`{file}`" in documented, f"docs/github-setup.md does not explain {file}'s findings"


def test_dependabot_keeps_the_action_pins_and_the_python_lock_current():
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert {"github-actions", "uv"} <= ecosystems
    for update in config["updates"]:
        assert update["directory"] == "/" and update["schedule"]["interval"]
