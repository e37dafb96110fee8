"""The CI workflow's jobs, rehearsed on a pull request from a fresh checkout.

`data-contract` and `workflows` run under act here. `test` runs `make test`, the suite that
contains this very rehearsal, so rehearsing it would recurse; `lint` runs `make lint`,
which .ci/run runs directly anyway. Their commands are pinned statically in
tests/workflows/test_training_workflow.py.
"""

from __future__ import annotations

import pytest

from tests.rehearsal.harness import (
    CI,
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    pull_request_payload,
)

pytestmark = pytest.mark.rehearsal

PR = 11


@pytest.mark.parametrize(
    ("job", "evidence"),
    [
        ("data-contract", "every check passed"),
        ("workflows", " passed in "),
    ],
)
def test_a_ci_job_passes_on_a_pull_request(
    job, evidence, origin: Origin, rehearsal: Rehearsal, tmp_path
):
    base_sha = origin.sha("main")
    head_sha = origin.commit("tweak", "Tweak a param", change_a_hyperparameter)
    origin.merge_ref(PR, "tweak")
    checkout = origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "checkout")

    run = rehearsal.run(
        checkout,
        "pull_request",
        pull_request_payload(PR, "tweak", head_sha, base_sha),
        workflow=CI,
        job=job,
    )

    assert run.returncode == 0, run.log[-5000:]
    assert "🏁  Job succeeded" in run.log
    assert evidence in run.log
