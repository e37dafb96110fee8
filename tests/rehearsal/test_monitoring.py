"""The monitoring workflow under act: a drifted batch opens an issue and dispatches a retrain;
a clean one does neither.

Batches are simulated from the project's raw data and committed to main under
``monitor.incoming``, as a team would drop them there. ``gh`` is the stand-in in ``gh/``:
it serves GitHub's issues and dispatches endpoints from a JSON file that outlives one act
run (so a second run must find and update the first run's issue) and records every call.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabpipe.monitoring.alert import RETRAIN_EVENT
from tests.rehearsal.harness import Origin, Rehearsal, git, host_env, repository_payload
from tests.support.monitoring import write_simulated

pytestmark = pytest.mark.rehearsal

WORKFLOW = "monitoring.yml"
GH_STANDIN = Path(__file__).resolve().parent / "gh"
CHECK = "Check the newest batch and feedback"
ISSUE = "Open or update one issue per trigger"
DISPATCH = "Ask the training workflow to retrain"


CLEAN = "2025-01-01.csv"
DRIFTED = "2025-02-01.csv"  # the newest: what a scheduled run checks


def commit_batch(origin: Origin, raw, params, contract, name: str, kind: str) -> str:
    relative = params.monitor.incoming / name

    def edit(work: Path) -> None:
        write_simulated(raw, params, contract, work / relative, kind, labelled=False, seed=11)
        git(work, "add", str(relative))

    origin.commit("main", f"New batch {name} ({kind})", edit)
    return str(relative)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory, raw, params, contract) -> Path:
    """main with a clean and a drifted batch, checked out once for every run of this file
    (each act run in a fresh checkout would install the environment again)."""
    origin = Origin.create(tmp_path_factory.mktemp("monitoring-origin"))
    commit_batch(origin, raw, params, contract, CLEAN, "clean")
    commit_batch(origin, raw, params, contract, DRIFTED, "drift-numeric")
    return origin.checkout(
        "refs/heads/main", tmp_path_factory.mktemp("monitoring") / "co", branch="main"
    )


def gh_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": f"{GH_STANDIN}:{host_env()['PATH']}",  # gh is preinstalled on GitHub's runners
        "REHEARSAL_GH_STATE": str(tmp_path / "github-state.json"),
    }


def gh_calls(run) -> list[dict]:
    path = run.records / "gh-calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_a_drifted_batch_opens_one_issue_and_dispatches_retraining_every_time(
    checkout: Path, rehearsal: Rehearsal, tmp_path
):
    env = gh_env(tmp_path)
    # Someone pasted the drift marker into an issue of their own: it is never edited.
    foreign = {
        "number": 1,
        "state": "open",
        "title": "Notes on drift",
        "body": "<!-- tabpipe-monitor:drift fired=Income -->\nmy notes",
        "user": {"login": "mallory"},
    }
    state = {"issues": [foreign], "comments": [], "dispatches": []}
    Path(env["REHEARSAL_GH_STATE"]).write_text(json.dumps(state))
    payload = {"schedule": "41 6 * * *", "repository": repository_payload()}

    first = rehearsal.run(checkout, "schedule", payload, workflow=WORKFLOW, env=env)

    assert first.returncode == 0, first.log[-5000:]
    for job in (CHECK, ISSUE, DISPATCH):
        assert first.job_succeeded(job), f"{job}\n{first.log[-5000:]}"
    assert "monitoring exit status: 3" in first.log
    report = (first.artifact("monitoring-report") / "drift.md").read_text()
    assert f"## Drift check: `monitoring/incoming/{DRIFTED}`" in report and "🔴 **drift**" in report
    repo = "repos/rehearsal/tabpipe"
    calls = [(c["method"], c["endpoint"].split("?")[0]) for c in gh_calls(first)]
    assert calls.count(("POST", f"{repo}/issues")) == 1
    (dispatch,) = [c for c in gh_calls(first) if c["endpoint"].endswith("/dispatches")]
    assert dispatch["body"]["event_type"] == RETRAIN_EVENT
    assert "drift in" in dispatch["body"]["client_payload"]["reason"]
    (issue,) = [
        c["body"]
        for c in gh_calls(first)
        if c["method"] == "POST" and c["endpoint"].endswith("/issues")
    ]
    assert "<!-- tabpipe-monitor:drift" in issue["body"] and "## Drift check" in issue["body"]

    payload = {"inputs": {}, "repository": repository_payload()}
    second = rehearsal.run(checkout, "workflow_dispatch", payload, workflow=WORKFLOW, env=env)

    assert second.returncode == 0, second.log[-5000:]
    again = [(c["method"], c["endpoint"]) for c in gh_calls(second)]
    assert ("PATCH", f"{repo}/issues/2") in again, "the bot's open issue is updated"
    assert ("POST", f"{repo}/issues") not in again, "no second issue"
    assert ("POST", f"{repo}/dispatches") in again
    state = json.loads(Path(env["REHEARSAL_GH_STATE"]).read_text())
    assert len(state["issues"]) == 2 and len(state["dispatches"]) == 2
    assert state["issues"][0] == foreign, "the foreign issue carrying the marker is untouched"
    assert state["issues"][1]["user"]["login"] == "github-actions[bot]"
    assert not [
        c for c in gh_calls(first) + gh_calls(second) if c["endpoint"].endswith("/issues/1")
    ]


def test_a_clean_batch_raises_no_issue_and_no_retrain(
    checkout: Path, rehearsal: Rehearsal, tmp_path, params
):
    batch = str(params.monitor.incoming / CLEAN)  # named, as on "Run workflow" in the UI
    payload = {"inputs": {"batch": batch}, "repository": repository_payload()}

    run = rehearsal.run(
        checkout, "workflow_dispatch", payload, workflow=WORKFLOW, env=gh_env(tmp_path)
    )

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded(CHECK), run.log[-5000:]
    assert "monitoring exit status: 0" in run.log
    assert not run.job_ran(ISSUE) and not run.job_ran(DISPATCH)
    assert gh_calls(run) == []
    report = (run.artifact("monitoring-report") / "drift.md").read_text()
    assert f"`{batch}`" in report and "✅ **no drift**" in report
