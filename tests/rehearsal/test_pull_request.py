"""Pull requests under act: the lock they must carry, one sticky comment, forks.

The rehearsal builds a real two-branch repository (the project on main, a change on a
branch), checks out the pull request's merge commit one commit deep, as actions/checkout
does, and runs the continuous-training workflow for a pull_request event under act. GitHub's
API is the loopback stand-in (``rehearsal.github``); CML is the stand-in that does what CML
0.20.6 does with it (one page of comments, any author).
"""

from __future__ import annotations

import re

import pytest

from tabpipe.ci.comment import carries_watermark
from tests.rehearsal.harness import (
    Origin,
    Rehearsal,
    change_a_hyperparameter,
    commit_results,
    edit_readme,
    pull_request_payload,
    report_section,
    table_rows,
)
from tests.support.fake_github import BOT

pytestmark = pytest.mark.rehearsal

PR = 7
TRAIN = "Retrain what changed and build the report"
COMMENT = "Post or update the report comment"


def open_pull_request(origin: Origin, tmp_path, *, branch: str = "tune-the-model", edit=None):
    change = None

    def tune(work):
        nonlocal change
        change = change_a_hyperparameter(work)

    base_sha = origin.sha("main")
    head_sha = origin.commit(branch, "Tune the model", edit or tune)
    merge_sha = origin.merge_ref(PR, branch)
    checkout = origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "checkout")
    return change, base_sha, head_sha, merge_sha, checkout


def use_s3_by_default(work):
    """What `dvc remote add -d team s3://...` writes (the README's way to move to S3)."""
    config = work / ".dvc" / "config"
    text = config.read_text().replace("remote = bundled", "remote = team")
    remote = "['remote \"team\"']\n    url = s3://team-bucket/dvc\n    endpointurl = http://127.0.0.1:9\n"
    config.write_text(text + remote)
    assert "remote = team" in config.read_text()


def test_a_params_change_must_commit_its_lock_and_keeps_one_sticky_comment_with_the_deltas(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    change, base_sha, head_sha, _, checkout = open_pull_request(origin, tmp_path)
    payload = pull_request_payload(PR, "tune-the-model", head_sha, base_sha)

    run = rehearsal.run(checkout, "pull_request", payload)

    # The branch changed params but not dvc.lock: the merge commit would not record the
    # model, so the required check fails, and says how to fix it.
    assert run.returncode != 0
    assert run.job_failed(TRAIN), run.log[-5000:]
    assert "::error title=dvc.lock is not up to date::" in run.log
    assert "make run && git add dvc.lock" in run.log and "pipeline-results artifact" in run.log
    assert "`dvc.lock` and the results in this pull request are not what" in run.summary()
    assert run.job_succeeded(COMMENT), run.log[-3000:]
    assert not run.job_ran("Propose the new results in a pull request")
    assert not run.job_ran("Push data, outputs and run-cache to the DVC remote")

    (call,) = run.cml_calls()  # the first report: CML creates the comment
    assert call["argv"][:2] == ["comment", "create"] and f"--target=pr/{PR}" in call["argv"]
    assert "--no-publish" in call["argv"] and call["do_not_track"] == "1"
    assert [c[:2] for c in run.npm_calls()] == [
        ["pack", "@dvcorg/cml@0.20.6"],
        ["install", "--global"],
    ]
    (posted,) = rehearsal.github.comments[PR]
    assert posted["user"]["login"] == BOT and carries_watermark(posted["body"])

    report = call["report"]
    assert report == (run.artifact("training-report") / "report.md").read_text()
    assert "vs `main`" in report and f"baseline `{base_sha[:7]}`" in report
    changed = report_section(report, "What changed")
    assert f"| `{change.name}` | `{change.old}` | `{change.new}` |" in changed
    assert "**The merge must record the model**" in report
    metrics = table_rows(report_section(report, "Metrics (test split)"))
    moved = [row for row in metrics if re.fullmatch(r"[+-]\d+\.\d{4}", row[3])]
    assert moved, f"no metric moved after {change}:\n{report}"
    for name, old, new, delta, relative, _ in moved:
        assert abs(float(new) - float(old) - float(delta)) < 2e-4, name
        assert re.fullmatch(r"[+-]\d+\.\d{2}%", relative), name
    assert "Data contract | ✅ pass" in report and "ONNX parity | ✅ pass" in report
    assert "#### Data validation" in report and "```mermaid" in report
    assert report.strip() in run.summary(), "the whole report also goes to the job summary"
    assert (run.artifact("training-report") / "plots.html").is_file()

    # The fix the check named: commit this run's results on the branch; the check passes.
    fixed_head = commit_results(
        origin, "tune-the-model", run.artifact("pipeline-results"), "Record dvc.lock and results"
    )
    origin.merge_ref(PR, "tune-the-model")
    again = rehearsal.run(
        origin.checkout(f"refs/pull/{PR}/merge", tmp_path / "again"),
        "pull_request",
        pull_request_payload(PR, "tune-the-model", fixed_head, base_sha),
    )

    assert again.returncode == 0, again.log[-5000:]
    assert again.job_succeeded(TRAIN) and again.job_succeeded(COMMENT)
    assert "the commit records exactly what this run produced" in again.log
    (update,) = again.cml_calls()  # CML's own lookup finds our comment: CML edits it
    assert update["argv"][:2] == ["comment", "update"]
    (kept,) = rehearsal.github.comments[PR]  # still one comment, now the new report
    assert kept["id"] == posted["id"] and "`dvc.lock`: matches the commit" in kept["body"]


def test_a_busy_pull_request_keeps_one_comment_of_ours_and_never_edits_a_foreign_one(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    github = rehearsal.github
    pasted = 'see ![](https://cml.dev/watermark.png#abc "CML watermark tabpipe-training-report")'
    for n in range(33):
        github.add_comment(
            PR, pasted if n == 2 else f"review note {n}", "mallory" if n == 2 else "alice"
        )
    ours = github.add_comment(PR, "an older report\n\n" + pasted.removeprefix("see "), BOT)
    _, base_sha, head_sha, _, checkout = open_pull_request(
        origin, tmp_path, branch="docs", edit=edit_readme
    )

    run = rehearsal.run(
        checkout, "pull_request", pull_request_payload(PR, "docs", head_sha, base_sha)
    )

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded(COMMENT)
    # CML would read 30 comments, find only mallory's and edit it: the REST API edits ours.
    assert run.cml_calls() == []
    assert "CML's lookup reads the first 30 comments" in run.log
    comments = github.comments[PR]
    assert len(comments) == 34
    assert comments[2]["body"] == pasted and comments[2]["user"]["login"] == "mallory"
    assert ours["body"].startswith("### ") and carries_watermark(ours["body"])
    lists = [path for method, path, _ in github.requests if method == "GET" and "comments" in path]
    assert len(lists) == 1  # every page read: 34 comments fit one page of 100


def test_a_fork_pull_request_gets_no_secret_a_read_only_token_and_its_report_in_the_summary(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    # The team keeps its data on S3 (DVC's default remote); a fork's run gets no secret at
    # all (the rehearsal passes none) and a token GitHub refuses every write with.
    origin.commit("main", "Store DVC data on S3", use_s3_by_default)
    _, base_sha, head_sha, _, checkout = open_pull_request(
        origin, tmp_path, branch="from-a-fork", edit=edit_readme
    )
    payload = pull_request_payload(PR, "from-a-fork", head_sha, base_sha, fork=True)
    rehearsal.secrets["GITHUB_TOKEN"] = "fork-token"
    rehearsal.github.read_only.add("fork-token")

    run = rehearsal.run(checkout, "pull_request", payload)

    assert run.returncode == 0, run.log[-5000:]
    assert run.job_succeeded(TRAIN) and run.job_succeeded(COMMENT)
    assert "Report not posted" in run.log and "read-only token" in run.log
    assert PR not in rehearsal.github.comments
    assert "### Training report" in run.summary()
    assert "no credentials for DVC remote 'team'" in run.log
    assert (
        "+ dvc pull --remote bundled data.dvc" in run.log
        or "checked out from the DVC cache" in run.log
    )
    assert "+ dvc pull --remote team" not in run.log
    assert "DVC push" not in run.log
