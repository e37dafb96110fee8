"""The continuous-training workflow: its triggers, caches, baseline, comment and record.

Each test names a behaviour the README promises; the rehearsals in tests/rehearsal run the
same file under act to show the behaviour, these pin the wiring that makes it so.
"""

from __future__ import annotations

from tabpipe.ci.comment import WATERMARK, cml_command
from tabpipe.ci.report import PIPELINE_INPUTS
from tabpipe.ci.workflow import SKIP_CI
from tests.workflows.spec import CI, TRAINING, jobs, step_named, steps, workflow

PIPELINE_PATHS = ["data.dvc", "dvc.yaml", "params.yaml", "src/**", "contracts/**"]


def test_training_runs_when_pipeline_inputs_change_on_demand_on_a_schedule_and_on_dispatch():
    on = workflow(TRAINING)["on"]
    assert on["pull_request"]["paths"] == PIPELINE_PATHS
    assert on["push"] == {"branches": ["main"], "paths": PIPELINE_PATHS}
    assert "workflow_dispatch" in on
    assert on["schedule"] and all(entry["cron"].count(" ") == 4 for entry in on["schedule"])
    assert on["repository_dispatch"]["types"] == ["new-data", "drift-detected"]


def test_the_paths_filter_and_the_report_agree_on_what_the_pipeline_inputs_are():
    assert [p.removesuffix("/**") for p in PIPELINE_PATHS] == list(PIPELINE_INPUTS)


def test_ci_runs_on_every_push_and_pull_request_with_the_four_checks():
    spec = workflow(CI)
    assert spec["on"]["push"] is None and spec["on"]["pull_request"] is None  # no filters
    runs = {
        job_id: [s.run for s in steps(CI) if s.job == job_id and s.run] for job_id in spec["jobs"]
    }
    assert runs["lint"] == ["make lint"]
    assert runs["test"] == ["make test"]
    assert runs["data-contract"][0] == "make validate-data"
    assert runs["workflows"] == ["make check-workflows"]


def test_a_pull_request_compares_with_its_base_commit_not_with_main_or_head_1():
    report = step_named(TRAINING, "train", "Build the report")
    base = report.spec["env"]["BASE_SHA"]
    assert base.startswith("${{ github.event.pull_request.base.sha ||")
    assert "github.event.before" in base and "github.sha" in base
    assert '--summary "$GITHUB_STEP_SUMMARY"' in report.run
    assert report.spec["env"]["PIPELINE_OUTCOME"] == "${{ steps.repro.outcome }}"
    assert "!cancelled()" in report.spec["if"]  # a failed pipeline still gets its report


def test_the_dvc_cache_is_keyed_on_the_pipeline_inputs_and_restored_by_prefix():
    restore = step_named(TRAINING, "train", "Restore the DVC cache")
    assert restore.uses.startswith("actions/cache/restore@")
    key = restore.spec["with"]["key"]
    for name in ("data.dvc", "dvc.lock", "params.yaml", "src/**", "contracts/**"):
        assert name in key
    assert restore.spec["with"]["path"] == ".dvc/cache"  # objects and the run-cache (runs/)
    assert restore.spec["with"]["restore-keys"].strip() == "dvc-${{ runner.os }}-"
    save = step_named(TRAINING, "train", "Save the DVC cache")
    assert save.spec["with"]["key"] == "${{ steps.dvc-cache.outputs.cache-primary-key }}"
    uv = [s for s in steps() if s.spec.get("name") == "Cache uv and pip downloads"]
    assert uv and all("hashFiles('uv.lock'" in s.spec["with"]["key"] for s in uv)


def test_the_data_is_pulled_strictly_and_the_pipeline_runs_through_make():
    order = [s.run or s.uses for s in steps(TRAINING) if s.job == "train"]
    pull, repro = order.index("python -m tabpipe.ci.workflow pull"), order.index("make run")
    report = order.index(
        'python -m tabpipe.ci.report --out build/report --summary "$GITHUB_STEP_SUMMARY"'
    )
    assert pull < repro < report


def test_the_comment_is_posted_by_a_job_that_runs_no_pipeline_code_with_cml_pinned():
    comment = next(job for file, job_id, job in jobs(TRAINING) if job_id == "comment")
    assert comment["needs"] == "train"
    assert "github.event_name == 'pull_request'" in comment["if"]
    scripts = [s.run for s in steps(TRAINING) if s.job == "comment" and s.run]
    assert scripts == ['python -m tabpipe.ci.comment build/report/report.md --pr "$PR_NUMBER"']
    setup = step_named(TRAINING, "comment", "Set up CML")
    assert setup.uses.startswith("iterative/setup-cml@")
    assert setup.spec["with"]["vega"] is False  # the vega/canvas install broke in 2026
    assert setup.spec["with"]["version"] == "v0.20.6"
    assert setup.spec["continue-on-error"] is True  # no CML: a warning, not a red job
    post = step_named(TRAINING, "comment", "Post or update")
    assert post.spec["env"]["REPO_TOKEN"] == "${{ github.token }}"
    assert workflow(TRAINING)["env"]["ITERATIVE_DO_NOT_TRACK"] == "1"


def test_cml_updates_one_watermarked_comment_and_uploads_no_image_unless_asked():
    command = cml_command("report.md", 12, publish=False)
    assert command[1:3] == ["comment", "update"]
    assert f"--watermark-title={WATERMARK}" in command and "--target=pr/12" in command
    assert "--no-publish" in command
    assert "--publish" in cml_command("report.md", 12, publish=True)


def test_dvc_lock_is_recorded_on_main_only_by_a_job_that_cannot_retrigger_training():
    record = next(job for file, job_id, job in jobs(TRAINING) if job_id == "record")
    assert record["needs"] == "train"
    assert record["if"] == "github.ref == 'refs/heads/main' && github.event_name != 'pull_request'"
    commit = step_named(TRAINING, "record", "Commit them")
    assert commit.run == "python -m tabpipe.ci.workflow record build/results"
    assert commit.spec["env"]["GITHUB_TOKEN"] == "${{ github.token }}"  # its pushes start no run
    assert SKIP_CI == "[skip ci]"
    for path in ("dvc.lock", "metrics/test.json", "plots/roc.csv", "reports/parity.json"):
        assert not any(path == p or path.startswith(p.removesuffix("**")) for p in PIPELINE_PATHS)


def test_the_dvc_remote_is_pushed_only_from_main():
    push = step_named(TRAINING, "train", "Push data, outputs and run-cache")
    assert push.spec["if"] == (
        "steps.repro.outcome == 'success' && github.ref == 'refs/heads/main' "
        "&& github.event_name != 'pull_request'"
    )


def test_training_runs_only_when_the_data_could_be_had():
    pull = step_named(TRAINING, "train", "Pull the data")
    assert pull.spec["id"] == "pull"
    repro = step_named(TRAINING, "train", "Reproduce the pipeline")
    assert repro.spec["if"] == "steps.pull.outputs.data == 'available'"


def test_every_step_that_resolves_the_champion_gets_the_token_to_fetch_the_registry_tags():
    """`make run` runs `tabpipe champion`, which fetches the GTO tags from origin first.

    The checkout keeps no credentials, so on a private repository the fetch needs the
    workflow's token in the step's env; without it the gate compares with a stale champion.
    """
    resolving = [
        s
        for s in steps()
        if any(
            line.strip() in ("make run", "python -m tabpipe.release.champion")
            for line in s.run.splitlines()
        )
    ]
    assert {s.file for s in resolving} >= {TRAINING, "deploy.yml"}
    for step in resolving:
        assert step.spec.get("env", {}).get("GITHUB_TOKEN") == "${{ github.token }}", step.where
