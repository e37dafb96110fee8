"""The two ways past one machine: their structure, checked where they cannot be run.

cloud-training.yml needs a cloud account, so it is never rehearsed: these tests pin what
matters (OIDC credentials, spot, idle timeout, a per-run label the training job targets).
experiment-sweep.yml is rehearsed under act (tests/rehearsal/test_experiment_sweep.py);
here only the wiring between its jobs.
"""

from __future__ import annotations

import re

from tests.workflows.spec import jobs, step_named, steps, workflow

CLOUD = "cloud-training.yml"
SWEEP = "experiment-sweep.yml"


def launch_script() -> str:
    return step_named(CLOUD, "launch", "Launch the runner").run


def test_the_launch_job_alone_may_request_an_oidc_token():
    for file, job_id, job in jobs():
        granted = job.get("permissions") or {}
        assert ("id-token" in granted) == ((file, job_id) == (CLOUD, "launch")), (file, job_id)
    assert workflow(CLOUD)["jobs"]["launch"]["permissions"]["id-token"] == "write"


def test_cloud_credentials_come_from_oidc_never_from_stored_keys():
    launch = [s for s in steps(CLOUD) if s.job == "launch"]
    aws = next(s for s in launch if s.uses.startswith("aws-actions/configure-aws-credentials@"))
    assert aws.spec["with"]["role-to-assume"] == "${{ vars.CLOUD_RUNNER_AWS_ROLE }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws.spec["with"])
    gcp = next(s for s in launch if s.uses.startswith("google-github-actions/auth@"))
    assert "workload_identity_provider" in gcp.spec["with"]
    assert "credentials_json" not in gcp.spec["with"]
    azure = next(s for s in launch if s.uses.startswith("Azure/login@"))
    assert "creds" not in azure.spec["with"] and "client-id" in azure.spec["with"]
    for step, cloud in [(aws, "aws"), (gcp, "gcp"), (azure, "azure")]:
        assert step.spec["if"] == f"inputs.cloud == '{cloud}'"
    text = "\n".join(str(s.spec) for s in launch)
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AZURE_CLIENT_SECRET" not in text


def test_the_runner_is_registered_with_a_short_lived_app_token_not_a_personal_one():
    token = step_named(CLOUD, "launch", "GitHub App")
    assert token.uses.startswith("actions/create-github-app-token@")
    assert token.spec["with"]["permission-administration"] == "write"
    launch = step_named(CLOUD, "launch", "Launch the runner")
    assert launch.spec["env"]["REPO_TOKEN"] == "${{ steps.app-token.outputs.token }}"


def test_cml_is_pinned_without_vega_and_launches_a_spot_runner_that_times_out():
    setup = step_named(CLOUD, "launch", "Set up CML")
    assert setup.spec["with"] == {"version": "v0.20.6", "vega": False}
    assert workflow(CLOUD)["env"]["ITERATIVE_DO_NOT_TRACK"] == "1"
    script = launch_script()
    assert re.search(r"^\s*runner launch$", script, re.M)
    for flag in ("--cloud=", "--cloud-region=", "--cloud-type=", "--labels=", "--single"):
        assert flag in script, flag
    assert '--idle-timeout="$IDLE_TIMEOUT"' in script
    assert 'if [ "$CLOUD_SPOT" = "true" ]; then args+=(--cloud-spot); fi' in script
    inputs = workflow(CLOUD)["on"]["workflow_dispatch"]["inputs"]
    assert inputs["cloud"]["options"] == ["aws", "gcp", "azure", "kubernetes"]
    assert inputs["spot"]["default"] is True and int(inputs["idle-timeout"]["default"]) > 0


def test_the_training_job_runs_only_on_the_runner_this_run_launched():
    spec = workflow(CLOUD)
    assert spec["jobs"]["launch"]["outputs"]["label"] == "${{ steps.label.outputs.label }}"
    label = step_named(CLOUD, "launch", "Label the runner")
    assert "cml-train-${RUN_ID}-${RUN_ATTEMPT}" in label.run
    assert '--labels="$LABEL"' in launch_script()
    assert step_named(CLOUD, "launch", "Launch the runner").spec["env"]["LABEL"] == (
        "${{ steps.label.outputs.label }}"
    )
    train = spec["jobs"]["train"]
    assert train["needs"] == "launch"
    assert train["runs-on"] == ["self-hosted", "${{ needs.launch.outputs.label }}"]
    runs = [s.run.strip() for s in steps(CLOUD) if s.job == "train" and s.run]
    assert "python -m tabpipe.ci.workflow pull" in runs and "make run" in runs


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
