"""A push to main retrains, reports against the previous commit, and records dvc.lock.

The record job commits dvc.lock and the results back to main. That commit must not start
another training run: it carries [skip ci] and touches none of the workflow's paths.
"""

from __future__ import annotations

import pytest

from tabpipe.ci import SKIP_CI
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


def test_a_push_to_main_retrains_reports_and_records_the_lock_without_retriggering(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    before = origin.sha("main")
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

    run = rehearsal.run(checkout, "push", payload)

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded("Retrain what changed and build the report")
    assert run.job_succeeded("Record dvc.lock and the results in git")
    assert not run.job_ran("Post or update the report comment")
    assert run.cml_calls() == []  # no pull request, so no comment: the summary has it
    assert "DVC push skipped" in run.log  # no DVC_REMOTE and no credentials

    report = (run.artifact("training-report") / "report.md").read_text()
    assert "vs the previous commit" in report
    (change,) = changes
    assert f"| `{change.name}` | `{change.old}` | `{change.new}` |" in report_section(
        report, "What changed"
    )

    head, previous = origin.log("main")[:2]
    assert head.startswith("Record pipeline results of ") and SKIP_CI in head
    recorded = changed_files(origin.bare, after, origin.sha("main"))
    assert "dvc.lock" in recorded
    assert not [f for f in recorded if matches_any(f, workflow_paths())], recorded
    assert git(origin.bare, "log", "-1", "--format=%an", "main") == "github-actions[bot]"
    assert previous == "Tune the model on main"
