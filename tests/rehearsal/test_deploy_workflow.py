"""The model gate in a pull request, and the deploy workflow after a merge, under act.

With a champion in prod (v1.0.0: the baseline commit, registered with GTO tags on the
'GitHub' origin):

1. a pull request whose params make the model worse fails the training check at the gate,
   and its report names the metric, threshold and value that failed; one that makes it no
   worse passes the gate against the champion;
2. a push to main that makes it no worse trains (continuous training records the results),
   then the deploy workflow waits for CI and training (a stand-in GitHub API on loopback
   says both succeeded), gates and infra-validates the model, registers v1.1.0 at the
   results commit, assigns prod and publishes a release with the model and its card;
3. one command rolls prod back to v1.0.0.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from tabpipe.release import registry
from tabpipe.release.deploy import CI_WORKFLOW, RELEASE_ASSETS, TRAINING_WORKFLOW
from tests.rehearsal.harness import (
    REMOTE_URL,
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    git,
    pull_request_payload,
    repository_payload,
)
from tests.support.fake_github import FakeGitHub, serving

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


def more_trees(work: Path) -> None:
    """A change that makes the model no worse: twice the trees (or a weaker penalty)."""
    path = work / "params.yaml"
    text = path.read_text()
    family = yaml.safe_load(text)["train"]["family"]
    key = "C" if family == "linear" else "n_estimators"
    block = re.search(rf"^(  {family}:.*\n)((?:    .*\n|\s*\n)*)", text, re.M)
    assert block is not None, f"no train.{family} block"
    line = re.search(rf"^(    {key}:\s*)([^\s#]+)", block.group(2), re.M)
    assert line is not None
    old = yaml.safe_load(line.group(2))
    start = block.start(2) + line.start(2)
    path.write_text(text[:start] + str(old * 2) + text[start + len(line.group(2)) :])


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


def test_a_model_no_worse_than_the_champion_passes_the_gate_in_its_pull_request(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    champion = champion_in_prod(origin)
    head = origin.commit("more-trees", "More trees", more_trees)
    origin.merge_ref(PR, "more-trees")
    checkout = origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "checkout")

    run = rehearsal.run(
        checkout, "pull_request", pull_request_payload(PR, "more-trees", head, champion)
    )

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded("Retrain what changed and build the report"), run.log[-5000:]
    assert "[gate] BLESSED" in run.log
    assert "model@v1.0.0 is in prod" in run.log
    assert run.job_succeeded("Post or update the report comment")
    (call,) = run.cml_calls()
    report = call["report"]
    assert report == (run.artifact("training-report") / "report.md").read_text()
    assert "#### Model gate: ✅ blessed" in report
    assert f"Champion: `v1.0.0` (commit `{champion[:7]}`)" in report
    rows = [line for line in report.splitlines() if line.startswith("| `")]
    checks = [line for line in rows if "✅ pass" in line or "❌ fail" in line]
    assert checks and not [line for line in checks if "❌ fail" in line], report
    compared = [line for line in checks if re.search(r"\(\d+\.\d{4} vs \d+\.\d{4}\)", line)]
    assert compared, "the change thresholds compare the candidate with the champion"
    assert "change threshold(s) not applied" not in report  # compared with the champion


def test_a_merge_is_trained_gated_released_as_a_new_version_and_rolled_back(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    champion_in_prod(origin)
    before = origin.sha("main")
    merged = origin.commit("main", "More trees", more_trees)
    push = {
        "ref": "refs/heads/main",
        "before": before,
        "after": merged,
        "repository": repository_payload(),
    }

    training = rehearsal.run(
        origin.checkout("refs/heads/main", tmp_path / "train", branch="main"), "push", push
    )
    assert training.returncode == 0, training.log[-5000:]
    recorded = origin.sha("main")
    assert recorded != merged, "continuous training records the results in a commit of its own"

    fake = FakeGitHub()
    fake.succeeded(merged, CI_WORKFLOW, TRAINING_WORKFLOW)
    checkout = checkout_commit(origin, merged, tmp_path / "deploy")
    with serving(fake):
        run = rehearsal.run(
            checkout, "push", push, workflow=DEPLOY, env={"GITHUB_API_URL": fake.base}
        )

    assert run.returncode == 0, run.log[-8000:]
    for job in (
        "Wait for CI and training of this commit",
        "Gate, bundle and infra-validate the model",
        "Register the version, assign prod, publish the release",
    ):
        assert run.job_succeeded(job), job
    assert "[gate] BLESSED" in run.log and "[infra] PASSED" in run.log

    tags = git(origin.bare, "tag", "--list").split()
    assert {"model@v1.1.0", "model#prod#2"} <= set(tags)
    assert git(origin.bare, "rev-list", "-n", "1", "model@v1.1.0") == recorded
    (release,) = fake.published()
    assert release["tag_name"] == "model@v1.1.0" and release["target_commitish"] == recorded
    assets = fake.assets[release["id"]]
    assert set(assets) == set(RELEASE_ASSETS)
    lock = yaml.safe_load(git(origin.bare, "show", f"{recorded}:dvc.lock"))
    onnx = next(o for o in lock["stages"]["export"]["outs"] if o["path"] == "models/model.onnx")
    assert hashlib.md5(assets["model.onnx"]).hexdigest() == onnx["md5"]
    card = assets["model_card.md"].decode()
    assert card.startswith("# Model card: model v1.1.0") and "replaces `v1.0.0` in prod" in card
    info = json.loads(assets["model.json"])
    assert (info["version"], info["commit"], info["gate"]["blessed"]) == ("v1.1.0", recorded, True)
    assert json.loads(assets["infra_validation.json"])["ok"] is True

    clone = tmp_path / "operator"
    git(tmp_path, "clone", "--quiet", str(origin.bare), str(clone))
    assert registry.prod(clone).version == "v1.1.0"
    assert registry.main(["--repo", str(clone), "rollback", "--push"]) == 0
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "--quiet", str(origin.bare), str(fresh))
    assert registry.prod(fresh).version == "v1.0.0"
