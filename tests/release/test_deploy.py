"""tabpipe.release.deploy: wait for CI and training, plan the release, release all or nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tabpipe.release import deploy, registry
from tabpipe.release.deploy import CI_WORKFLOW, TRAINING_WORKFLOW, DeployError, GitHub, RunState
from tests.support.fake_github import FakeGitHub, serving
from tests.support.gitrepos import Project, git, make_project

OLD_MODEL, NEW_MODEL = b"onnx bytes of the old model", b"onnx bytes of the new model"
METRICS = {"roc_auc": 0.86, "accuracy": 0.81}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- wait -----------------------------------------------------------------------------------


def states(ci=("completed", "success"), training=("completed", "success")):
    return {
        "CI": RunState("CI", *ci),
        "Continuous training": RunState("Continuous training", *training),
    }


@pytest.mark.parametrize(
    ("ci", "training", "waited", "outcome"),
    [
        (("completed", "success"), ("completed", "success"), 0, "proceed"),
        (("completed", "failure"), ("in_progress", None), 0, "fail"),
        (("completed", "success"), ("completed", "cancelled"), 0, "fail"),
        (("in_progress", None), ("in_progress", None), 0, "wait"),
        (("completed", "success"), ("in_progress", None), 999, "wait"),
        (("completed", "success"), (None, None), 10, "wait"),
        (("completed", "success"), (None, None), 61, "skip"),
        ((None, None), (None, None), 10, "wait"),
        ((None, None), (None, None), 61, "fail"),
    ],
)
def test_the_deploy_goes_on_only_after_ci_and_training_both_succeeded(
    ci, training, waited, outcome
):
    assert deploy.verdict(states(ci, training), waited)[0] == outcome


def test_waiting_polls_until_both_finish_and_reads_the_newest_attempt():
    fake = FakeGitHub()
    running = [
        {"id": 1, "path": CI_WORKFLOW, "status": "completed", "conclusion": "success"},
        {
            "id": 2,
            "path": TRAINING_WORKFLOW,
            "status": "completed",
            "conclusion": "failure",
            "run_attempt": 1,
        },
        {
            "id": 3,
            "path": TRAINING_WORKFLOW,
            "status": "in_progress",
            "conclusion": None,
            "run_attempt": 2,
        },
    ]
    fake.runs["abc"] = running
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        running[2].update(status="completed", conclusion="success")  # the re-run succeeds

    with serving(fake):
        github = GitHub(fake.base, fake.repository, "token")
        outcome, why = deploy.wait_for_checks(github, "abc", 600, 20, sleep, lambda: clock[0])
    assert (outcome, clock[0]) == ("proceed", 20.0)
    assert "succeeded" in why
    assert all(auth == "Bearer token" for _, _, auth in fake.requests)


def test_a_manual_run_deploys_from_the_newest_commit_ci_ran_on():
    fake = FakeGitHub()
    fake.succeeded("merge", CI_WORKFLOW, TRAINING_WORKFLOW)
    with serving(fake):
        github = GitHub(fake.base, fake.repository, "t")
        assert deploy.source_commit(github, ["results-commit", "merge", "older"]) == "merge"
        assert deploy.source_commit(github, ["x", "y"]) is None


# --- plan -----------------------------------------------------------------------------------


def lock_for(model: bytes) -> str:
    out = {"path": "models/model.onnx", "hash": "md5", "md5": md5(model), "size": len(model)}
    return yaml.safe_dump({"schema": "2.0", "stages": {"export": {"cmd": "x", "outs": [out]}}})


def commit_files(project: Project, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (project.path / name).parent.mkdir(parents=True, exist_ok=True)
        (project.path / name).write_text(text)
    git(project.path, "add", "--all")
    git(project.path, "commit", "--quiet", "-m", message)
    git(project.path, "push", "--quiet", "origin", "HEAD:main")
    return git(project.path, "rev-parse", "HEAD")


def trained_workspace(
    project: Project, at: str, model: bytes, *, blessed: bool = True, name: str = "deploy-job"
) -> Path:
    """A clone at ``at`` where `make run` produced ``model``, as in the deploy job."""
    work = project.path.parent / name
    git(project.path.parent, "clone", "--quiet", "--no-tags", f"file://{project.origin}", str(work))
    git(work, "checkout", "--quiet", "--detach", at)
    (work / "models").mkdir(exist_ok=True)
    (work / "models" / "model.onnx").write_bytes(model)
    (work / "metrics").mkdir(exist_ok=True)
    (work / "metrics" / "test.json").write_text(json.dumps(METRICS))
    verdict = {"blessed": blessed, "model_md5": md5(model), "reason": "all 3 checks passed"}
    (work / "reports").mkdir(exist_ok=True)
    (work / "reports" / "gate.json").write_text(json.dumps(verdict))
    return work


@pytest.fixture
def project(tmp_path) -> Project:
    found = make_project(tmp_path)
    (found.path / ".gitignore").write_text("models/\n")
    return found


def test_the_release_is_the_results_commit_that_records_this_model(project):
    merged = commit_files(
        project,
        {"params.yaml": "n: 400\n", "dvc.lock": lock_for(OLD_MODEL)},
        "Merge a params change",
    )
    recorded = commit_files(
        project,
        {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)},
        "Record pipeline results [skip ci]",
    )
    work = trained_workspace(project, merged, NEW_MODEL)

    decided = deploy.plan(work, deploy.fetch_main(work))

    assert decided.release and (decided.commit, decided.version) == (recorded, "v1.0.0")
    assert decided.previous == ""


def test_a_commit_that_already_records_its_model_is_released_itself(project):
    merged = commit_files(
        project,
        {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)},
        "A pull request that committed its results",
    )
    work = trained_workspace(project, merged, NEW_MODEL)
    assert deploy.plan(work, deploy.fetch_main(work)).commit == merged


def test_nothing_is_planned_for_an_unblessed_model_or_a_verdict_about_another(project):
    merged = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "m")
    work = trained_workspace(project, merged, NEW_MODEL, blessed=False)
    with pytest.raises(DeployError, match="not blessed by the gate"):
        deploy.plan(work, deploy.fetch_main(work))
    verdict = json.loads((work / "reports" / "gate.json").read_text())
    (work / "reports" / "gate.json").write_text(
        json.dumps({**verdict, "blessed": True, "model_md5": "x"})
    )
    with pytest.raises(DeployError, match="judged another model"):
        deploy.plan(work, deploy.fetch_main(work))


def test_unrecorded_results_or_main_moving_on_first_stop_the_release(project):
    merged = commit_files(project, {"dvc.lock": lock_for(OLD_MODEL)}, "Merge")
    commit_files(project, {"src.py": "print('new code')\n"}, "Another merge, new code")
    commit_files(
        project,
        {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)},
        "Results of the other merge",
    )
    work = trained_workspace(project, merged, NEW_MODEL)
    with pytest.raises(
        DeployError, match="no commit on refs/remotes/origin/main records this model"
    ):
        deploy.plan(work, deploy.fetch_main(work))


def test_a_commit_or_a_model_already_released_is_not_released_again(project):
    merged = commit_files(
        project, {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)}, "m"
    )
    registry.register(project.path, merged)
    registry.assign_prod(project.path, "v1.0.0")
    registry.push_tags(project.path, project.tags())
    work = trained_workspace(project, merged, NEW_MODEL)
    decided = deploy.plan(work, deploy.fetch_main(work))
    assert not decided.release and "already model@v1.0.0" in decided.reason

    later = commit_files(project, {"README": "docs only, same model\n"}, "Docs")
    again = trained_workspace(project, later, NEW_MODEL, name="next-deploy-job")
    decided = deploy.plan(again, deploy.fetch_main(again))
    assert not decided.release and "prod (v1.0.0) already serves this very model" in decided.reason


# --- release ------------------------------------------------------------------------------------


def bundle_for(tmp_path: Path, version: str, commit: str, *, infra_ok: bool = True) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "model.onnx").write_bytes(NEW_MODEL)
    info = {
        "version": version,
        "commit": commit,
        "onnx_md5": md5(NEW_MODEL),
        "data_md5": "d" * 32,
        "gate": {"blessed": True, "reason": "all 3 checks passed"},
        "previous": None,
    }
    (bundle / "model.json").write_text(json.dumps(info))
    (bundle / "model_card.md").write_text(f"# Model card: model {version}\n")
    infra = {"ok": infra_ok, "latency": {"p50_ms": 1.0, "p99_ms": 4.0, "budget_ms": 100}}
    (bundle / "infra_validation.json").write_text(json.dumps(infra))
    return bundle


def test_a_release_pushes_both_tags_and_publishes_every_asset(project, tmp_path):
    commit = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "m")
    bundle = bundle_for(tmp_path, "v1.0.0", commit)
    with serving(FakeGitHub()) as fake:
        done = deploy.publish(
            project.path, bundle, "v1.0.0", commit, GitHub(fake.base, fake.repository, "t")
        )
    assert done["tags"] == ["model@v1.0.0", "model#prod#1"]
    assert project.origin_tags() == ["model#prod#1", "model@v1.0.0"]
    (release,) = fake.published()
    assert (release["tag_name"], release["target_commitish"]) == ("model@v1.0.0", commit)
    assert "Model card: model v1.0.0" in release["body"] and "rollback" in release["body"]
    assert fake.assets[release["id"]]["model.onnx"] == NEW_MODEL
    assert set(fake.assets[release["id"]]) == set(deploy.RELEASE_ASSETS)
    tagger = git(project.path, "for-each-ref", "--format=%(taggername)", "refs/tags/model@v1.0.0")
    assert tagger == "github-actions[bot]"


def test_a_failed_upload_leaves_no_tag_and_no_release(project, tmp_path):
    commit = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "m")
    bundle = bundle_for(tmp_path, "v1.0.0", commit)
    fake = FakeGitHub(fail={("POST", "/uploads/")})
    with serving(fake), pytest.raises(DeployError, match="nothing was released"):
        deploy.publish(
            project.path, bundle, "v1.0.0", commit, GitHub(fake.base, fake.repository, "t")
        )
    assert fake.releases == {}  # the draft was deleted
    assert project.tags() == [] and project.origin_tags() == []


def test_a_version_someone_pushed_meanwhile_is_refused_and_the_draft_removed(project, tmp_path):
    first = commit_files(project, {"dvc.lock": lock_for(OLD_MODEL)}, "first")
    git(project.path, "tag", "-a", "model@v1.0.0", "-m", "elsewhere", first)
    git(project.path, "push", "--quiet", "origin", "refs/tags/model@v1.0.0")
    git(project.path, "tag", "--delete", "model@v1.0.0")
    commit = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "m")
    bundle = bundle_for(tmp_path, "v1.0.0", commit)
    with serving(FakeGitHub()) as fake, pytest.raises(DeployError, match="nothing was released"):
        deploy.publish(
            project.path, bundle, "v1.0.0", commit, GitHub(fake.base, fake.repository, "t")
        )
    assert fake.releases == {}
    assert project.origin_tags() == ["model@v1.0.0"]
    assert git(project.origin, "rev-list", "-n", "1", "model@v1.0.0") == first


def test_an_unvalidated_or_mismatched_bundle_is_never_released(project, tmp_path):
    commit = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "m")
    failing = bundle_for(tmp_path, "v1.0.0", commit, infra_ok=False)
    with pytest.raises(DeployError, match="infra validation did not pass"):
        deploy.check_bundle(failing, "v1.0.0", commit)
    with pytest.raises(DeployError, match=r"not v2\.0\.0"):
        deploy.check_bundle(failing, "v2.0.0", commit)
    (failing / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(DeployError, match=r"describes another model\.onnx"):
        deploy.check_bundle(failing, "v1.0.0", commit)
    assert project.tags() == []


def test_the_command_reports_outputs_for_the_next_jobs(project, tmp_path, monkeypatch, capsys):
    merged = commit_files(
        project, {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)}, "m"
    )
    work = trained_workspace(project, merged, NEW_MODEL)
    outputs = tmp_path / "github_output"
    monkeypatch.chdir(work)
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert deploy.main(["plan"]) == 0
    assert outputs.read_text().splitlines() == [
        "release=true",
        "version=v1.0.0",
        f"commit={merged}",
        "previous=",
    ]


def test_the_release_job_fetches_the_results_commit_its_checkout_lacks(project, tmp_path):
    merged = commit_files(project, {"dvc.lock": lock_for(OLD_MODEL)}, "Merge")
    recorded = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "Record results [skip ci]")
    job = tmp_path / "release-job"
    git(tmp_path, "init", "--quiet", str(job))
    git(job, "remote", "add", "origin", str(project.origin))
    git(job, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", merged)
    git(job, "checkout", "--quiet", "--detach", "FETCH_HEAD")
    bundle = bundle_for(tmp_path, "v1.0.0", recorded)
    with serving(FakeGitHub()) as fake:
        deploy.publish(job, bundle, "v1.0.0", recorded, GitHub(fake.base, fake.repository, "t"))
    assert git(project.origin, "rev-list", "-n", "1", "model@v1.0.0") == recorded
