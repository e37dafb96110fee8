"""What the GitHub workflows run around ``dvc repro``: ``python -m tabpipe.ci.workflow COMMAND``.

``pull``        the tracked data (must succeed), then cached outputs and the run-cache (best
                effort: whatever is missing, ``dvc repro`` rebuilds); ``--data-only`` for a
                deploy, which rebuilds everything
``push``        data, outputs and run-cache to the project's DVC remote, if credentials are set
``check-lock``  does the commit hold the ``dvc.lock`` and results this run produced? A pull
                request fails if not (with the one-line fix); elsewhere it is a step output
``collect``     copy ``dvc.lock`` and the small committed results into one folder (an artifact)
``propose``     commit that folder's files on a new branch and open a pull request

Remotes: the template's default remote (``bundled``) is a folder committed in git and needs
no credentials, so every run, forks included, gets the data. A team with a real remote
makes it DVC's default (``dvc remote add -d``) or names it in the repository variable
``DVC_REMOTE``. Pull-request jobs get read-only credentials (or none: forks); only jobs
bound to the ``dvc-write`` environment, which only ``main`` may use, get credentials that
can write, so no pull request can plant a run-cache entry that ``main`` would restore.

Who commits ``dvc.lock``: the pull request. Its training check reruns the pipeline and
fails unless the branch records exactly what it produced, so the merge commit records the
model that the deploy rebuilds and releases. No workflow pushes to ``main`` (branch
protection refuses it, and a ``GITHUB_TOKEN`` push would start no workflow): a scheduled
or dispatched retrain that produces new results proposes them in a pull request.

Only the standard library is imported at load time: the propose job runs this module with
a bare Python, without installing the project.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tabpipe.ci.actions import Trigger, annotate, append_summary, git_auth_env, set_output
from tabpipe.ci.github import ACTIONS_BOT, GitHub, GitHubAPIError
from tabpipe.core.paths import CHAMPION_FILE, DATA_POINTER, DVC_LOCK, PATHS

# Secrets a workflow maps into the job for a real DVC remote (S3, Azure, Google Drive).
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AZURE_STORAGE_CONNECTION_STRING",
    "GDRIVE_CREDENTIALS_DATA",
)
RESULTS_MANIFEST = "MANIFEST"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def _run(cmd: Sequence[str], env: Mapping[str, str] | None = None) -> bool:
    print("+ " + " ".join(cmd), flush=True)
    return (
        subprocess.run(list(cmd), env=None if env is None else dict(env), check=False).returncode
        == 0
    )


def _output(cmd: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout if done.returncode == 0 else ""


# --- remotes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remotes:
    """The DVC remotes of the project (name -> URL) and which one is the default."""

    urls: Mapping[str, str]
    default: str | None

    @classmethod
    def from_dvc(cls) -> Remotes:
        """From ``dvc config --list`` (every config level merged; one setting a line)."""
        urls: dict[str, str] = {}
        default = None
        for line in _output(["dvc", "config", "--list"]).splitlines():
            key, _, value = line.strip().partition("=")
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "remote" and parts[2] == "url":
                urls[parts[1]] = value
            elif key == "core.remote":
                default = value
        return cls(urls, default)

    def credential_free(self, name: str) -> bool:
        """A remote on a path (like the bundled one, committed in git) needs no credentials."""
        url = self.urls.get(name, "")
        return bool(url) and ("://" not in url or url.startswith("file://"))


@dataclass(frozen=True)
class RemoteChoice:
    """Where this job pulls from, in order, and where it may push (None: nowhere)."""

    pull_from: tuple[str, ...]
    push_to: str | None
    reason: str


def choose_remote(env: Mapping[str, str], remotes: Remotes) -> RemoteChoice:
    """The project's remote (``DVC_REMOTE``, else DVC's default) when this job can use it.

    A remote that needs credentials is used only when they reach the job; pushing needs
    them too. Without them (a fork, or secrets not set) the job pulls from the remotes that
    need none, such as the bundled one, and from the Actions cache, and pushes nothing.
    """
    wanted = env.get("DVC_REMOTE", "").strip() or remotes.default
    free = tuple(n for n in remotes.urls if remotes.credential_free(n) and n != wanted)
    present = [name for name in CREDENTIAL_VARIABLES if env.get(name, "").strip()]
    if wanted is None or wanted not in remotes.urls:
        return RemoteChoice(
            free, None, f"no DVC remote named {wanted!r}: using {free or 'the cache'}"
        )
    if remotes.credential_free(wanted):
        return RemoteChoice(
            (wanted, *free),
            None,
            f"DVC remote {wanted!r} is a folder in the repository and needs no credentials; "
            "nothing is pushed to it",
        )
    if present:
        return RemoteChoice(
            (wanted, *free), wanted, f"using DVC remote {wanted!r} ({', '.join(present)} set)"
        )
    fallback = ", ".join(repr(n) for n in free) or "none"
    return RemoteChoice(
        free,
        None,
        f"no credentials for DVC remote {wanted!r} in this job (a fork, or the secrets are "
        f"not set): using the Actions cache and the remotes that need none ({fallback}); "
        "nothing is pushed",
    )


def pointer_files() -> list[str]:
    """The ``.dvc`` files git tracks (the data, and any imports)."""
    listed = _output(["git", "ls-files", "*.dvc"]).split()
    return [p for p in listed if Path(p).is_file()] or (
        [str(DATA_POINTER)] if DATA_POINTER.exists() else []
    )


def is_import(pointer: str) -> bool:
    """A ``.dvc`` file made by ``dvc import``/``import-url`` records where its data came from."""
    return re.search(r"^deps:", Path(pointer).read_text(encoding="utf-8"), re.MULTILINE) is not None


def stages_to_rerun() -> list[str]:
    """Stages whose outputs are missing or stale here, from ``dvc status``."""
    try:
        status = json.loads(_output(["dvc", "status", "--json"]) or "{}")
    except ValueError:
        return []
    return sorted(name for name in status if not name.endswith(".dvc"))


# --- commands -----------------------------------------------------------------------------


def data_present(pointers: Sequence[str]) -> bool:
    """Every pointer's data is in the workspace and matches its hash (``dvc status``)."""
    done = subprocess.run(
        ["dvc", "status", "--json", *pointers], capture_output=True, text=True, check=False
    )
    try:
        return done.returncode == 0 and json.loads(done.stdout or "{}") == {}
    except ValueError:
        return False


def pull(
    env: Mapping[str, str] = os.environ, remotes: Remotes | None = None, *, data_only: bool = False
) -> int:
    """Get the data (the cache first, then the usable remotes); then outputs, best effort.

    Writes the step output ``data=available|unavailable``. Without data and without
    credentials (a fork whose project keeps its data on a private remote, with nothing in
    the cache) the run cannot train: that is a warning and a note in the job summary,
    never a red job for lack of a secret. With credentials, missing data is an error.
    """
    trigger = Trigger.from_env(env)
    choice = choose_remote(env, remotes or Remotes.from_dvc())
    annotate("notice", "DVC remote", choice.reason)
    pointers = pointer_files()
    # The Actions cache may hold the data already: check it out without asking a remote.
    subprocess.run(["dvc", "checkout", "--quiet", *pointers], capture_output=True, check=False)
    available = data_present(pointers)
    if available:
        annotate("notice", "Data", "checked out from the DVC cache (in CI: the Actions cache)")
    for name in choice.pull_from:
        if available:
            break
        available = _run(["dvc", "pull", "--remote", name, *pointers]) and data_present(pointers)
        if not available:
            annotate("warning", "DVC pull", f"the data is not on DVC remote {name!r}")
    if not available:
        set_output("data", "unavailable", env)
        message = (
            f"{', '.join(pointers)}: not in the Actions cache, and not on any DVC remote this "
            f"job can read ({choice.reason})."
        )
        if choice.push_to is None and not any(env.get(n) for n in CREDENTIAL_VARIABLES):
            annotate("warning", "Training skipped", message + " Training is skipped.")
            append_summary(f"> [!WARNING]\n> No training in this run: {message}", env)
            return 0
        annotate("error", "No data", message + " Check the remote and its credentials.")
        return 1
    set_output("data", "available", env)
    if trigger.refreshes_data:
        imports = [p for p in pointers if is_import(p)]
        if imports and not _run(["dvc", "update", *imports]):
            annotate("error", "New data", f"dvc update {' '.join(imports)} failed")
            return 1
        if not imports:
            annotate(
                "notice",
                "New data",
                f"{trigger.describe()}: no imported data to update; retraining on the tracked data",
            )
    if data_only:
        annotate("notice", "DVC cache", "data only: no outputs and no run-cache were pulled")
        return 0
    # Outputs and run-cache are optional: missing pieces are rebuilt by `dvc repro`. The
    # data above was checked on purpose: `dvc pull --allow-missing` exits 0 without it.
    for name in choice.pull_from[:1]:
        _run(["dvc", "pull", "--remote", name, "--run-cache", "--allow-missing"])
    pending = stages_to_rerun()
    if pending:
        annotate(
            "notice",
            "DVC cache",
            f"stages not up to date here: {', '.join(pending)}; dvc repro restores each from "
            "the run-cache if it ran before with the same inputs, and runs the rest",
        )
    else:
        annotate("notice", "DVC cache", "every stage is up to date; dvc repro has nothing to run")
    return 0


def push(env: Mapping[str, str] = os.environ, results: Path | None = None) -> int:
    """Push to the DVC remote what this run produced (``results``: the collected folder).

    The collected ``dvc.lock`` and pointer files replace the checked-out ones first, so a
    retrain that changed them pushes the outputs it made, not the commit's older ones.
    """
    trigger = Trigger.from_env(env)
    if trigger.is_pull_request:
        annotate("notice", "DVC push", "pull requests never push to the DVC remote")
        return 0
    if results is not None:
        manifest = results / RESULTS_MANIFEST
        entries = manifest.read_text(encoding="utf-8").split() if manifest.is_file() else []
        _copy_results(
            results,
            [
                e
                for e in entries
                if _safe_entry(e)
                and not e.endswith("/")
                and (e == DVC_LOCK.as_posix() or e.endswith(".dvc"))
            ],
        )
    choice = choose_remote(env, Remotes.from_dvc())
    if choice.push_to is None:
        annotate("notice", "DVC push skipped", choice.reason)
        return 0
    if not _run(["dvc", "push", "--remote", choice.push_to, "--run-cache"]):
        annotate("error", "DVC push", f"dvc push to {choice.push_to!r} failed")
        return 1
    annotate("notice", "DVC push", f"pushed data, outputs and run-cache to {choice.push_to!r}")
    return 0


def results_paths() -> list[Path]:
    """What a training run changes in git: the lock, pointer files, metrics, plots, reports.

    Every output ``dvc.yaml`` keeps out of the DVC cache (``cache: false``: git holds it),
    and the champion the gate compared with (``tabpipe champion`` writes it before
    ``dvc repro``): the gate verdict then reads the same in git as in the run.
    """

    paths = [DVC_LOCK, *(Path(p) for p in pointer_files())]
    paths += [
        PATHS.train_metrics,
        PATHS.test_metrics,
        PATHS.slice_metrics,
        PATHS.plots_dir,
        PATHS.validation_report,
        PATHS.validation_summary,
        PATHS.parity_report,
        PATHS.reference_profile,
        CHAMPION_FILE,
        PATHS.gate_verdict,
        PATHS.gate_summary,
    ]
    return [p for p in paths if p.exists()]


def collect(out_dir: Path, paths: Sequence[Path] | None = None, root: Path = Path()) -> int:
    """Copy the results (paths under ``root``) into ``out_dir`` with a manifest."""
    chosen = list(paths) if paths is not None else results_paths()
    relative = [p.relative_to(root) if p.is_absolute() else p for p in chosen]
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    for path in relative:
        source, target = root / path, out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    (out_dir / RESULTS_MANIFEST).write_text(
        "".join(f"{p.as_posix()}\n" for p in relative), encoding="utf-8"
    )
    print(f"collected {len(relative)} path(s) into {out_dir}", flush=True)
    return 0


def _safe_entry(entry: str) -> bool:
    parts = Path(entry).parts
    return (
        bool(parts) and not Path(entry).is_absolute() and ".." not in parts and parts[0] != ".git"
    )


def unrecorded(paths: Sequence[Path] | None = None) -> list[str]:
    """Results this run produced that the checked-out commit does not hold (git status)."""
    chosen = [p.as_posix() for p in (paths if paths is not None else results_paths())]
    if not chosen:
        return []
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", *chosen],
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted(
        {line[3:].strip().strip('"') for line in done.stdout.splitlines() if line.strip()}
    )


def fix_command(changed: Sequence[str]) -> str:
    """The one line that records this run's results on the branch."""
    tops = sorted({c.split("/")[0] for c in changed})
    return (
        f"make run && git add {' '.join(tops)} && "
        'git commit -m "Record dvc.lock and results" && git push'
    )


def check_lock(env: Mapping[str, str] = os.environ) -> int:
    """Does the checked-out commit record what ``make run`` produced here?

    The merge commit must carry the model it releases (``dvc.lock`` and the results), so a
    pull request whose committed results differ from this run's fails with the one-line fix.
    Elsewhere (``main``: a push, a schedule, a dispatch) nothing is refused: the step output
    ``changed=true`` lets the propose job open a pull request with the new results.
    """
    trigger = Trigger.from_env(env)
    changed = unrecorded()
    set_output("changed", "true" if changed else "false", env)
    if not changed:
        annotate("notice", "Lock check", "the commit records exactly what this run produced")
        return 0
    listed = ", ".join(changed[:12]) + (
        f" and {len(changed) - 12} more" if len(changed) > 12 else ""
    )
    if trigger.is_pull_request:
        fix = fix_command(changed)
        annotate(
            "error",
            "dvc.lock is not up to date",
            f"this run produced other results than the pull request commits ({listed}). "
            f"Merge main into the branch, then: {fix} (or commit the files of this run's "
            "pipeline-results artifact)",
        )
        append_summary(
            "> [!CAUTION]\n> `dvc.lock` and the results in this pull request are not what the "
            f"pipeline produces from it ({listed}). The merge commit must record the model it "
            f"releases. Fix:\n>\n> ```\n> {fix}\n> ```",
            env,
        )
        return 1
    annotate(
        "warning",
        "New results",
        f"this run produced results the commit does not record ({listed}): the propose job "
        "opens a pull request with them; nothing is pushed to the branch",
    )
    return 0


RETRAIN_BRANCH_PREFIX = "tabpipe/retrain-"
PULL_REQUEST_TITLE = "Record retrained results ({why})"


def _digest(results: Path, entries: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for entry in sorted(entries):
        for file in sorted(
            p for p in [results / entry, *(results / entry).rglob("*")] if p.is_file()
        ):
            digest.update(file.relative_to(results).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def _copy_results(results: Path, entries: Sequence[str]) -> None:
    for entry in entries:
        source, target = results / entry, Path(entry)
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def propose(results: Path, env: Mapping[str, str] = os.environ) -> int:
    """Open a pull request that records a retrain's results; never push to the base branch.

    The results (collected by the training job) are committed on a new branch named after
    their content, ``tabpipe/retrain-<digest>``, pushed, and proposed against the branch the
    run started from. The same results proposed twice find the open pull request and stop.

    The token decides whether the pull request's checks start: GitHub starts no workflow
    for a push or a pull request made with the workflow's own ``GITHUB_TOKEN``. The
    workflow passes ``PR_TOKEN_KIND=github-token`` then, and this says how to fix it.
    """
    trigger = Trigger.from_env(env)
    if trigger.is_pull_request:
        annotate("notice", "Propose", "pull requests are never committed to by the workflow")
        return 0
    manifest = results / RESULTS_MANIFEST
    if not manifest.is_file():
        annotate("error", "Propose", f"{manifest} not found: the training job collected nothing")
        return 1
    entries = [e for e in manifest.read_text(encoding="utf-8").split() if _safe_entry(e)]
    if not entries:
        annotate("error", "Propose", f"{manifest} lists nothing inside the work tree")
        return 1
    base = env.get("GITHUB_REF_NAME") or _output(["git", "branch", "--show-current"]).strip()
    if not base:
        annotate("error", "Propose", "not on a branch: no base for the pull request")
        return 1
    branch = f"{RETRAIN_BRANCH_PREFIX}{_digest(results, entries)}"
    try:
        github = GitHub.from_env(env)
        owner = github.repository.split("/")[0]
        open_prs = list(github.pages(f"/pulls?state=open&base={base}&head={owner}:{branch}"))
    except GitHubAPIError as exc:
        annotate("error", "Propose", f"cannot reach GitHub: {exc}")
        return 1
    if open_prs:
        annotate("notice", "Propose", f"already proposed: {open_prs[0].get('html_url')}")
        return 0
    _copy_results(results, entries)
    sha = env.get("GITHUB_SHA") or _output(["git", "rev-parse", "HEAD"]).strip()
    why = trigger.describe()
    bot = {
        "GIT_AUTHOR_NAME": BOT_NAME,
        "GIT_AUTHOR_EMAIL": BOT_EMAIL,
        "GIT_COMMITTER_NAME": BOT_NAME,
        "GIT_COMMITTER_EMAIL": BOT_EMAIL,
    }
    message = (
        f"Record retrained results of {sha[:12]} ({why})\n\n"
        "dvc.lock, metrics, plots and reports as `dvc repro` produced them in the\n"
        "continuous-training workflow. Merging this pull request releases the model."
    )
    steps = [
        ["git", "checkout", "--quiet", "-B", branch],
        ["git", "add", "--all", "--", *entries],
        ["git", "commit", "--quiet", "-m", message],
    ]
    for step in steps:
        if not _run(step, env={**os.environ, **bot}):
            annotate("error", "Propose", f"{' '.join(step[:2])} failed")
            return 1
    if not _run(
        ["git", "push", "origin", f"HEAD:refs/heads/{branch}"],
        env=git_auth_env({**os.environ, **env}),
    ):
        annotate(
            "error",
            "Propose",
            f"pushing {branch} was refused: the results are in this run's artifact",
        )
        return 1
    body = (
        f"The continuous-training run for {why} on `{base}` ({sha[:12]}) produced new results.\n\n"
        "Its checks reproduce the pipeline from this branch; once they pass and someone "
        "merges, the deploy workflow rebuilds and releases the model that this "
        "`dvc.lock` records. Nothing was pushed to the base branch."
    )
    try:
        created = github.call(
            "POST",
            "/pulls",
            {
                "title": PULL_REQUEST_TITLE.format(why=why)[:250],
                "head": branch,
                "base": base,
                "body": body,
            },
        )
    except GitHubAPIError as exc:
        annotate("error", "Propose", f"{branch} is pushed but no pull request was opened: {exc}")
        return 1
    url = (created or {}).get("html_url", "")
    annotate("notice", "Propose", f"opened {url} from {branch}")
    opener = ACTIONS_BOT if env.get("PR_TOKEN_KIND") == "github-token" else "RETRAIN_PR_TOKEN"
    summary = [f"### Retrained results proposed\n\n{url} (`{branch}`, opened as {opener})"]
    if env.get("PR_TOKEN_KIND") == "github-token":
        note = (
            "the pull request was opened with the workflow's GITHUB_TOKEN, so GitHub starts "
            "no workflow for it and its required checks will not run: close and reopen it "
            "(or push to it) to start them, or store a GitHub App installation token or "
            "fine-grained token as the RETRAIN_PR_TOKEN secret of the dvc-write environment "
            "(docs/github-setup.md)"
        )
        annotate("warning", "Checks will not start", note)
        summary.append(f"> [!WARNING]\n> {note[0].upper()}{note[1:]}.")
    append_summary("\n\n".join(summary), env)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.ci.workflow", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pull_parser = commands.add_parser(
        "pull", help="pull data (strict), then outputs and run-cache (best effort)"
    )
    pull_parser.add_argument(
        "--data-only",
        action="store_true",
        help="the tracked data alone: no outputs, no run-cache (a deploy rebuilds everything)",
    )
    push_parser = commands.add_parser(
        "push", help="push data, outputs and run-cache when credentials are set"
    )
    push_parser.add_argument(
        "--results", type=Path, default=None, help="the collected results whose lock to push"
    )
    collect_parser = commands.add_parser(
        "collect",
        help="copy dvc.lock and the results into one folder (the pipeline-results artifact)",
    )
    collect_parser.add_argument("out_dir", type=Path)
    commands.add_parser(
        "check-lock", help="does the commit record this run's dvc.lock and results?"
    )
    propose_parser = commands.add_parser(
        "propose", help="open a pull request with the collected results (never push to main)"
    )
    propose_parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pull":
        return pull(data_only=args.data_only)
    if args.command == "push":
        return push(results=args.results)
    if args.command == "collect":
        return collect(args.out_dir)
    if args.command == "check-lock":
        return check_lock()
    return propose(args.results)


if __name__ == "__main__":
    sys.exit(main())
