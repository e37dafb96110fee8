"""Running git: the one helper every module uses (standard library only).

CI jobs that run before the project is installed import this module too, so it imports
nothing beyond the standard library.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


class GitError(Exception):
    """A git command failed; the message names the command and what git said."""


def run(
    *args: str,
    repo: Path = Path("."),
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``repo``, output captured; raises only when git cannot be run at all."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            env=None if env is None else dict(env),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {' '.join(args)}: no answer within {timeout:g}s") from exc
    except OSError as exc:
        raise GitError(f"git {' '.join(args)}: cannot run git ({exc})") from exc


def out(
    *args: str,
    repo: Path = Path("."),
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """The command's standard output; a failure raises :class:`GitError` with git's words."""
    done = run(*args, repo=repo, env=env, timeout=timeout)
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
        raise GitError(f"git {' '.join(args)}: {said}")
    return done.stdout


def maybe(*args: str, repo: Path = Path(".")) -> str | None:
    """The stripped output, or None when git fails (no git, not a repository, no such rev)."""
    try:
        done = run(*args, repo=repo)
    except GitError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def show(rev: str, path: str | Path, repo: Path = Path(".")) -> str | None:
    """A file's content at a revision, or None if the revision does not have it."""
    try:
        done = run("show", f"{rev}:{Path(path).as_posix()}", repo=repo)
    except GitError:
        return None
    return done.stdout if done.returncode == 0 else None


def head(repo: Path = Path(".")) -> str | None:
    """The commit checked out, or None outside a repository."""
    return maybe("rev-parse", "HEAD", repo=repo)
