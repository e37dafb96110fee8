"""Posting the report never turns the job red: no CML, or a refused comment, is a warning."""

from __future__ import annotations

import subprocess

from tabpipe.ci import comment


def completed(code: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, out, err)


def test_cml_updates_the_sticky_comment_with_telemetry_off(tmp_path):
    report = tmp_path / "report.md"
    report.write_text("### Training report\n")
    calls = []

    def run(cmd, **kwargs):
        calls.append((cmd, kwargs["env"]))
        return completed(0, "https://github.com/o/r/pull/3#issuecomment-1")

    outcome = comment.post(
        report, 3, env={"REPO_TOKEN": "t"}, which=lambda _: "/usr/bin/cml", run=run
    )

    assert outcome.posted
    ((cmd, env),) = calls
    assert cmd == [
        "/usr/bin/cml",
        "comment",
        "update",
        "--target=pr/3",
        f"--watermark-title={comment.WATERMARK}",
        "--no-publish",
        str(report),
    ]
    assert env["ITERATIVE_DO_NOT_TRACK"] == "1"


def test_without_cml_the_report_is_not_posted_and_the_reason_is_given(tmp_path):
    report = tmp_path / "report.md"
    report.write_text("x")
    outcome = comment.post(report, 3, env={"REPO_TOKEN": "t"}, which=lambda _: None)
    assert not outcome.posted and "CML is not installed" in outcome.message


def test_a_fork_gets_a_clear_reason_when_github_refuses_the_comment(tmp_path):
    report = tmp_path / "report.md"
    report.write_text("x")
    outcome = comment.post(
        report,
        3,
        env={"REPO_TOKEN": "t", "PR_FROM_FORK": "true"},
        which=lambda _: "cml",
        run=lambda *a, **k: completed(1, err="Resource not accessible by integration"),
    )
    assert not outcome.posted
    assert "read-only token" in outcome.message and "Resource not accessible" in outcome.message


def test_no_report_or_no_token_is_not_posted(tmp_path):
    missing = comment.post(tmp_path / "none.md", 3, env={"REPO_TOKEN": "t"}, which=lambda _: "cml")
    assert not missing.posted and "no report" in missing.message
    report = tmp_path / "report.md"
    report.write_text("x")
    tokenless = comment.post(report, 3, env={}, which=lambda _: "cml")
    assert not tokenless.posted and "no token" in tokenless.message


def test_the_command_line_exits_0_with_a_warning_and_a_summary_note(tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("PATH", str(tmp_path))  # no cml anywhere
    monkeypatch.setenv("REPO_TOKEN", "t")
    report = tmp_path / "report.md"
    report.write_text("x")

    assert comment.main([str(report), "--pr", "5"]) == 0

    assert "::warning title=Report not posted::CML is not installed" in capsys.readouterr().out
    assert "The training report was not posted" in summary.read_text()
