"""Main is protected: a merge whose dvc.lock is stale ends in a pull request, never a push.

The team has a real remote (S3, played by moto on loopback) named in the DVC_REMOTE
variable. The training job reads it with the read-only credentials (DVC_READONLY_*); only
the publish job, bound to the dvc-write environment, pushes to it. The merge changed a
param without the lock (a maintainer merged past the check): training reproduces it, the
publish job pushes what it produced, and the propose job opens a pull request with the new
dvc.lock and results, because the origin refuses any workflow's push to main, as GitHub's
branch protection does. The pull request is opened with GITHUB_TOKEN, so GitHub would start
no workflow for it: the job says so and how to fix it.
"""

from __future__ import annotations

import pytest
import yaml

from tabpipe.ci.workflow import RETRAIN_BRANCH_PREFIX
from tests.rehearsal.conftest import CREDENTIALS, S3
from tests.rehearsal.harness import (
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    git,
    push_as_a_workflow,
    report_section,
    repository_payload,
)

pytestmark = pytest.mark.rehearsal


def add_team_remote(s3: S3):
    """What `dvc remote add team s3://...` and `dvc remote modify team endpointurl` write."""

    def edit(work):
        config = work / ".dvc" / "config"
        remote = (
            "['remote \"team\"']\n"
            f"    url = s3://{s3.bucket}/dvc\n"
            f"    endpointurl = {s3.endpoint}\n"
        )
        config.write_text(config.read_text() + remote)

    return edit


def test_a_stale_lock_on_main_is_proposed_in_a_pull_request_and_pushed_to_the_remote_not_to_main(
    origin: Origin, rehearsal: Rehearsal, s3_remote: S3, tmp_path
):
    before = origin.commit("main", "Store DVC data on the team's S3", add_team_remote(s3_remote))
    changes = []
    after = origin.commit(
        "main", "Tune the model on main", lambda w: changes.append(change_a_hyperparameter(w))
    )
    checkout = origin.checkout("refs/heads/main", tmp_path / "checkout", branch="main")
    payload = {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": repository_payload(),
    }
    rehearsal.variables["DVC_REMOTE"] = "team"
    rehearsal.secrets.update(CREDENTIALS)  # the dvc-write environment's
    rehearsal.secrets.update({f"DVC_READONLY_{k}": v for k, v in CREDENTIALS.items()})

    run = rehearsal.run(checkout, "push", payload)

    assert run.returncode == 0, run.log[-5000:]
    for job in (
        "Retrain what changed and build the report",
        "Push data, outputs and run-cache to the DVC remote",
        "Propose the new results in a pull request",
    ):
        assert run.job_succeeded(job), f"{job}\n{run.log[-5000:]}"
    assert not run.job_ran("Post or update the report comment")
    assert run.cml_calls() == []

    report = (run.artifact("training-report") / "report.md").read_text()
    assert "vs the previous commit" in report and f"baseline `{before[:7]}`" in report
    (change,) = changes
    row = f"| `{change.name}` | `{change.old}` | `{change.new}` |"
    assert row in report_section(report, "What changed")

    # Nothing reached main: the new results are on a branch, in a pull request.
    assert origin.sha("main") == after
    branches = git(origin.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    (branch,) = [b for b in branches if b.startswith(RETRAIN_BRANCH_PREFIX)]
    assert git(origin.bare, "log", "-1", "--format=%an", branch) == "github-actions[bot]"
    assert "dvc.lock" in git(origin.bare, "diff", "--name-only", after, branch).split()
    (pull,) = rehearsal.github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (branch, "main")
    assert pull["starts_workflows"] is False  # opened with GITHUB_TOKEN
    assert "::warning title=Checks will not start::" in run.log
    assert "RETRAIN_PR_TOKEN" in run.summary()

    # The protected origin refuses a workflow's push to main (as GitHub does).
    git(checkout, "fetch", "--quiet", "origin", branch)
    refused = push_as_a_workflow(checkout, "FETCH_HEAD:refs/heads/main")
    assert refused.returncode != 0 and "Protected branch update failed" in refused.stderr
    assert origin.sha("main") == after

    # Training read with the read-only credentials; publish pushed what the run produced
    # (the branch's dvc.lock: every cached output and the run-cache).
    assert "using DVC remote 'team' (AWS_ACCESS_KEY_ID set)" in run.log
    keys = set(s3_remote.keys())
    lock = yaml.safe_load(git(origin.bare, "show", f"{branch}:dvc.lock"))
    cached = {
        out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if not out["path"].startswith(("metrics/", "plots", "reports/"))
    }
    assert cached
    for md5 in cached:
        assert f"dvc/files/md5/{md5[:2]}/{md5[2:]}" in keys, md5
    assert any(key.startswith("dvc/runs/") for key in keys), "the run-cache was not pushed"
