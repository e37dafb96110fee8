"""A push to main retrains, reports against the previous commit, pushes to the team's DVC
remote, and records dvc.lock in git.

The team has a real remote (S3, played by moto on loopback) named in the DVC_REMOTE
variable, with its credentials as secrets. The record job commits dvc.lock and the results
back to main; that commit must not start another training run: it carries [skip ci] and
touches none of the workflow's paths.
"""

from __future__ import annotations

import pytest
import yaml

from tabpipe.ci.workflow import SKIP_CI
from tests.rehearsal.conftest import CREDENTIALS, S3
from tests.rehearsal.harness import (
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    changed_files,
    git,
    matches_any,
    report_section,
    repository_payload,
    workflow_paths,
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


def test_a_push_to_main_retrains_pushes_to_the_remote_and_records_the_lock_without_retriggering(
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
    rehearsal.secrets.update(CREDENTIALS)

    run = rehearsal.run(checkout, "push", payload)

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded("Retrain what changed and build the report")
    assert run.job_succeeded("Record dvc.lock and the results in git")
    assert not run.job_ran("Post or update the report comment")
    assert run.cml_calls() == []  # no pull request, so no comment: the summary has it

    report = (run.artifact("training-report") / "report.md").read_text()
    assert "vs the previous commit" in report and f"baseline `{before[:7]}`" in report
    (change,) = changes
    row = f"| `{change.name}` | `{change.old}` | `{change.new}` |"
    assert row in report_section(report, "What changed")

    # The record job: one bot commit with [skip ci] that no paths filter would match.
    head, previous = origin.log("main")[:2]
    assert head.startswith("Record pipeline results of ") and SKIP_CI in head
    assert previous == "Tune the model on main"
    assert git(origin.bare, "log", "-1", "--format=%an", "main") == "github-actions[bot]"
    recorded = changed_files(origin.bare, after, origin.sha("main"))
    assert "dvc.lock" in recorded
    assert not [f for f in recorded if matches_any(f, workflow_paths())], recorded

    # The push step: data, every output of the recorded dvc.lock, and the run-cache.
    keys = set(s3_remote.keys())
    lock = yaml.safe_load(git(origin.bare, "show", "main:dvc.lock"))
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
    data = yaml.safe_load(git(origin.bare, "show", "main:data.dvc"))["outs"][0]["md5"]
    assert f"dvc/files/md5/{data[:2]}/{data[2:]}" in keys
    assert "using DVC remote 'team' (AWS_ACCESS_KEY_ID set)" in run.log
