"""``tabpipe template-update``: merge the template's later fixes into your project.

Your project keeps the template's machinery (``src/tabpipe``, the tests, the workflows) as
the template has it, and ``init`` changed only your files (data, contract, params, your
project package, pyproject's metadata). So a later template commit merges like any other
branch:

1. the template becomes a remote (``--url`` the first time; it is remembered as ``template``);
2. its branch is fetched;
3. if your history and the template's share no commit — a repository made with GitHub's
   "Use this template" starts from one squashed commit — the template commit your first
   commit was copied from (the one with the same tree) is recorded as merged, without
   changing a file (``git merge -s ours``), so git knows what you already have;
4. ``git merge template/<branch>``: only what changed in the template since then comes in.

A conflict stops the merge where git stops it and names the files; nothing is committed.
Only the standard library and git are used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tabpipe.core import git

REMOTE = "template"


class UpdateError(Exception):
    """The update cannot start or stopped; the message says what to do."""


def say(message: str) -> None:
    print(f"[template-update] {message}", flush=True)


def _git(*args: str, repo: Path) -> str:
    try:
        return git.out(*args, repo=repo).strip()
    except git.GitError as exc:
        raise UpdateError(str(exc)) from exc


def ensure_remote(repo: Path, url: str | None) -> None:
    current = git.maybe("remote", "get-url", REMOTE, repo=repo)
    if current is None:
        if not url:
            raise UpdateError(
                f"no git remote {REMOTE!r} yet: pass --url with the template's repository "
                "(for example https://github.com/OWNER/tabpipe.git or a local path)"
            )
        _git("remote", "add", REMOTE, url, repo=repo)
        say(f"added the remote {REMOTE} -> {url}")
    elif url and url != current:
        _git("remote", "set-url", REMOTE, url, repo=repo)
        say(f"remote {REMOTE}: {current} -> {url}")


def starting_commit(repo: Path, upstream: str) -> str | None:
    """The template commit whose tree your first commit copies (Use this template), if any."""
    roots = _git("rev-list", "--max-parents=0", "HEAD", repo=repo).split()
    trees = {_git("rev-parse", f"{root}^{{tree}}", repo=repo) for root in roots}
    for line in _git("log", "--format=%H %T", upstream, repo=repo).splitlines():
        commit, _, tree = line.partition(" ")
        if tree in trees:
            return commit
    return None


def update(repo: Path, url: str | None, branch: str) -> int:
    if git.maybe("rev-parse", "--is-inside-work-tree", repo=repo) != "true":
        raise UpdateError(f"{repo} is not a git working tree")
    if _git("status", "--porcelain", "--untracked-files=no", repo=repo):
        raise UpdateError("you have uncommitted changes: commit or stash them first")
    ensure_remote(repo, url)
    _git("fetch", "--quiet", "--no-tags", REMOTE, branch, repo=repo)
    upstream = f"{REMOTE}/{branch}"
    if git.maybe("merge-base", "HEAD", upstream, repo=repo) is None:
        start = starting_commit(repo, upstream)
        if start is None:
            raise UpdateError(
                f"your history shares no commit with {upstream}, and none of its commits has "
                "the tree of your first commit: merge it by hand "
                f"(git merge --allow-unrelated-histories {upstream}) and resolve each file"
            )
        _git(
            "merge", "--quiet", "-s", "ours", "--allow-unrelated-histories", "-m",
            f"Record the template commit this project started from ({start[:12]})",
            start, repo=repo,
        )  # fmt: skip
        say(f"your first commit is the template's {start[:12]}: recorded as merged")
    before = _git("rev-parse", "HEAD", repo=repo)
    merged = git.run("merge", "--no-edit", upstream, repo=repo)
    if merged.returncode != 0:
        conflicts = _git("diff", "--name-only", "--diff-filter=U", repo=repo).split()
        if not conflicts:
            raise UpdateError(f"git merge {upstream}: {merged.stderr.strip() or merged.stdout}")
        listed = "\n".join(f"  - {name}" for name in conflicts)
        raise UpdateError(
            f"the template's changes conflict with yours in:\n{listed}\n"
            "resolve each file, then `git add` them and `git commit`; or undo with "
            "`git merge --abort`"
        )
    after = _git("rev-parse", "HEAD", repo=repo)
    if before == after:
        say(f"already up to date with {upstream}")
        return 0
    changed = _git("diff", "--stat", before, after, repo=repo).splitlines()
    say(f"merged {upstream}: {changed[-1].strip() if changed else 'no file changed'}")
    say("next: make test, then push")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe template-update",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help=f"the template's repository (needed once, for {REMOTE!r})")
    parser.add_argument("--branch", default="main", help="the template's branch (default: main)")
    parser.add_argument("--repo", type=Path, default=Path("."), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return update(args.repo, args.url, args.branch)
    except UpdateError as exc:
        print(f"[template-update] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
