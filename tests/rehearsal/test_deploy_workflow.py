"""The model gate in a pull request, and the deploy workflow after a merge, under act.

With a champion in prod (v1.0.0: the baseline commit, registered with GTO tags on the
'GitHub' origin):

1. a pull request whose params make the model worse fails the training check at the gate,
   and its report names the metric, threshold and value that failed;
2. one that makes it no worse passes the gate against the champion, and commits the
   results its check produced (the check's fix); a maintainer merges it (merge commit B),
   then a docs-only commit C lands before B's deploy started. GitHub cancels a pending run
   when a newer one joins its group, so B's deploy never runs: C's deploy waits for CI (a
   stand-in GitHub API on loopback says it succeeded), rebuilds the model from the data
   alone, finds it is the one C's dvc.lock records (B's model), gates and infra-validates
   it, registers v1.1.0 at C, assigns prod and publishes a release: nothing was lost;
3. one command rolls prod back to v1.0.0;
4. deploy dispatched from a branch runs nothing and releases nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from tabpipe.release import registry
from tabpipe.release.deploy import CI_WORKFLOW, RELEASE_ASSETS
from tests.rehearsal.harness import (
    REMOTE_URL,
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    commit_results,
    edit_readme,
    git,
    more_trees,
    pull_request_payload,
    repository_payload,
)

pytestmark = pytest.mark.rehearsal

DEPLOY = "deploy.yml"
PR = 11


def champion_in_prod(origin: Origin) -> str:
    """Register the baseline commit as v1.0.0 and assign prod, on the origin."""
    baseline = origin.sha("main")
    registry.register(origin.work, baseline, "v1.0.0")
    registry.assign_prod(origin.work, "v1.0.0")
    registry.push_tags(origin.work, ["model@v1.0.0", "model#prod#1"])
    return baseline


def checkout_commit(origin: Origin, sha: str, dest: Path) -> Path:
    """actions/checkout of the pushed commit, as main, although main has moved on since."""
    git(dest.parent, "init", "--quiet", str(dest))
    git(dest, "remote", "add", "origin", str(origin.bare))
    git(dest, "remote", "add", "github", REMOTE_URL)
    git(dest, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", sha)
    git(dest, "checkout", "--quiet", "-B", "main", "FETCH_HEAD")
    return dest


def test_a_worse_model_fails_the_gate_in_its_pull_request_and_the_report_says_why(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    champion_in_prod(origin)
    base = origin.sha("main")
    head = origin.commit("fewer-trees", "Fewer trees", change_a_hyperparameter)
    origin.merge_ref(PR, "fewer-trees")
    checkout = origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "checkout")

    run = rehearsal.run(
        checkout, "pull_request", pull_request_payload(PR, "fewer-trees", head, base)
    )

    assert run.returncode != 0, "the pull request's check must go red"
    assert not run.job_succeeded("Retrain what changed and build the report")
    assert "[gate] FAILED: the model is not blessed" in run.log
    assert "model@v1.0.0 is in prod" in run.log  # the champion came from the origin's tags
    assert run.job_succeeded("Post or update the report comment")
    (call,) = run.cml_calls()
    report = call["report"]
    assert "#### Model gate: ❌ not blessed" in report
    assert "The model gate refused this model" in report  # not "metrics may be stale"
    assert "the metrics and plots below are this run's" in report
    assert "Champion: `v1.0.0`" in report
    failed = [line for line in report.splitlines() if "❌ fail" in line and line.startswith("| `")]
    assert failed, report
    metric, where, threshold, value = (cell.strip() for cell in failed[0].strip("|").split("|")[:4])
    assert metric.strip("`") and where and threshold.startswith("`") and re.search(r"\d", value)


def test_a_blessed_pull_request_is_merged_with_its_results_and_the_newest_deploy_releases_it(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    champion = champion_in_prod(origin)
    head = origin.commit("more-trees", "More trees", more_trees)
    origin.merge_ref(PR, "more-trees")
    checkout = origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "checkout")

    pull_request = rehearsal.run(
        checkout, "pull_request", pull_request_payload(PR, "more-trees", head, champion)
    )

    assert "[gate] BLESSED" in pull_request.log and "model@v1.0.0 is in prod" in pull_request.log
    assert "::error title=dvc.lock is not up to date::" in pull_request.log  # the only failure
    assert pull_request.job_succeeded("Post or update the report comment")
    (call,) = pull_request.cml_calls()
    report = call["report"]
    assert "#### Model gate: ✅ blessed" in report
    assert f"Champion: `v1.0.0` (commit `{champion[:7]}`)" in report
    rows = [line for line in report.splitlines() if line.startswith("| `")]
    checks = [line for line in rows if "✅ pass" in line or "❌ fail" in line]
    assert checks and not [line for line in checks if "❌ fail" in line], report
    compared = [line for line in checks if re.search(r"\(\d+\.\d{4} vs \d+\.\d{4}\)", line)]
    assert compared, "the change thresholds compare the candidate with the champion"

    # The branch commits what its check produced; a maintainer merges it; a docs commit
    # follows before the merge's deploy starts (that pending deploy is replaced).
    results = pull_request.artifact("pipeline-results")
    commit_results(origin, "more-trees", results, "Record dvc.lock and results")
    git(origin.work, "checkout", "--quiet", "main")
    git(origin.work, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #11", "more-trees")
    git(origin.work, "push", "--quiet", "origin", "main")
    merged = origin.sha("main")
    newest = origin.commit("main", "Docs only", edit_readme)
    lock = yaml.safe_load(git(origin.bare, "show", f"{merged}:dvc.lock"))
    onnx = next(o for o in lock["stages"]["export"]["outs"] if o["path"] == "models/model.onnx")
    assert onnx["md5"] != locked_onnx(origin, champion), "the merge changed the model"

    fake = rehearsal.github
    fake.succeeded(newest, CI_WORKFLOW)
    push = {
        "ref": "refs/heads/main",
        "before": merged,
        "after": newest,
        "repository": repository_payload(),
    }
    run = rehearsal.run(
        checkout_commit(origin, newest, tmp_path / "deploy"), "push", push, workflow=DEPLOY
    )

    assert run.returncode == 0, run.log[-8000:]
    for job in (
        "Wait for CI of this commit",
        "Rebuild, gate, bundle and infra-validate the model",
        "Register the version, assign prod, publish the release",
    ):
        assert run.job_succeeded(job), job
    assert "[gate] BLESSED" in run.log and "[infra] PASSED" in run.log
    assert "data only: no outputs and no run-cache were pulled" in run.log
    assert "Restore the DVC cache" not in run.log

    tags = git(origin.bare, "tag", "--list").split()
    assert {"model@v1.1.0", "model#prod#2"} <= set(tags)
    assert git(origin.bare, "rev-list", "-n", "1", "model@v1.1.0") == newest
    (release,) = fake.published()
    assert release["tag_name"] == "model@v1.1.0" and release["target_commitish"] == newest
    assets = fake.assets[release["id"]]
    assert set(assets) == set(RELEASE_ASSETS)
    assert (
        hashlib.md5(assets["model.onnx"]).hexdigest() == onnx["md5"] == locked_onnx(origin, newest)
    )
    card = assets["model_card.md"].decode()
    assert card.startswith("# Model card: model v1.1.0") and "replaces `v1.0.0` in prod" in card
    info = json.loads(assets["model.json"])
    assert (info["version"], info["commit"], info["gate"]["blessed"]) == ("v1.1.0", newest, True)
    assert json.loads(assets["infra_validation.json"])["ok"] is True

    clone = tmp_path / "operator"
    git(tmp_path, "clone", "--quiet", str(origin.bare), str(clone))
    assert registry.prod(clone).version == "v1.1.0"
    assert registry.main(["--repo", str(clone), "rollback", "--push"]) == 0
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "--quiet", str(origin.bare), str(fresh))
    assert registry.prod(fresh).version == "v1.0.0"


def locked_onnx(origin: Origin, commit: str) -> str:
    lock = yaml.safe_load(git(origin.bare, "show", f"{commit}:dvc.lock"))
    return next(o for o in lock["stages"]["export"]["outs"] if o["path"] == "models/model.onnx")[
        "md5"
    ]


def test_a_deploy_dispatched_from_a_branch_runs_nothing_and_releases_nothing(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    champion_in_prod(origin)
    origin.commit("unreviewed", "An unreviewed change", more_trees)
    tags = git(origin.bare, "tag", "--list").split()
    checkout = origin.checkout("refs/heads/unreviewed", tmp_path / "branch", branch="unreviewed")
    rehearsal.github.succeeded(origin.sha("unreviewed"), CI_WORKFLOW, branch="unreviewed")

    run = rehearsal.run(
        checkout,
        "workflow_dispatch",
        {"inputs": {}, "ref": "refs/heads/unreviewed", "repository": repository_payload()},
        workflow=DEPLOY,
    )

    assert run.returncode == 0, run.log[-3000:]
    for job in (
        "Wait for CI of this commit",
        "Rebuild, gate, bundle and infra-validate the model",
        "Register the version, assign prod, publish the release",
    ):
        assert not run.job_succeeded(job), job
    assert "make setup" not in run.log and "[deploy]" not in run.log
    assert git(origin.bare, "tag", "--list").split() == tags
    assert rehearsal.github.releases == {} and rehearsal.github.requests == []
