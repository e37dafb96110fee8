"""Keep one comment per pull request up to date with the training report.

``python -m tabpipe.ci.comment install-cml``           CML from npm at the pinned version
``python -m tabpipe.ci.comment post REPORT.md --pr N``  post or update the one comment

CML writes the comment when it can do so safely; the lookup is ours. CML 0.20.6's
``comment update`` lists one page of the pull request's comments (GitHub's default: the 30
oldest), then edits the newest comment on it that carries its watermark, whoever wrote it
(``prComments`` and ``updatableComment`` in iterative/cml's src/drivers/github.js and
src/cml.js). On a busy pull request it would add a new report on every run, and a comment
anyone pasted the watermark into would be overwritten. So this module reads every page
through the REST API and takes the newest comment that carries the watermark *and* was
written by the bot (``COMMENT_AUTHOR``, default ``github-actions[bot]``), then:

- no such comment: ``cml comment create`` posts a new one (with CML's watermark);
- it is the comment CML's own lookup would pick: ``cml comment update`` edits it;
- otherwise (a foreign watermarked comment is newer on CML's page, or ours is past it):
  the REST API edits ours, with the same watermark, so CML finds it next time.

When CML is not installed or fails, the REST API posts or edits the comment instead.
Posting is a courtesy, never the verdict: a refusal (pull requests from forks get a
read-only token) is a warning, and the report is in the training run's job summary.
Images are never uploaded (``--no-publish``) unless ``CML_PUBLISH_IMAGES`` is true.

Only the standard library is used: the comment job does not install the project.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabpipe.ci.actions import annotate, append_summary
from tabpipe.ci.github import ACTIONS_BOT, GitHub, GitHubAPIError

WATERMARK = "tabpipe-training-report"
OUTPUT_LIMIT = 2000
# CML's watermark (src/watermark.js): a hidden image whose title names the label and whose
# URL carries the commit after '#'. The lookup ignores the commit, as CML's isIn does.
WATERMARK_IMAGE = "https://cml.dev/watermark.png"
WATERMARK_PATTERN = re.compile(
    rf"!\[\]\({re.escape(WATERMARK_IMAGE)}#[0-9a-fA-F]+ \"CML watermark {re.escape(WATERMARK)}\"\)"
)
CML_FIRST_PAGE = 30  # what CML's issues.listComments call returns: GitHub's default page
CML_PACKAGE = "@dvcorg/cml"
CML_VERSION = "0.20.6"  # the last release (2024-10-24); nothing was committed since


def cml_command(
    report: Path | str, pr: int, *, publish: bool, update: bool, cml: str = "cml"
) -> list[str]:
    return [
        cml,
        "comment",
        "update" if update else "create",
        f"--target=pr/{pr}",
        f"--watermark-title={WATERMARK}",
        "--publish" if publish else "--no-publish",
        str(report),
    ]


def watermark(sha: str) -> str:
    """The watermark CML appends (``Watermark.toString``) for this label and commit."""
    return f'![]({WATERMARK_IMAGE}#{sha} "CML watermark {WATERMARK}")'


def carries_watermark(body: str | None) -> bool:
    return bool(WATERMARK_PATTERN.search(body or ""))


@dataclass(frozen=True)
class Lookup:
    """What the comments hold: ours (watermark and bot author) and what CML would pick."""

    ours: Mapping[str, Any] | None
    cml_pick: Mapping[str, Any] | None
    count: int


def find_comments(comments: Sequence[Mapping[str, Any]], author: str) -> Lookup:
    """``comments`` oldest first, as GitHub lists an issue's comments."""
    ours = [
        c
        for c in comments
        if carries_watermark(c.get("body")) and (c.get("user") or {}).get("login") == author
    ]
    first_page = [c for c in comments[:CML_FIRST_PAGE] if carries_watermark(c.get("body"))]
    return Lookup(
        max(ours, key=lambda c: int(c["id"])) if ours else None,
        first_page[-1] if first_page else None,
        len(comments),
    )


@dataclass(frozen=True)
class Outcome:
    posted: bool
    message: str
    how: str = ""  # "cml create", "cml update", "rest create", "rest update"


Runner = Callable[..., subprocess.CompletedProcess[str]]


def _run_cml(command: list[str], env: Mapping[str, str], run: Runner) -> tuple[bool, str]:
    try:
        done = run(
            command,
            env={**env, "ITERATIVE_DO_NOT_TRACK": "1"},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cml could not run: {exc}"
    output = (done.stdout + done.stderr).strip()
    return done.returncode == 0, output[-OUTPUT_LIMIT:]


def refusal(env: Mapping[str, str], detail: str) -> str:
    if env.get("PR_FROM_FORK", "").lower() == "true":
        reason = (
            "GitHub gives pull requests from forks a read-only token, so no comment can be "
            "written; the report is in the job summary of the training run"
        )
    else:
        reason = "GitHub refused the comment; the report is in the job summary of the training run"
    return f"{reason}. {detail}"


def post(
    report: Path,
    pr: int,
    *,
    github: GitHub | None,
    publish: bool = False,
    env: Mapping[str, str] = os.environ,
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = subprocess.run,
) -> Outcome:
    """Post or update the sticky comment; describe what happened instead of raising."""
    if not report.is_file():
        return Outcome(False, f"no report at {report}: the training job did not produce one")
    if github is None:
        return Outcome(False, "no token (GITHUB_TOKEN) or repository: the report was not posted")
    author = env.get("COMMENT_AUTHOR", "").strip() or ACTIONS_BOT
    try:
        lookup = find_comments(list(github.pages(f"/issues/{pr}/comments")), author)
    except GitHubAPIError as exc:
        return Outcome(False, refusal(env, f"Listing the comments failed: {exc}"))
    sha = env.get("PR_HEAD_SHA") or env.get("GITHUB_SHA") or "0"
    body = f"{report.read_text(encoding='utf-8').rstrip()}\n\n{watermark(sha)}"
    ours = lookup.ours
    cml = which("cml")
    notes = []
    if cml is None:
        notes.append("CML is not installed (its setup step failed)")
    elif ours is None or (lookup.cml_pick is not None and lookup.cml_pick["id"] == ours["id"]):
        update = ours is not None
        cml_env = {**env, "REPO_TOKEN": github.token}
        ok, said = _run_cml(
            cml_command(report, pr, publish=publish, update=update, cml=cml), cml_env, run
        )
        how = "cml update" if update else "cml create"
        if ok:
            return Outcome(True, f"{how}: the report comment on pull request #{pr}", how)
        notes.append(f"{how} failed ({said})")
    else:
        notes.append(
            f"CML's lookup reads the first {CML_FIRST_PAGE} comments and would edit comment "
            f"{lookup.cml_pick['id'] if lookup.cml_pick else '(none: a new one)'}, not ours "
            f"({ours['id']})"
        )
    try:
        if ours is None:
            github.call("POST", f"/issues/{pr}/comments", {"body": body})
            how = "rest create"
        else:
            github.call("PATCH", f"/issues/comments/{ours['id']}", {"body": body})
            how = "rest update"
    except GitHubAPIError as exc:
        return Outcome(False, refusal(env, f"{'; '.join(notes)}; the REST API said: {exc}"))
    return Outcome(
        True, f"{how}: the report comment on pull request #{pr} ({'; '.join(notes)})", how
    )


# --- installing CML ---------------------------------------------------------------------


class InstallError(Exception):
    pass


def sri_sha512(path: Path) -> str:
    """npm's Subresource Integrity string of a file: ``sha512-`` + base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def install_cml(
    prefix: Path,
    *,
    expected_integrity: str = "",
    npm: str = "npm",
    run: Runner = subprocess.run,
) -> tuple[Path, str]:
    """Fetch the pinned CML tarball from npm, check it, install it under ``prefix``.

    ``npm pack`` downloads exactly ``@dvcorg/cml@0.20.6`` (npm checks it against the
    registry's integrity); the tarball's own sha512 is then compared with
    ``expected_integrity`` when one is pinned (the ``CML_INTEGRITY`` variable), and
    ``npm install --global --ignore-scripts`` installs that file, not a name. Returns the
    ``bin`` folder and the tarball's integrity.
    """
    spec = f"{CML_PACKAGE}@{CML_VERSION}"
    with tempfile.TemporaryDirectory() as scratch:
        packed = run(
            [npm, "pack", spec, "--json", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            check=False,
        )
        if packed.returncode != 0:
            raise InstallError(f"npm pack {spec} failed: {packed.stderr.strip()[-OUTPUT_LIMIT:]}")
        try:
            (info,) = json.loads(packed.stdout)
        except ValueError as exc:
            raise InstallError(
                f"npm pack {spec}: unreadable answer {packed.stdout[:200]!r}"
            ) from exc
        if (info.get("name"), info.get("version")) != (CML_PACKAGE, CML_VERSION):
            raise InstallError(f"npm pack {spec} gave {info.get('name')}@{info.get('version')}")
        tarball = Path(scratch) / str(info["filename"])
        integrity = sri_sha512(tarball)
        if expected_integrity and integrity != expected_integrity:
            raise InstallError(
                f"{tarball.name}: integrity {integrity} is not the pinned {expected_integrity}"
            )
        installed = run(
            [
                npm,
                "install",
                "--global",
                "--prefix",
                str(prefix),
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                str(tarball),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode != 0:
            raise InstallError(
                f"npm install {tarball.name} failed: {installed.stderr.strip()[-OUTPUT_LIMIT:]}"
            )
    return prefix / "bin", integrity


# --- command line ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.ci.comment", description=(__doc__ or "").split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser(
        "install-cml", help=f"install {CML_PACKAGE}@{CML_VERSION} from npm"
    )
    install.add_argument(
        "--prefix", type=Path, default=Path(env.get("RUNNER_TEMP", "build")) / "cml"
    )
    posting = commands.add_parser("post", help="post or update the pull request's report comment")
    posting.add_argument("report", type=Path)
    posting.add_argument("--pr", type=int, required=True, help="pull request number")
    posting.add_argument(
        "--publish",
        action="store_true",
        default=env.get("CML_PUBLISH_IMAGES", "").lower() == "true",
        help="let CML upload the report's local images to its image host (opt-in; default "
        "from the CML_PUBLISH_IMAGES variable)",
    )
    args = parser.parse_args(argv)
    if args.command == "install-cml":
        try:
            bin_dir, integrity = install_cml(
                args.prefix, expected_integrity=env.get("CML_INTEGRITY", "").strip()
            )
        except (InstallError, OSError) as exc:
            annotate(
                "warning", "CML not installed", f"{exc}; the comment goes through the REST API"
            )
            return 1
        path_file = env.get("GITHUB_PATH")
        if path_file:
            with open(path_file, "a", encoding="utf-8") as handle:
                handle.write(f"{bin_dir}\n")
        pinned = (
            "matches CML_INTEGRITY"
            if env.get("CML_INTEGRITY")
            else "pin it as the CML_INTEGRITY variable"
        )
        annotate(
            "notice",
            "CML",
            f"{CML_PACKAGE}@{CML_VERSION} installed; tarball {integrity} ({pinned})",
        )
        return 0
    try:
        github: GitHub | None = GitHub.from_env(env)
    except GitHubAPIError:
        github = None
    outcome = post(args.report, args.pr, github=github, publish=args.publish, env=env)
    if outcome.posted:
        print(outcome.message, flush=True)
        return 0
    annotate("warning", "Report not posted", outcome.message)
    append_summary(f"> [!WARNING]\n> The training report was not posted: {outcome.message}", env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
