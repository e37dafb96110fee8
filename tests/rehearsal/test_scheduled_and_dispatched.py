"""Retraining on demand, on a schedule, and on a repository_dispatch (new data).

These run on main with nothing changed in git: the report compares the fresh run with the
committed results, the training job restores what it can from the cache, the commit
already records what the run produced, so nothing is proposed and main is untouched. A
retrain that could not get the data trains nothing, and then neither publishes nor
proposes anything.
"""

from __future__ import annotations

import pytest

from tests.rehearsal.harness import Origin, Rehearsal, repository_payload

pytestmark = pytest.mark.rehearsal

TRAIN = "Retrain what changed and build the report"
PUBLISH = "Push data, outputs and run-cache to the DVC remote"
PROPOSE = "Propose the new results in a pull request"
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
    assert run.job_succeeded(TRAIN) and run.job_succeeded(PUBLISH)
    assert not run.job_ran(PROPOSE), "the commit already records these results"
    assert "the commit records exactly what this run produced" in run.log
    assert run.cml_calls() == [] and rehearsal.github.pulls == []
    report = (run.artifact("training-report") / "report.md").read_text()
    assert f"Trigger: {trigger}" in report
    assert "vs the committed results" in report and f"baseline `{head[:7]}`" in report
    assert "Params: none changed." in report
    if payload.get("action") == "new-data" or event == "schedule":
        assert "no imported data to update" in run.log
    assert origin.sha("main") == head


def test_a_retrain_without_its_data_trains_nothing_and_publishes_and_proposes_nothing(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    def private_remote_only(work):
        config = work / ".dvc" / "config"
        text = config.read_text().replace("remote = bundled", "remote = team")
        text = text.replace("url = storage", "url = missing")  # nothing the job can read
        config.write_text(text + "['remote \"team\"']\n    url = s3://team/dvc\n")

    origin.commit("main", "Data only on the team's remote", private_remote_only)
    checkout = origin.checkout("refs/heads/main", tmp_path / "checkout", branch="main")
    rehearsal.cache = tmp_path / "empty-actions-cache"  # nothing cached either
    rehearsal.cache.mkdir()

    run = rehearsal.run(
        checkout, "schedule", {"schedule": "17 5 * * 1", "repository": repository_payload()}
    )

    assert run.returncode == 0, run.log[-5000:]
    assert "Training skipped" in run.log
    assert not run.job_ran(PUBLISH) and not run.job_ran(PROPOSE)
    assert rehearsal.github.pulls == []
