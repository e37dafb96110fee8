"""The training report: deltas, changed params, checks and plots, against the right commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tabpipe.ci import report
from tabpipe.ci.report import Baseline, Context, Evidence, MetricRow, ParamRow
from tabpipe.core.contract import ValidationReport
from tabpipe.core.paths import PROJECT_RECORD
from tabpipe.pipeline.export import Parity
from tabpipe.pipeline.gate import RecordedVerdict, verdict_markdown
from tests.rehearsal.harness import report_section

DIFF = {
    "metrics/train.json": {"accuracy": {"old": 0.9, "new": 0.91, "diff": 0.01}},
    "metrics/test.json": {
        "roc_auc": {"old": 0.8, "new": 0.84, "diff": 0.04},
        "log_loss": {"old": 0.5, "new": 0.4, "diff": -0.1},
        "recall": {"old": 0.0, "new": 0.2, "diff": 0.2},
    },
    "metrics/slices.json": {
        "Job.fixed.f1": {"old": 0.5, "new": 0.45},
        "Job.fixed.rows": {"old": 9, "new": 9},
    },
}


READERS = {
    "validation": ValidationReport.from_dict,
    "parity": Parity.from_dict,
    "gate": RecordedVerdict.from_dict,
}


def evidence(**overrides) -> Evidence:
    """Evidence as the report gathers it; artifacts given as their JSON files hold them."""
    base = {
        "context": Context("pull_request", "`tune` (abc1234)", "https://x/runs/1", True),
        "baseline": Baseline("f" * 40, "`main`"),
        "metrics": report.metric_rows_from_diff(DIFF),
        "params": [ParamRow("train.gradient_boosting.n_estimators", 200, 60)],
        "changed_inputs": [],
        "validation": {
            "ok": True,
            "source": "data/x.csv",
            "contract": "c.yaml",
            "rows": 10,
            "columns": 3,
            "failures": [],
        },
        "parity": {
            "ok": True,
            "rows": 5,
            "tolerance": 1e-4,
            "max_abs_diff": 1e-7,
            "label_mismatches": 0,
            "worst_row": 0,
        },
    }
    merged = {**base, **overrides}
    for name, reader in READERS.items():
        if isinstance(merged.get(name), dict):
            merged[name] = reader(merged[name])
    return Evidence(**merged)


def test_rows_carry_absolute_and_relative_deltas_and_know_which_way_is_better():
    rows = {(r.file, r.name): r for r in report.metric_rows_from_diff(DIFF)}
    auc = rows[("metrics/test.json", "roc_auc")]
    assert abs(auc.delta - 0.04) < 1e-12 and abs(auc.relative - 0.05) < 1e-12
    assert auc.verdict == "better"
    assert rows[("metrics/test.json", "log_loss")].verdict == "better"  # lower is better
    assert rows[("metrics/slices.json", "Job.fixed.f1")].verdict == "worse"
    assert rows[("metrics/test.json", "recall")].relative is None  # from zero: no ratio
    assert next(r.file for r in report.metric_rows_from_diff(DIFF)) == "metrics/test.json"


def test_a_baseline_without_metrics_shows_values_without_deltas():
    row = MetricRow("metrics/test.json", "accuracy", None, 0.8)
    assert row.delta is None and row.verdict == "new"
    shown = report.metric_rows_from_show(
        {"": {"data": {"metrics/slices.json": {"data": {"Job": {"fixed": {"f1": 0.5}}}}}}}
    )
    assert shown == [MetricRow("metrics/slices.json", "Job.fixed.f1", None, 0.5)]


def test_the_report_shows_the_changed_param_the_deltas_and_the_checks():
    text = report.render(evidence())
    assert text.startswith("### Training report: `tune` (abc1234) vs `main`")
    assert "| `train.gradient_boosting.n_estimators` | `200` | `60` |" in text
    assert "| roc_auc | 0.8000 | 0.8400 | +0.0400 | +5.00% | 🟢 better |" in text
    assert "| log_loss | 0.5000 | 0.4000 | -0.1000 | -20.00% | 🟢 better |" in text
    assert "**Model checks: ✅ passed** (Data contract, ONNX parity, Pipeline run)." in text
    assert "<details><summary>Metrics in <code>metrics/train.json</code>" in text
    assert "Job.fixed.rows" not in text  # slice sizes are not metrics
    assert "[this run](https://x/runs/1)" in text
    assert "Run `make run` and commit `dvc.lock`" not in text  # the lock did not change


def test_a_failed_contract_or_parity_fails_the_verdict_and_lists_the_problems():
    failures = [{"column": "Age", "check": "in_range(18, 100)", "count": 2, "examples": ["150.0"]}]
    bad = evidence(
        validation={
            "ok": False,
            "source": "d.csv",
            "contract": "c.yaml",
            "rows": 3,
            "columns": 2,
            "failures": failures,
        },
        parity={
            "ok": False,
            "rows": 5,
            "tolerance": 1e-4,
            "max_abs_diff": 0.2,
            "label_mismatches": 1,
            "worst_row": 3,
        },
        pipeline_outcome="failure",
    )
    text = report.render(bad)
    assert "**Model checks: ❌ not passed** (Data contract, ONNX parity, Pipeline run)" in text
    assert "| Age | `in_range(18, 100)` | 2 | `150.0` |" in text
    assert "> [!CAUTION]" in text and "`dvc repro` failure" in text


def test_a_failed_run_says_whether_the_numbers_are_this_runs_and_whether_the_gate_refused():
    refused = {"blessed": False, "reason": "1 of 24 checks failed against champion v1.0.0"}
    unknown = report.pipeline_caution(evidence(pipeline_outcome="failure"))
    assert "may be missing or those last committed" in unknown and "failing stage" in unknown

    at_gate = report.pipeline_caution(
        evidence(pipeline_outcome="failure", stale_stages=["gate", "profile"], gate=refused)
    )
    assert "stages not completed: `gate`, `profile`" in at_gate
    assert "the metrics and plots below are this run's" in at_gate
    assert "The model gate refused this model" in at_gate

    in_training = report.pipeline_caution(
        evidence(pipeline_outcome="failure", stale_stages=["evaluate", "gate"], gate=refused)
    )
    assert "may be missing or those last committed" in in_training
    assert "refused" not in in_training  # the verdict on disk is not this run's

    text = report.render(
        evidence(pipeline_outcome="failure", stale_stages=["profile"], gate={"blessed": True})
    )
    assert "> [!CAUTION]\n> `dvc repro` failure (stages not completed: `profile`)" in text
    assert "refused" not in text


def test_the_model_gate_verdict_joins_the_checks_and_gets_its_own_section():
    check = {
        "name": "roc_auc (overall) lower bound",
        "metric": "roc_auc",
        "slice": "overall",
        "kind": "lower_bound",
        "threshold": ">= 0.85",
        "value": 0.84,
        "candidate": 0.84,
        "baseline": None,
        "passed": False,
        "note": "",
    }
    gate = {
        "blessed": False,
        "ok": False,
        "reason": "1 of 1 checks failed",
        "checked": 1,
        "failed": 1,
        "checks": [check],
        "skipped": [],
    }
    text = report.render(evidence(gate=gate))
    assert "| Model gate | ❌ fail | `reports/gate.json`: 1 of 1 checks failed |" in text
    assert "**Model checks: ❌ not passed** (Model gate)" in text
    assert "#### Model gate: ❌ not blessed" in text and "roc_auc" in report_section(
        text, "Model gate: ❌ not blessed"
    )


def test_the_report_renders_the_verdict_and_the_validation_as_their_own_files_do(tmp_path):
    """One rendering each: the PR report's sections are reports/gate.md's and
    reports/validation.md's, read back through the producers' classes."""
    gate = RecordedVerdict.from_dict(
        {"blessed": True, "reason": "all 1 checks passed", "checks": [], "skipped": []}
    )
    failures = [{"column": "A|b", "check": "isin", "count": 1, "examples": ["x\ny"]}]
    validation = ValidationReport.from_dict(
        {"source": "d.csv", "contract": "c.yaml", "rows": 1, "columns": 1, "failures": failures}
    )
    text = report.render(evidence(gate=gate, validation=validation))
    assert verdict_markdown(gate, heading="####").rstrip() in text
    assert validation.markdown(heading="####").rstrip() in text
    assert "| A\\|b | `isin` | 1 | `x y` |" in text, "cells are escaped once, by the producer"


def test_an_artifact_that_is_not_its_producers_shape_counts_as_not_produced(tmp_path):
    (tmp_path / "gate.json").write_text(json.dumps({"verdict": "yes"}))
    assert report._typed(tmp_path / "gate.json", RecordedVerdict.from_dict) is None
    assert report._typed(tmp_path / "missing.json", RecordedVerdict.from_dict) is None


def test_no_baseline_says_so_and_a_changed_lock_tells_a_pull_request_what_to_do():
    text = report.render(
        evidence(
            baseline=Baseline(None, "`main`", "No baseline commit."), params=[], lock_changed=True
        )
    )
    assert "> [!NOTE]\n> No baseline commit." in text
    assert "Params: no baseline to compare." in text
    assert "run `make run` on the branch and commit `dvc.lock`" in text
    assert "`pipeline-results` artifact" in text and "[skip ci]" not in text


def test_a_pull_requests_baseline_is_its_merge_commits_first_parent(tmp_path, monkeypatch):
    from tests.support.gitrepos import git

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "a").write_text("1")
    git(repo, "add", "a")
    git(repo, "commit", "--quiet", "-m", "base")
    git(repo, "checkout", "--quiet", "-b", "topic")
    (repo / "b").write_text("2")
    git(repo, "add", "b")
    git(repo, "commit", "--quiet", "-m", "topic")
    git(repo, "checkout", "--quiet", "main")
    (repo / "c").write_text("3")
    git(repo, "add", "c")
    git(repo, "commit", "--quiet", "-m", "main moved on after the last push")
    moved = git(repo, "rev-parse", "HEAD")
    git(repo, "merge", "--quiet", "--no-ff", "-m", "merge", "topic")
    monkeypatch.chdir(repo)
    pull_request = report.Trigger("pull_request")
    assert report.requested_base(pull_request, "stale-base-sha", {}) == moved
    assert report.requested_base(report.Trigger("push"), "before", {}) == "before"
    git(repo, "checkout", "--quiet", "--detach", "HEAD^2")  # not a merge: the event's base
    assert report.requested_base(pull_request, None, {"PR_BASE_SHA": "abc"}) == "abc"


def test_plots_render_as_mermaid_charts_and_a_confusion_table_and_as_files():
    roc = pd.DataFrame({"fpr": [0, 0.1, 1], "tpr": [0, 0.8, 1]})
    pr = pd.DataFrame({"recall": [1, 0.5, 0], "precision": [0.3, 0.8, 1]})
    confusion = pd.DataFrame({"actual": ["a", "b", "b"], "predicted": ["a", "b", "a"]})
    e = evidence(
        plots={"roc": roc, "precision_recall": pr, "confusion": confusion},
        baseline_plots={"roc": roc.assign(tpr=[0, 0.6, 1]), "confusion": confusion.iloc[:2]},
    )
    text = report.render(e)
    assert text.count("```mermaid") == 2 and text.count("xychart-beta") == 2
    assert "grey: `main` (AUC 0.750) · blue: this run (AUC 0.850)" in text
    assert "| `b` | 1 (+1) | **1** |" in text
    files = report.plot_files(e)
    assert set(files) == {"roc.svg", "precision_recall.svg", "plots.html"}
    assert "<svg" in files["plots.html"] and "baseline" in files["roc.svg"]
    assert "![roc](roc.svg)" in report.render(e, images=True)
    assert "![roc]" not in text  # no image links unless publishing is opted into


def test_the_report_draws_every_plot_the_evaluate_stage_writes():
    from tabpipe.pipeline.evaluate import PLOT_FILES

    assert set(report.PLOT_NAMES) == set(PLOT_FILES)
    assert {name + ".csv" for name in report.PLOT_NAMES} == set(PLOT_FILES.values())


def test_a_report_too_long_for_a_comment_drops_the_detail_tables_first():
    many = {"metrics/slices.json": {f"s{i}.v.f1": {"old": 0.1, "new": 0.2} for i in range(2000)}}
    text = report.render(evidence(metrics=report.metric_rows_from_diff(many)))
    assert len(text) <= report.MAX_CHARS
    assert "a detail table was left out" in text and "#### Data validation" in text


# --- against real git: shallow clones and first pull requests -------------------------------

IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


VENV_BIN = Path(sys.executable).parent  # dvc lives beside the interpreter running the tests


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, check=True, env=_clean_env()
    )
    return done.stdout.strip()


@pytest.fixture
def shallow_pr(tmp_path, monkeypatch):
    """origin: main without metrics (a first PR), then with; a depth-1 clone of the branch."""
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    origin = tmp_path / "origin"
    origin.mkdir()
    sh(origin, "git", "init", "--quiet", "--initial-branch=main")
    sh(origin, "dvc", "init", "--quiet")
    (origin / "dvc.yaml").write_text("metrics:\n  - metrics/test.json\n")
    (origin / "params.yaml").write_text("train:\n  n_estimators: 200\n")
    sh(origin, "git", "add", "--all")
    sh(origin, "git", "commit", "--quiet", "-m", "no metrics yet")
    empty = sh(origin, "git", "rev-parse", "HEAD")
    (origin / "metrics").mkdir()
    (origin / "metrics" / "test.json").write_text(json.dumps({"accuracy": 0.8}))
    sh(origin, "git", "add", "--all")
    sh(origin, "git", "commit", "--quiet", "-m", "metrics")
    base = sh(origin, "git", "rev-parse", "HEAD")
    sh(origin, "git", "checkout", "--quiet", "-b", "tune")
    (origin / "params.yaml").write_text("train:\n  n_estimators: 60\n")
    (origin / "metrics" / "test.json").write_text(json.dumps({"accuracy": 0.75}))
    sh(origin, "git", "commit", "--quiet", "--all", "-m", "tune")
    clone = tmp_path / "clone"
    sh(
        tmp_path,
        "git",
        "clone",
        "--quiet",
        "--depth=1",
        "--branch=tune",
        f"file://{origin}",
        str(clone),
    )
    monkeypatch.chdir(clone)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return base, empty


def test_a_shallow_clone_fetches_the_base_commit_it_lacks(shallow_pr):
    base, _ = shallow_pr
    assert (
        subprocess.run(["git", "cat-file", "-e", f"{base}^{{commit}}"], check=False).returncode != 0
    )
    found = report.find_baseline(base, "`main`", {})
    assert found.rev == base and not found.note


def test_an_unknown_or_zero_baseline_is_reported_not_fatal(shallow_pr):
    assert report.find_baseline(report.ZERO_SHA, "x", {}).rev is None
    missing = report.find_baseline("0123456789abcdef0123456789abcdef01234567", "x", {})
    assert missing.rev is None and "could not be fetched" in missing.note


def test_the_command_line_compares_with_the_base_and_writes_report_and_summary(
    shallow_pr, tmp_path
):
    base, empty = shallow_pr
    out, summary = tmp_path / "out", tmp_path / "summary.md"
    cmd = [
        sys.executable,
        "-m",
        "tabpipe.ci.report",
        "--base",
        base,
        "--out",
        str(out),
        "--summary",
        str(summary),
    ]
    subprocess.run(
        cmd,
        check=True,
        capture_output=True,
        env={**_clean_env(), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"},
    )
    text = (out / "report.md").read_text()
    assert "| accuracy | 0.8000 | 0.7500 | -0.0500 | -6.25% | 🔴 worse |" in text
    assert "| `train.n_estimators` | `200` | `60` |" in text
    assert summary.read_text().strip() == text.strip()

    first = [*cmd[:4], empty, *cmd[5:]]
    subprocess.run(
        first,
        check=True,
        capture_output=True,
        env={**_clean_env(), "GITHUB_EVENT_NAME": "pull_request"},
    )
    text = (out / "report.md").read_text()
    assert "| accuracy | - | 0.7500 | - | - | new |" in text  # the first PR: nothing to compare


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    return {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}


def test_right_after_init_the_template_commit_is_no_baseline(shallow_pr):
    """init writes docs/project.md; a base without it is the template's demo, not this
    project: no deltas until the project's first commit on main."""
    base, _ = shallow_pr
    PROJECT_RECORD.parent.mkdir(exist_ok=True)
    PROJECT_RECORD.write_text("# my project\n")
    found = report.find_baseline(base, "`main`", {})
    assert found.rev is None
    assert "predates `tabpipe init`" in found.note and "first commit on main" in found.note
