"""The sticky report comment: found by watermark and bot author over every page of comments.

CML writes it when its own lookup (the first 30 comments, any author) would pick the same
comment; otherwise, and whenever CML cannot run, the REST API does. Posting never turns
the job red: a refused comment is a warning. GitHub is the loopback stand-in in
tests/support/fake_github.py, which pages comments 30 at a time as GitHub does.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tabpipe.ci import comment
from tabpipe.ci.github import GitHub
from tests.support.fake_github import BOT, FakeGitHub, serving

PR = 3
SHA = "a" * 40


def completed(code: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, out, err)


@pytest.fixture
def report(tmp_path) -> Path:
    path = tmp_path / "report.md"
    path.write_text("### Training report\n")
    return path


@pytest.fixture
def fake():
    with serving(FakeGitHub()) as running:
        yield running


def client(fake: FakeGitHub, token: str = "rehearsal-token") -> GitHub:
    return GitHub(fake.base, fake.repository, token)


class FakeCml:
    """Records the commands; does what CML 0.20.6 does against the fake (first page only)."""

    def __init__(self, fake: FakeGitHub, code: int = 0) -> None:
        self.fake, self.code, self.calls = fake, code, []

    def __call__(self, cmd, **kwargs):
        self.calls.append((cmd, kwargs["env"]))
        if self.code:
            return completed(self.code, err="cml: boom")
        body = Path(cmd[-1]).read_text() + "\n\n" + comment.watermark(SHA)
        if cmd[2] == "update":
            page = self.fake.comments.get(PR, [])[: comment.CML_FIRST_PAGE]
            target = [c for c in page if comment.carries_watermark(c["body"])][-1]
            target["body"] = body
        else:
            self.fake.add_comment(PR, body, BOT)
        return completed(0, "https://github.com/o/r/pull/3#issuecomment-1")


def test_the_first_report_is_created_by_cml_with_its_watermark_and_telemetry_off(report, fake):
    cml = FakeCml(fake)
    outcome = comment.post(
        report, PR, github=client(fake), env={}, which=lambda _: "/bin/cml", run=cml
    )

    assert outcome.posted and outcome.how == "cml create"
    ((cmd, env),) = cml.calls
    assert cmd == [
        "/bin/cml",
        "comment",
        "create",
        f"--target=pr/{PR}",
        f"--watermark-title={comment.WATERMARK}",
        "--no-publish",
        str(report),
    ]
    assert env["ITERATIVE_DO_NOT_TRACK"] == "1" and env["REPO_TOKEN"] == "rehearsal-token"


def test_cml_updates_the_comment_when_its_own_lookup_would_pick_ours(report, fake):
    ours = fake.add_comment(PR, "old\n\n" + comment.watermark("b" * 40), BOT)
    for n in range(5):
        fake.add_comment(PR, f"a reviewer's note {n}", "alice")
    cml = FakeCml(fake)

    outcome = comment.post(report, PR, github=client(fake), env={}, which=lambda _: "cml", run=cml)

    assert outcome.how == "cml update" and cml.calls[0][0][2] == "update"
    assert ours["body"].startswith("### Training report")
    assert len(fake.comments[PR]) == 6


def test_past_30_comments_ours_is_found_on_a_later_page_and_edited_not_duplicated(report, fake):
    for n in range(34):
        fake.add_comment(PR, f"note {n}", "alice")
    ours = fake.add_comment(PR, "old\n\n" + comment.watermark("b" * 40), BOT)
    cml = FakeCml(fake)

    outcome = comment.post(report, PR, github=client(fake), env={}, which=lambda _: "cml", run=cml)

    # CML would see none of its comments on page 1 and create a second one: not asked.
    assert outcome.how == "rest update" and cml.calls == []
    assert ours["body"].startswith("### Training report")
    assert comment.carries_watermark(ours["body"]) and len(fake.comments[PR]) == 35
    pages = [p for m, p, _ in fake.requests if m == "GET"]
    assert len(pages) == 1  # per_page=100: one request for 35 comments


def test_a_foreign_comment_carrying_the_watermark_is_never_edited(report, fake):
    ours = fake.add_comment(PR, "old\n\n" + comment.watermark("b" * 40), BOT)
    pasted = "look: " + comment.watermark("c" * 40)
    foreign = fake.add_comment(PR, pasted, "mallory")  # newer: CML's update would edit it
    cml = FakeCml(fake)

    outcome = comment.post(report, PR, github=client(fake), env={}, which=lambda _: "cml", run=cml)

    assert outcome.how == "rest update" and cml.calls == []
    assert foreign["body"] == pasted and ours["body"].startswith("### Training report")


def test_a_foreign_watermark_and_no_comment_of_ours_makes_cml_create_not_update(report, fake):
    pasted = comment.watermark("c" * 40)
    foreign = fake.add_comment(PR, pasted, "mallory")
    cml = FakeCml(fake)
    assert (
        comment.post(report, PR, github=client(fake), env={}, which=lambda _: "cml", run=cml).how
        == "cml create"
    )
    assert foreign["body"] == pasted and len(fake.comments[PR]) == 2


def test_without_cml_or_when_cml_fails_the_rest_api_posts_then_updates(report, fake):
    first = comment.post(
        report, PR, github=client(fake), env={"PR_HEAD_SHA": SHA}, which=lambda _: None
    )
    assert first.posted and first.how == "rest create" and "CML is not installed" in first.message
    (posted,) = fake.comments[PR]
    assert posted["user"]["login"] == BOT and posted["body"].endswith(comment.watermark(SHA))
    report.write_text("### Training report, again\n")
    again = comment.post(
        report, PR, github=client(fake), env={}, which=lambda _: "cml", run=FakeCml(fake, code=1)
    )
    assert again.how == "rest update" and "cml update failed" in again.message
    assert len(fake.comments[PR]) == 1 and "again" in fake.comments[PR][0]["body"]


def test_a_fork_gets_a_clear_reason_when_github_refuses_the_comment(report, fake):
    fake.read_only.add("fork-token")
    outcome = comment.post(
        report,
        PR,
        github=client(fake, "fork-token"),
        env={"PR_FROM_FORK": "true"},
        which=lambda _: None,
    )
    assert not outcome.posted
    assert "read-only token" in outcome.message and "Resource not accessible" in outcome.message
    assert PR not in fake.comments


def test_another_bot_login_can_be_named(report, fake):
    fake.identities["app-token"] = "tabpipe-app[bot]"
    ours = fake.add_comment(PR, "old\n\n" + comment.watermark("b" * 40), "tabpipe-app[bot]")
    outcome = comment.post(
        report,
        PR,
        github=client(fake, "app-token"),
        env={"COMMENT_AUTHOR": "tabpipe-app[bot]"},
        which=lambda _: None,
    )
    assert outcome.how == "rest update" and ours["body"].startswith("### Training report")


def test_no_report_or_no_token_is_not_posted(tmp_path, fake):
    missing = comment.post(tmp_path / "none.md", PR, github=client(fake), which=lambda _: "cml")
    assert not missing.posted and "no report" in missing.message
    (tmp_path / "r.md").write_text("x")
    tokenless = comment.post(tmp_path / "r.md", PR, github=None, which=lambda _: "cml")
    assert not tokenless.posted and "no token" in tokenless.message


def test_the_watermark_is_the_one_cml_writes_and_finds():
    # src/watermark.js: `![](https://cml.dev/watermark.png#<sha> "CML watermark <label>")`
    assert comment.watermark("0f" * 20) == (
        f'![](https://cml.dev/watermark.png#{"0f" * 20} "CML watermark tabpipe-training-report")'
    )
    assert comment.carries_watermark("x\n" + comment.watermark("abc123"))
    assert not comment.carries_watermark(comment.watermark("abc").replace("tabpipe", "other"))


def test_the_command_line_exits_0_with_a_warning_and_a_summary_note(tmp_path, capsys):
    summary = tmp_path / "summary.md"
    report = tmp_path / "report.md"
    report.write_text("x")
    env = {"GITHUB_STEP_SUMMARY": str(summary), "PATH": str(tmp_path)}  # no token, no cml

    assert comment.main(["post", str(report), "--pr", "5"], env) == 0

    assert "::warning title=Report not posted::no token" in capsys.readouterr().out
    assert "The training report was not posted" in summary.read_text()


# --- installing CML from npm -------------------------------------------------------------


def fake_tarball(path: Path, version: str = comment.CML_VERSION) -> bytes:
    data = json.dumps({"name": comment.CML_PACKAGE, "version": version}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    # gzip's header holds a time: "w:gz" stamps the current second, so two packs of the same
    # version differed when a busy machine crossed a second between them (a flaky refusal).
    packed = gzip.compress(buffer.getvalue(), mtime=0)
    path.write_bytes(packed)
    return packed


class FakeNpm:
    def __init__(self, version: str = comment.CML_VERSION) -> None:
        self.version, self.calls, self.tarball = version, [], b""

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        if cmd[1] == "pack":
            destination = Path(cmd[cmd.index("--pack-destination") + 1])
            name = f"dvcorg-cml-{self.version}.tgz"
            self.tarball = fake_tarball(destination / name, self.version)
            answer = [{"name": comment.CML_PACKAGE, "version": self.version, "filename": name}]
            return completed(0, json.dumps(answer))
        return completed(0)


def test_cml_is_packed_at_the_pinned_version_checked_then_installed_from_that_file(tmp_path):
    npm = FakeNpm()
    bin_dir, integrity = comment.install_cml(tmp_path / "cml", npm="npm", run=npm)
    assert npm.calls[0][:3] == ["npm", "pack", "@dvcorg/cml@0.20.6"]
    install = npm.calls[1]
    assert install[:3] == ["npm", "install", "--global"] and "--ignore-scripts" in install
    assert install[-1].endswith("dvcorg-cml-0.20.6.tgz")  # the checked file, not a name
    digest = base64.b64encode(hashlib.sha512(npm.tarball).digest()).decode()
    assert integrity == f"sha512-{digest}" and bin_dir == tmp_path / "cml" / "bin"
    # pinned and matching: installed; pinned and different: refused before installing
    comment.install_cml(tmp_path / "cml", expected_integrity=integrity, run=FakeNpm())
    refusing = FakeNpm()
    with pytest.raises(comment.InstallError, match="is not the pinned"):
        comment.install_cml(tmp_path / "cml", expected_integrity="sha512-other", run=refusing)
    assert [c[1] for c in refusing.calls] == ["pack"]


def test_another_version_from_the_registry_is_refused(tmp_path):
    npm = FakeNpm(version="0.20.7")
    with pytest.raises(comment.InstallError, match=r"gave @dvcorg/cml@0\.20\.7"):
        comment.install_cml(tmp_path / "cml", run=npm)
    assert [c[1] for c in npm.calls] == ["pack"]
