"""tabpipe.release.deploy: wait for CI, check the rebuild, release only from main, atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tabpipe.ci.github import GitHub
from tabpipe.release import deploy, registry
from tabpipe.release.deploy import CI_WORKFLOW, DeployError, RunState
from tests.support.fake_github import FakeGitHub, serving
from tests.support.gitrepos import Project, git, make_project

OLD_MODEL, NEW_MODEL = b"onnx bytes of the old model", b"onnx bytes of the new model"
METRICS = {"roc_auc": 0.86, "accuracy": 0.81}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- wait -----------------------------------------------------------------------------------


def states(ci=("completed", "success")):
    return {"CI": RunState("CI", *ci)}


@pytest.mark.parametrize(
    ("ci", "waited", "outcome"),
    [
        (("completed", "success"), 0, "proceed"),
        (("completed", "failure"), 0, "fail"),
        (("completed", "cancelled"), 0, "fail"),
        (("in_progress", None), 999, "wait"),
        ((None, None), 10, "wait"),
        ((None, None), 61, "fail"),
    ],
)
def test_the_deploy_goes_on_only_after_ci_succeeded(ci, waited, outcome):
    assert deploy.verdict(states(ci), waited)[0] == outcome


def run(run_id, status, conclusion, attempt=1, **extra):
    return {
        "id": run_id,
        "path": CI_WORKFLOW,
        "event": "push",
        "head_branch": "main",
        "status": status,
        "conclusion": conclusion,
        "run_attempt": attempt,
        **extra,
    }


def test_waiting_polls_until_ci_finishes():
    fake = FakeGitHub()
    running = [run(3, "in_progress", None)]
    fake.runs["abc"] = running
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        running[0].update(status="completed", conclusion="success")

    with serving(fake):
        github = GitHub(fake.base, fake.repository, "token")
        outcome, why = deploy.wait_for_checks(github, "abc", 600, 20, sleep, lambda: clock[0])
    assert (outcome, clock[0]) == ("proceed", 20.0)
    assert "succeeded" in why
    assert all(auth == "Bearer token" for _, _, auth in fake.requests)


def test_an_older_run_re_run_later_does_not_outrank_a_newer_run():
    # run 7 (older) was re-run and succeeded on attempt 3; run 9 started after it and failed
    runs = [run(7, "completed", "success", attempt=3), run(9, "completed", "failure")]
    assert deploy.latest_runs(runs)["CI"].conclusion == "failure"
    assert deploy.latest_runs(list(reversed(runs)))["CI"].conclusion == "failure"


def test_only_runs_for_main_count_not_a_pull_requests_or_another_branchs():
    runs = [
        run(5, "completed", "success"),
        run(8, "completed", "failure", event="pull_request", head_branch="topic"),
        run(9, "completed", "failure", head_branch="topic"),
    ]
    assert deploy.latest_runs(runs)["CI"].conclusion == "success"


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


def test_the_merge_commit_that_records_the_rebuilt_model_is_released_itself(project):
    merged = commit_files(
        project,
        {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)},
        "A pull request that committed its results",
    )
    work = trained_workspace(project, merged, NEW_MODEL)
    decided = deploy.plan(work, deploy.fetch_main(work))
    assert decided.release and (decided.commit, decided.version) == (merged, "v1.0.0")
    assert decided.previous == ""


def test_a_rebuild_that_is_not_the_model_the_commit_records_is_never_released(project):
    merged = commit_files(
        project,
        {"dvc.lock": lock_for(OLD_MODEL), "metrics/test.json": json.dumps(METRICS)},
        "Merged with a stale dvc.lock",
    )
    work = trained_workspace(project, merged, NEW_MODEL)
    with pytest.raises(DeployError, match=r"is not the model commit .* dvc.lock records"):
        deploy.plan(work, deploy.fetch_main(work))
    same_model = trained_workspace(project, merged, OLD_MODEL, name="other-metrics")
    (same_model / "metrics" / "test.json").write_text(json.dumps({"roc_auc": 0.5}))
    with pytest.raises(DeployError, match=r"metrics/test\.json differs"):
        deploy.plan(same_model, deploy.fetch_main(same_model))


def test_a_commit_that_is_not_on_main_is_never_released(project):
    commit_files(project, {"dvc.lock": lock_for(OLD_MODEL)}, "main")
    git(project.path, "checkout", "--quiet", "-b", "topic")
    (project.path / "dvc.lock").write_text(lock_for(NEW_MODEL))
    (project.path / "metrics").mkdir(exist_ok=True)
    (project.path / "metrics" / "test.json").write_text(json.dumps(METRICS))
    git(project.path, "add", "--all")
    git(project.path, "commit", "--quiet", "-m", "unreviewed")
    git(project.path, "push", "--quiet", "origin", "topic")
    branch_commit = git(project.path, "rev-parse", "HEAD")
    work = trained_workspace(project, branch_commit, NEW_MODEL)
    with pytest.raises(DeployError, match="is not on refs/remotes/origin/main"):
        deploy.plan(work, deploy.fetch_main(work))
    for name in ("HEAD", "main", "topic", branch_commit[:12]):
        with pytest.raises(DeployError, match="is not a full commit SHA"):
            deploy.require_full_sha(name)


def test_a_deploy_run_for_another_ref_does_nothing(tmp_path, capsys):
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/topic", "GITHUB_SHA": "a" * 40}
    assert deploy.main(["wait"], env) == 1
    assert "deploys run only for refs/heads/main" in capsys.readouterr().out


def test_the_precheck_skips_the_rebuild_when_prod_serves_the_recorded_model(project):
    merged = commit_files(
        project, {"dvc.lock": lock_for(NEW_MODEL), "metrics/test.json": json.dumps(METRICS)}, "m"
    )
    assert deploy.precheck(project.path).release  # nothing in prod yet: rebuild
    registry.register(project.path, merged)
    registry.assign_prod(project.path, "v1.0.0")
    commit_files(project, {"README": "docs only\n"}, "Docs")
    decided = deploy.precheck(project.path)
    assert not decided.release and "already serves the model" in decided.reason


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

    later = commit_files(
        project, {"README": "docs only, same model\n"}, "Docs"
    )  # a newer commit recording the same model
    again = trained_workspace(project, later, NEW_MODEL, name="next-deploy-job")
    decided = deploy.plan(again, deploy.fetch_main(again))
    assert not decided.release and "prod (v1.0.0) already serves this very model" in decided.reason


# --- release ------------------------------------------------------------------------------------


def bundle_for(tmp_path: Path, version: str, commit: str, *, infra_ok: bool = True) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir(parents=True)
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


def test_the_release_job_fetches_the_commit_its_checkout_lacks_and_checks_it_is_on_main(
    project, tmp_path
):
    merged = commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "Merge")
    later = commit_files(project, {"README": "docs\n"}, "A later merge")
    job = tmp_path / "release-job"
    git(tmp_path, "init", "--quiet", str(job))
    git(job, "remote", "add", "origin", str(project.origin))
    git(job, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", later)
    git(job, "checkout", "--quiet", "--detach", "FETCH_HEAD")
    bundle = bundle_for(tmp_path, "v1.0.0", merged)
    with serving(FakeGitHub()) as fake:
        deploy.publish(job, bundle, "v1.0.0", merged, GitHub(fake.base, fake.repository, "t"))
    assert git(project.origin, "rev-list", "-n", "1", "model@v1.0.0") == merged


def test_the_release_step_refuses_a_branch_name_or_a_commit_off_main(project, tmp_path):
    commit_files(project, {"dvc.lock": lock_for(NEW_MODEL)}, "main")
    git(project.path, "checkout", "--quiet", "-b", "topic")
    (project.path / "x").write_text("1")
    git(project.path, "add", "x")
    git(project.path, "commit", "--quiet", "-m", "unreviewed")
    git(project.path, "push", "--quiet", "origin", "topic")
    off_main = git(project.path, "rev-parse", "HEAD")
    github = GitHub("http://127.0.0.1:9", "o/r", "t")  # never reached
    for commit, match in [("main", "not a full commit SHA"), (off_main, "is not on")]:
        bundle = bundle_for(tmp_path / commit[:8], "v1.0.0", commit)
        with pytest.raises(DeployError, match=match):
            deploy.publish(project.path, bundle, "v1.0.0", commit, github)
    assert project.origin_tags() == []
