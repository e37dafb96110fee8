"""A pull request that changes params.yaml gets one report comment with the deltas.

The rehearsal builds a real two-branch repository (the project on main, a params change on
a branch), checks out the pull request's merge commit one commit deep, as actions/checkout
does, and runs the continuous-training workflow for a pull_request event under act.
"""

from __future__ import annotations

import re

import pytest

from tabpipe.ci.comment import WATERMARK
from tests.rehearsal.harness import (
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    pull_request_payload,
    report_section,
    table_rows,
)

pytestmark = pytest.mark.rehearsal

PR = 7


def open_pull_request(origin: Origin, tmp_path, *, branch: str = "tune-the-model"):
    change = None

    def edit(work):
        nonlocal change
        change = change_a_hyperparameter(work)

    base_sha = origin.sha("main")
    head_sha = origin.commit(branch, "Tune the model", edit)
    merge_sha = origin.merge_ref(PR, branch)
    checkout = origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "checkout")
    return change, base_sha, head_sha, merge_sha, checkout


def use_s3_by_default(work):
    """What `dvc remote add -d team s3://...` writes (the README's way to move to S3)."""
    config = work / ".dvc" / "config"
    text = config.read_text().replace("remote = bundled", "remote = team")
    remote = "['remote \"team\"']\n    url = s3://team-bucket/dvc\n    endpointurl = http://127.0.0.1:9\n"
    config.write_text(text + remote)
    assert "remote = team" in config.read_text()


def test_a_params_change_gets_one_sticky_comment_with_the_param_and_metric_deltas(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    change, base_sha, head_sha, _, checkout = open_pull_request(origin, tmp_path)
    payload = pull_request_payload(PR, "tune-the-model", head_sha, base_sha)

    run = rehearsal.run(checkout, "pull_request", payload)

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded("Retrain what changed and build the report"), run.log[-5000:]
    assert run.job_succeeded("Post or update the report comment"), run.log[-3000:]
    assert not run.job_ran("Record dvc.lock and the results in git")

    (call,) = run.cml_calls()  # posted exactly once, as an update of the sticky comment
    assert call["argv"][:2] == ["comment", "update"]
    assert f"--target=pr/{PR}" in call["argv"]
    assert f"--watermark-title={WATERMARK}" in call["argv"]
    assert "--no-publish" in call["argv"]
    assert call["token_present"] and call["do_not_track"] == "1"

    report = call["report"]
    assert report == (run.artifact("training-report") / "report.md").read_text()
    assert "vs `main`" in report and f"baseline `{base_sha[:7]}`" in report

    changed = report_section(report, "What changed")
    assert f"| `{change.name}` | `{change.old}` | `{change.new}` |" in changed

    metrics = table_rows(report_section(report, "Metrics (test split)"))
    assert metrics, report
    moved = [row for row in metrics if re.fullmatch(r"[+-]\d+\.\d{4}", row[3])]
    assert moved, f"no metric moved after {change}:\n{report}"
    for name, old, new, delta, relative, _ in moved:
        assert abs(float(new) - float(old) - float(delta)) < 2e-4, name
        assert re.fullmatch(r"[+-]\d+\.\d{2}%", relative), name

    assert "Data contract | ✅ pass" in report and "ONNX parity | ✅ pass" in report
    assert "#### Data validation" in report and "```mermaid" in report
    assert "xychart-beta" in report and "actual \\ predicted" in report

    assert report.strip() in run.summary(), "the whole report also goes to the job summary"
    assert (run.artifact("training-report") / "plots.html").is_file()


def test_a_fork_pull_request_needs_no_secret_and_reports_in_the_summary_when_commenting_is_refused(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    # The team keeps its data on S3 (DVC's default remote), with credentials as secrets;
    # a fork's run gets none of them. The endpoint is never contacted.
    origin.commit("main", "Store DVC data on S3", use_s3_by_default)
    _, base_sha, head_sha, _, checkout = open_pull_request(origin, tmp_path, branch="from-a-fork")
    payload = pull_request_payload(PR, "from-a-fork", head_sha, base_sha, fork=True)

    run = rehearsal.run(checkout, "pull_request", payload, env={"REHEARSAL_CML_REFUSES": "1"})

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded("Retrain what changed and build the report")
    assert run.job_succeeded("Post or update the report comment")
    assert len(run.cml_calls()) == 1
    assert "Report not posted" in run.log and "read-only token" in run.log
    assert "### Training report" in run.summary()
    assert "no credentials for DVC remote 'team'" in run.log
    # The data came from the Actions cache or from the remote that needs no credentials.
    assert (
        "+ dvc pull --remote bundled data.dvc" in run.log
        or "checked out from the DVC cache" in run.log
    )
    assert "+ dvc pull --remote team" not in run.log
    assert "DVC push" not in run.log
