"""Growing past one machine: a bigger runner by label, and the experiment-sweep matrix.

No workflow launches machines itself (CML's `cml runner launch` boots Ubuntu 18.04 through
a Terraform provider that no longer starts upstream). A repository variable,
TRAINING_RUNNER, names the runner the training jobs use: a GitHub larger runner, an
Actions Runner Controller scale set, or the label of ephemeral EC2 runners
(docs/scaling.md). experiment-sweep.yml is rehearsed under act
(tests/rehearsal/test_experiment_sweep.py); here only the wiring between its jobs.
"""

from __future__ import annotations

from tests.workflows.spec import jobs, step_named, steps, workflow

SWEEP = "experiment-sweep.yml"
RUNNER = "vars.TRAINING_RUNNER"


def test_no_workflow_launches_cloud_machines_or_holds_cloud_identity():
    for file, job_id, job in jobs():
        assert "id-token" not in (job.get("permissions") or {}), (file, job_id)
    for step in steps():
        assert "cml runner" not in step.run, step.where
        assert not step.uses.startswith(("iterative/", "hashicorp/setup-terraform")), step.where


def test_the_training_jobs_run_on_the_runner_the_variable_names_or_on_github_hosted():
    chosen = {
        (file, job_id): job["runs-on"]
        for file, job_id, job in jobs()
        if RUNNER in str(job["runs-on"])
    }
    assert set(chosen) == {
        ("continuous-training.yml", "train"),
        ("deploy.yml", "candidate"),
        ("experiment-sweep.yml", "train"),
    }
    for where, runs_on in chosen.items():
        assert runs_on.endswith("|| 'ubuntu-latest' }}"), where  # unset: GitHub-hosted
    for file, job_id, job in jobs():
        if (file, job_id) not in chosen:
            assert job["runs-on"] == "ubuntu-latest", (file, job_id)


def test_the_sweep_fans_the_checked_grid_out_and_gathers_every_cell():
    spec = workflow(SWEEP)
    assert set(spec["on"]) == {"workflow_dispatch"}
    expand = step_named(SWEEP, "expand", "Check the grid")
    assert expand.spec["env"]["SWEEP_GRID"] == "${{ inputs.grid }}"
    assert "tabpipe.ci.sweep expand" in expand.run
    train = spec["jobs"]["train"]
    assert train["strategy"]["matrix"]["cell"] == "${{ fromJSON(needs.expand.outputs.cells) }}"
    assert train["strategy"]["fail-fast"] is False
    upload = next(s for s in steps(SWEEP) if s.job == "train" and "upload-artifact" in s.uses)
    assert upload.spec["with"]["name"] == "sweep-${{ matrix.cell.id }}"
    download = next(s for s in steps(SWEEP) if s.job == "compare" and "download" in s.uses)
    assert download.spec["with"]["pattern"] == "sweep-cell-*"
    assert spec["jobs"]["compare"]["if"] == "${{ !cancelled() }}"
