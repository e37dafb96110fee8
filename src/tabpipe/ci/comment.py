"""Keep one comment per pull request up to date with the training report, through CML.

``python -m tabpipe.ci.comment REPORT.md --pr NUMBER``

It runs ``cml comment update --target=pr/NUMBER --watermark-title=tabpipe-training-report
--no-publish REPORT.md``: CML finds its earlier comment by the watermark and edits it, or
creates it on the first run, so a pull request never collects a pile of reports. Images
are not uploaded anywhere unless ``--publish`` is given (CML's default is to upload them).

Posting is a courtesy, never the verdict: if CML is not installed, or GitHub refuses the
comment (pull requests from forks get a read-only token), this prints a warning and exits
0. The same report is already in the job summary of the training run.

Only the standard library is used: the comment job does not install the project.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tabpipe.ci.actions import annotate, append_summary

WATERMARK = "tabpipe-training-report"
OUTPUT_LIMIT = 2000


def cml_command(report: Path, pr: int, *, publish: bool, cml: str = "cml") -> list[str]:
    return [
        cml,
        "comment",
        "update",
        f"--target=pr/{pr}",
        f"--watermark-title={WATERMARK}",
        "--publish" if publish else "--no-publish",
        str(report),
    ]


@dataclass(frozen=True)
class Outcome:
    posted: bool
    message: str


Runner = Callable[..., subprocess.CompletedProcess[str]]


def post(
    report: Path,
    pr: int,
    *,
    publish: bool = False,
    env: Mapping[str, str] = os.environ,
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = subprocess.run,
) -> Outcome:
    """Post or update the sticky comment; describe what happened instead of raising."""
    if not report.is_file():
        return Outcome(False, f"no report at {report}: the training job did not produce one")
    cml = which("cml")
    if cml is None:
        return Outcome(
            False,
            "CML is not installed (its setup step failed), so the report was not posted as a "
            "comment; it is in the job summary of the training run",
        )
    if not (env.get("REPO_TOKEN") or env.get("GITHUB_TOKEN")):
        return Outcome(False, "no token for CML (REPO_TOKEN): the report was not posted")
    child_env = {**env, "ITERATIVE_DO_NOT_TRACK": "1"}
    try:
        done = run(
            cml_command(report, pr, publish=publish, cml=cml),
            env=child_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(False, f"cml could not run: {exc}")
    output = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        return Outcome(True, f"updated the report comment on pull request #{pr}")
    reason = (
        "GitHub gives pull requests from forks a read-only token, so no comment can be "
        "written; the report is in the job summary of the training run"
        if env.get("PR_FROM_FORK", "").lower() == "true"
        else "GitHub refused the comment; the report is in the job summary of the training run"
    )
    return Outcome(False, f"{reason}. cml said: {output[-OUTPUT_LIMIT:]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.ci.comment", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("report", type=Path)
    parser.add_argument("--pr", type=int, required=True, help="pull request number")
    parser.add_argument(
        "--publish",
        action="store_true",
        default=os.environ.get("CML_PUBLISH_IMAGES", "").lower() == "true",
        help="let CML upload the report's local images to its image host (opt-in; default "
        "from the CML_PUBLISH_IMAGES variable)",
    )
    args = parser.parse_args(argv)
    outcome = post(args.report, args.pr, publish=args.publish)
    if outcome.posted:
        print(outcome.message, flush=True)
        return 0
    annotate("warning", "Report not posted", outcome.message)
    append_summary(f"> [!WARNING]\n> The training report was not posted: {outcome.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
