"""Retraining on demand, on a schedule, and on a repository_dispatch (new data).

These run on main with nothing changed in git: the report compares the fresh run with the
committed results, the training job restores what it can from the cache, and the record
job commits dvc.lock only if the run changed it.
"""

from __future__ import annotations

import pytest

from tests.rehearsal.harness import Origin, Rehearsal, repository_payload

pytestmark = pytest.mark.rehearsal

EVENTS = [
    ("workflow_dispatch", {"inputs": {}}, "workflow_dispatch"),
    ("schedule", {"schedule": "17 5 * * 1"}, "schedule"),
    (
        "repository_dispatch",
        {"action": "new-data", "client_payload": {"reason": "March extract landed"}},
        "repository_dispatch `new-data` (March extract landed)",
    ),
]


@pytest.mark.parametrize(
    ("event", "payload", "trigger"), EVENTS, ids=["on-demand", "schedule", "new-data"]
)
def test_a_retrain_on_main_reports_against_the_committed_results(
    event, payload, trigger, origin: Origin, rehearsal: Rehearsal, tmp_path
):
    checkout = origin.checkout("refs/heads/main", tmp_path / "checkout", branch="main")
    head = origin.sha("main")

    run = rehearsal.run(checkout, event, {**payload, "repository": repository_payload()})

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded("Retrain what changed and build the report")
    assert run.job_succeeded("Record dvc.lock and the results in git")
    assert run.cml_calls() == []
    report = (run.artifact("training-report") / "report.md").read_text()
    assert f"Trigger: {trigger}" in report
    assert "vs the committed results" in report and f"baseline `{head[:7]}`" in report
    assert "Params: none changed." in report
    if payload.get("action") == "new-data" or event == "schedule":
        assert "no imported data to update" in run.log
    newest = origin.log("main")[0]
    assert newest == "Baseline: the project as it is" or "[skip ci]" in newest
