"""The continuous-training workflow: its triggers, caches, baseline, comment and record.

Each test names a behaviour the README promises; the rehearsals in tests/rehearsal run the
same file under act to show the behaviour, these pin the wiring that makes it so.
"""

from __future__ import annotations

from tabpipe.ci.comment import CML_PACKAGE, CML_VERSION, WATERMARK, cml_command
from tabpipe.ci.report import PIPELINE_INPUTS
from tests.workflows.spec import CI, TRAINING, jobs, step_named, steps, workflow

PIPELINE_PATHS = ["data.dvc", "dvc.yaml", "params.yaml", "src/**", "contracts/**"]


def test_training_runs_when_pipeline_inputs_change_on_demand_on_a_schedule_and_on_dispatch():
    on = workflow(TRAINING)["on"]
    # No paths filter on pull requests: the check is required, and GitHub would wait forever
    # for a required check that a filter skipped.
    assert on["pull_request"] is None
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


def test_a_pull_request_compares_with_its_merge_commits_first_parent_not_main_or_head_1():
    report = step_named(TRAINING, "train", "Build the report")
    env = report.spec["env"]
    # The report reads the merge commit's first parent itself; base.sha is the fallback.
    assert env["BASE_SHA"].startswith("${{ github.event_name != 'pull_request' && (")
    assert "github.event.before" in env["BASE_SHA"] and "github.sha" in env["BASE_SHA"]
    assert env["PR_BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert '--summary "$GITHUB_STEP_SUMMARY"' in report.run
    assert env["PIPELINE_OUTCOME"] == "${{ steps.repro.outcome }}"
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
    assert scripts == [
        "python -m tabpipe.ci.comment install-cml",
        'python -m tabpipe.ci.comment post build/report/report.md --pr "$PR_NUMBER"',
    ]
    assert not [s for s in steps() if "setup-cml" in s.uses], "no node16 action"
    install = step_named(TRAINING, "comment", "Install CML")
    assert install.spec["continue-on-error"] is True  # no CML: the REST API posts instead
    assert install.spec["env"]["CML_INTEGRITY"] == "${{ vars.CML_INTEGRITY }}"
    assert (CML_PACKAGE, CML_VERSION) == ("@dvcorg/cml", "0.20.6")
    post = step_named(TRAINING, "comment", "Post or update")
    assert post.spec["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert post.spec["env"]["PR_HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    assert workflow(TRAINING)["env"]["ITERATIVE_DO_NOT_TRACK"] == "1"


def test_cml_writes_one_watermarked_comment_and_uploads_no_image_unless_asked():
    command = cml_command("report.md", 12, publish=False, update=True)
    assert command[1:3] == ["comment", "update"]
    assert f"--watermark-title={WATERMARK}" in command and "--target=pr/12" in command
    assert "--no-publish" in command
    assert cml_command("report.md", 12, publish=True, update=False)[1:3] == ["comment", "create"]
    assert "--publish" in cml_command("report.md", 12, publish=True, update=False)


def test_no_job_pushes_to_main_and_new_results_go_to_a_pull_request():
    spec = workflow(TRAINING)
    assert "record" not in spec["jobs"]
    for step in steps():
        assert "git push" not in step.run, step.where
    propose = spec["jobs"]["propose"]
    assert propose["needs"] == "train"
    for condition in (
        "github.event_name != 'pull_request'",
        "github.ref == 'refs/heads/main'",
        "needs.train.outputs.trained == 'true'",  # never when training was skipped
        "needs.train.outputs.changed == 'true'",
    ):
        assert condition in propose["if"], condition
    run = step_named(TRAINING, "propose", "open a pull request")
    assert run.run == "python -m tabpipe.ci.workflow propose build/results"
    assert run.spec["env"]["GITHUB_TOKEN"] == "${{ secrets.RETRAIN_PR_TOKEN || github.token }}"
    assert "github-token" in run.spec["env"]["PR_TOKEN_KIND"]
    outputs = spec["jobs"]["train"]["outputs"]
    assert outputs["trained"] == "${{ steps.repro.outcome == 'success' }}"
    assert outputs["changed"] == "${{ steps.lock.outputs.changed }}"


def test_a_pull_request_must_commit_the_lock_the_pipeline_produces():
    order = [s.spec.get("name") or s.run or s.uses for s in steps(TRAINING) if s.job == "train"]
    check = step_named(TRAINING, "train", "Does the commit record")
    assert check.run == "python -m tabpipe.ci.workflow check-lock"
    assert check.spec["if"] == "steps.repro.outcome == 'success'"
    # the report, its upload, the results to commit and the cache come before the verdict
    assert order.index(check.spec["name"]) == len(order) - 1
    upload = step_named(TRAINING, "train", "Upload the results")
    assert upload.spec["if"] == "steps.repro.outcome == 'success'"  # pull requests too


def test_forks_never_reach_the_bigger_runner():
    runs_on = workflow(TRAINING)["jobs"]["train"]["runs-on"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in runs_on
    assert "vars.TRAINING_RUNNER" in runs_on and runs_on.endswith("|| 'ubuntu-latest' }}")


def test_the_dvc_remote_is_pushed_only_from_main_in_the_dvc_write_environment():
    publish = workflow(TRAINING)["jobs"]["publish"]
    assert publish["environment"] == "dvc-write"
    assert publish["if"] == (
        "github.event_name != 'pull_request' && github.ref == 'refs/heads/main' "
        "&& needs.train.outputs.trained == 'true'"
    )
    restore = step_named(TRAINING, "publish", "Restore the DVC cache")
    assert restore.spec["with"]["key"] == "${{ needs.train.outputs.cache-key }}"  # exact key
    assert "restore-keys" not in restore.spec["with"]
    push = step_named(TRAINING, "publish", "Push data")
    assert push.run == "python -m tabpipe.ci.workflow push --results build/results"
    assert not [s for s in steps(TRAINING) if s.job == "train" and "workflow push" in s.run]


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
    assert any(
        s.file == "deploy.yml" and "dvc repro --force --no-run-cache" in s.run for s in resolving
    )
    for step in resolving:
        assert step.spec.get("env", {}).get("GITHUB_TOKEN") == "${{ github.token }}", step.where


def test_deploy_runs_only_for_main_and_releases_only_in_the_production_environment():
    spec = workflow("deploy.yml")
    for job_id, job in spec["jobs"].items():
        assert job["if"].startswith("github.ref == 'refs/heads/main'"), job_id
    assert spec["jobs"]["release"]["environment"] == "production"
    assert spec["concurrency"]["cancel-in-progress"] is False


def test_deploy_rebuilds_from_the_data_alone_without_any_cache_a_pull_request_could_write():
    deploy = [s for s in steps("deploy.yml") if s.job == "candidate"]
    assert not [s for s in deploy if s.uses.startswith("actions/cache/restore@")]
    caches = [s for s in deploy if s.uses.startswith("actions/cache@")]
    assert [c.spec["with"]["path"].split() for c in caches] == [["~/.cache/uv", "~/.cache/pip"]]
    pull = step_named("deploy.yml", "candidate", "Pull the tracked data only")
    assert pull.run == "python -m tabpipe.ci.workflow pull --data-only"
    rebuild = step_named("deploy.yml", "candidate", "Rebuild every stage")
    assert rebuild.run.split("\n")[1] == "dvc repro --force --no-run-cache"
    assert "make run" not in "\n".join(s.run for s in deploy)
    plan = step_named("deploy.yml", "candidate", "Plan the release")
    assert plan.run == "python -m tabpipe.release.deploy plan"
