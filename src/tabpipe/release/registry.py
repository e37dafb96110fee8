"""The model registry, kept in git by GTO: versions are tags, stages are tags.

``model@v1.2.0`` registers version v1.2.0 of the artifact ``model`` (declared under
``artifacts:`` in ``dvc.yaml``) at a commit; ``model#prod#N`` assigns that version to
``prod``. The champion is whatever ``prod`` points to, and its metrics are the files
``metrics/test.json`` and ``metrics/slices.json`` at the registered commit, so a fresh clone
(or CI, after fetching the tags) finds it from git alone.

``tabpipe registry show``                        versions, and what is in prod
``tabpipe registry register [--version vX.Y.Z]`` register HEAD (refuses an existing version)
``tabpipe registry promote vX.Y.Z``              assign prod to a registered version
``tabpipe registry rollback [--to vX.Y.Z]``      prod back to the version it had before
``tabpipe registry fetch``                       fetch the registry tags from origin

Add ``--push`` to publish the new tags to ``origin`` (atomically). GTO orders stage
assignments by tag time, to the second; an assignment therefore waits for a new second
after the last one, and is checked to have taken effect before it is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tabpipe.ci.actions import git_auth_env
from tabpipe.core import git

ARTIFACT = "model"
PROD = "prod"
FIRST_VERSION = "v1.0.0"
VERSION_PATTERN = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
Bump = Literal["major", "minor", "patch"]


class RegistryError(Exception):
    """A registry operation was refused; the message says why and what to do."""


class AlreadyRegistered(RegistryError):
    """The commit already carries a version (registering it again would be a duplicate)."""

    def __init__(self, version: Version) -> None:
        super().__init__(
            f"commit {version.commit[:12]} is already registered as {ARTIFACT}@{version.version}"
        )
        self.version = version


@dataclass(frozen=True)
class Version:
    version: str
    commit: str
    created_at: datetime | None = None

    @property
    def tag(self) -> str:
        return f"{ARTIFACT}@{self.version}"


@dataclass(frozen=True)
class Assignment:
    version: str
    commit: str
    tag: str
    created_at: datetime


def _gto() -> Any:
    from gto import api  # GTO (and its git backends) loads in ~1 s: only when needed

    return api


NETWORK_TIMEOUT_S = 120


def _git(
    repo: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> str:
    try:
        return git.out(*args, repo=repo, env=env, timeout=timeout)
    except git.GitError as exc:
        raise RegistryError(str(exc)) from exc


def parse_version(version: str) -> tuple[int, int, int]:
    match = VERSION_PATTERN.match(version)
    if match is None:
        raise RegistryError(f"{version!r} is not a version like v1.2.3 (SemVer with a leading v)")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def next_version(existing: Sequence[str], bump: Bump = "minor") -> str:
    """The version after the highest existing one (the first is v1.0.0)."""
    if not existing:
        return FIRST_VERSION
    major, minor, patch = max(parse_version(v) for v in existing)
    if bump == "major":
        return f"v{major + 1}.0.0"
    if bump == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def resolve_commit(repo: Path, rev: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except RegistryError as exc:
        raise RegistryError(f"{rev!r} is not a commit in {repo}") from exc


def _tags(repo: Path, pattern: str) -> list[str]:
    """The names of the tags matching ``pattern`` (fnmatch, as ``git for-each-ref``)."""
    return _git(repo, "for-each-ref", "--format=%(refname:strip=2)", f"refs/tags/{pattern}").split()


def version_tags(repo: Path) -> list[str]:
    """Every ``model@...`` tag, including deregistrations (``model@v1.0.0!#2``)."""
    return _tags(repo, f"{ARTIFACT}@*")


def stage_tags(repo: Path, stage: str) -> list[str]:
    """Every GTO tag of ``stage`` (``model#prod#3``, an unassignment ``model#prod!#4``)."""
    return _tags(repo, f"{ARTIFACT}#{stage}*")


def versions(repo: Path) -> list[Version]:
    """Registered versions, oldest (lowest SemVer) first."""
    if not version_tags(repo):  # nothing registered: git alone says so, GTO need not load
        return []
    try:
        found = _gto().show(str(repo), ARTIFACT, registered_only=True)
    except Exception as exc:  # GTO raises ArtifactNotFound when nothing is registered yet
        if type(exc).__name__ == "ArtifactNotFound":
            return []
        raise RegistryError(f"GTO could not read the registry: {exc}") from exc
    out = [
        Version(str(v["version"]), str(v["commit_hexsha"]), v.get("created_at"))
        for v in found
        if VERSION_PATTERN.match(str(v["version"]))
    ]
    return sorted(out, key=lambda v: parse_version(v.version))


def find(repo: Path, version: str) -> Version | None:
    return next((v for v in versions(repo) if v.version == version), None)


def prod(repo: Path) -> Version | None:
    """The version in prod, as ``gto show model#prod`` resolves it (the latest assignment).

    GTO's ``find_versions_in_stage`` orders by SemVer (the highest version ever assigned
    wins), which would make a rollback invisible; ``show`` orders by assignment time.
    Without any tag of the stage (a new project), git alone says so: loading GTO to resolve
    nothing was most of ``tabpipe champion``'s second of start-up before every ``make run``.
    """
    if not stage_tags(repo, PROD):
        return None
    try:
        found = _gto().show(str(repo), f"{ARTIFACT}#{PROD}")
    except Exception as exc:
        if type(exc).__name__ == "ArtifactNotFound":
            return None
        raise RegistryError(f"GTO could not read the registry: {exc}") from exc
    if not found:
        return None
    return Version(
        str(found[0]["version"]), str(found[0]["commit_hexsha"]), found[0].get("created_at")
    )


def prod_history(repo: Path) -> list[Assignment]:
    """Every assignment to prod, oldest first."""
    try:
        events = _gto().history(str(repo), ARTIFACT)
    except Exception as exc:
        if type(exc).__name__ == "ArtifactNotFound":
            return []
        raise RegistryError(f"GTO could not read the registry: {exc}") from exc
    assignments = [
        Assignment(str(e["version"]), str(e["commit"]), str(e["ref"]), e["timestamp"])
        for e in events
        if e["event"] == "assignment" and e["stage"] == PROD
    ]
    return sorted(assignments, key=lambda a: (a.created_at, _counter(a.tag)))


def _counter(tag: str) -> int:
    match = re.search(r"#(\d+)$", tag)
    return int(match.group(1)) if match else 0


def read_at(repo: Path, commit: str, path: str) -> str | None:
    """A file's content at a commit, from git alone (None if the commit does not have it)."""
    return git.show(commit, path, repo)


def register(
    repo: Path,
    rev: str = "HEAD",
    version: str | None = None,
    bump: Bump = "minor",
    message: str | None = None,
    author: tuple[str, str] | None = None,
) -> Version:
    """Tag ``rev`` as a new version. Existing versions are immutable: reusing one is refused.

    ``author`` is the (name, email) the tag records, for machines without a git identity.
    """
    commit = resolve_commit(repo, rev)
    existing = versions(repo)
    same_commit = next((v for v in existing if v.commit == commit), None)
    if same_commit is not None:
        raise AlreadyRegistered(same_commit)
    if version is None:
        version = next_version([v.version for v in existing], bump)
    parse_version(version)
    taken = [
        t
        for t in version_tags(repo)
        if t == f"{ARTIFACT}@{version}" or t.startswith(f"{ARTIFACT}@{version}!")
    ]
    if taken:
        held = next((v for v in existing if v.version == version), None)
        where = f" at commit {held.commit[:12]}" if held else ""
        raise RegistryError(
            f"{ARTIFACT}@{version} already exists{where}: versions are immutable. Register a "
            f"new version (next: {next_version([v.version for v in existing], bump)}) instead"
        )
    try:
        _gto().register(
            str(repo),
            ARTIFACT,
            commit,
            version=version,
            message=message or f"Register {ARTIFACT} {version}",
            **_identity(author),
        )
    except Exception as exc:
        raise RegistryError(f"gto register refused {ARTIFACT}@{version}: {exc}") from exc
    return Version(version, commit)


def _identity(author: tuple[str, str] | None) -> dict[str, str]:
    return {} if author is None else {"author": author[0], "author_email": author[1]}


def _wait_for_a_new_second(after: datetime | None) -> None:
    """GTO orders assignments by tag time in whole seconds: never share the last one's second."""
    if after is None:
        return
    while datetime.now(UTC).replace(microsecond=0) <= after:
        time.sleep(0.2)


def assign_prod(
    repo: Path, version: str, message: str | None = None, author: tuple[str, str] | None = None
) -> str:
    """Assign prod to a registered version; return the new tag (``model#prod#N``)."""
    target = find(repo, version)
    if target is None:
        known = ", ".join(v.version for v in versions(repo)) or "none yet"
        raise RegistryError(f"{ARTIFACT}@{version} is not registered (registered: {known})")
    current = prod(repo)
    if current is not None and current.version == version:
        raise RegistryError(f"{ARTIFACT}@{version} is already in {PROD}")
    history = prod_history(repo)
    _wait_for_a_new_second(history[-1].created_at if history else None)
    before = set(_git(repo, "tag", "--list", f"{ARTIFACT}#{PROD}#*").split())
    try:
        _gto().assign(
            str(repo),
            ARTIFACT,
            PROD,
            version=version,
            message=message or f"Assign {PROD} to {ARTIFACT} {version}",
            force=any(a.version == version for a in history),  # back to an earlier version
            **_identity(author),
        )
    except Exception as exc:
        raise RegistryError(f"gto assign refused {PROD} -> {version}: {exc}") from exc
    created = sorted(set(_git(repo, "tag", "--list", f"{ARTIFACT}#{PROD}#*").split()) - before)
    now = prod(repo)
    if now is None or now.version != version:
        for tag in created:
            _git(repo, "tag", "--delete", tag)
        raise RegistryError(
            f"assigning {PROD} to {version} did not take effect (GTO still resolves "
            f"{now.version if now else 'nothing'}): is this machine's clock behind the last "
            "assignment's? The tag was removed"
        )
    return created[-1] if created else f"{ARTIFACT}#{PROD}"


def rollback_target(repo: Path, to: str | None = None) -> tuple[Version, str]:
    """(current prod, the version to roll back to): ``to``, or the one prod had before."""
    current = prod(repo)
    if current is None:
        raise RegistryError(f"nothing is assigned to {PROD}: there is nothing to roll back")
    if to is not None:
        if to == current.version:
            raise RegistryError(f"{to} is already in {PROD}")
        if find(repo, to) is None:
            raise RegistryError(f"{ARTIFACT}@{to} is not registered")
        return current, to
    for assignment in reversed(prod_history(repo)):
        if assignment.version != current.version and find(repo, assignment.version) is not None:
            return current, assignment.version
    raise RegistryError(
        f"{PROD} has never held a version other than {current.version}; name one with --to"
    )


def rollback(repo: Path, to: str | None = None) -> tuple[str, str, str]:
    """Assign prod back to an earlier version: (from, to, new tag)."""
    current, target = rollback_target(repo, to)
    tag = assign_prod(repo, target, message=f"Roll {PROD} back from {current.version} to {target}")
    return current.version, target, tag


def has_remote(repo: Path, remote: str = "origin") -> bool:
    done = subprocess.run(
        ["git", "remote", "get-url", remote], cwd=repo, capture_output=True, check=False
    )
    return done.returncode == 0


def fetch_tags(repo: Path, remote: str = "origin", env: Mapping[str, str] = os.environ) -> None:
    """Fetch the registry's tags (and the commits they tag, one deep) from ``remote``.

    Never waits for a password or a passphrase (``make run`` must not hang on a remote that
    wants credentials): such a remote fails at once, and so does one that does not answer.
    """
    auth = noninteractive(git_auth_env(env))
    patterns = [f"refs/tags/{ARTIFACT}{sep}*" for sep in ("@", "#")]
    listed = _git(
        repo, "ls-remote", "--tags", remote, *patterns, env=auth, timeout=NETWORK_TIMEOUT_S
    )
    if not listed.strip():
        return  # nothing registered yet (a depth-limited fetch of no refs would fail)
    specs = [f"+{p}:{p}" for p in patterns]
    _git(repo, "fetch", "--quiet", "--depth=1", remote, *specs, env=auth, timeout=NETWORK_TIMEOUT_S)


def noninteractive(env: Mapping[str, str]) -> dict[str, str]:
    out = {**env, "GIT_TERMINAL_PROMPT": "0"}
    out.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return out


def push_tags(
    repo: Path, tags: Sequence[str], remote: str = "origin", env: Mapping[str, str] = os.environ
) -> None:
    """Publish tags all or nothing; a tag that already exists on the remote is refused."""
    if tags:
        refs = [f"refs/tags/{t}" for t in tags]
        auth = noninteractive(git_auth_env(env))
        _git(
            repo, "push", "--atomic", "--quiet", remote, *refs, env=auth, timeout=NETWORK_TIMEOUT_S
        )


def delete_local_tags(repo: Path, tags: Sequence[str]) -> None:
    for tag in tags:
        subprocess.run(["git", "tag", "--delete", tag], cwd=repo, capture_output=True, check=False)


# --- command line ---------------------------------------------------------------------------


def _state(repo: Path) -> dict[str, Any]:
    current = prod(repo)
    return {
        "artifact": ARTIFACT,
        "prod": current.version if current else None,
        "prod_commit": current.commit if current else None,
        "versions": [{"version": v.version, "commit": v.commit} for v in versions(repo)],
        "prod_history": [a.version for a in prod_history(repo)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe registry",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Rollback: `tabpipe registry rollback --push` (or --to vX.Y.Z).",
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="git repository (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="registered versions and what is in prod")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    reg = commands.add_parser("register", help="register a commit as a new version")
    reg.add_argument("--rev", default="HEAD", help="commit to register (default: HEAD)")
    reg.add_argument("--version", help="explicit version vX.Y.Z (default: bump the highest)")
    reg.add_argument("--bump", choices=["major", "minor", "patch"], default="minor")
    reg.add_argument("--push", action="store_true", help="push the new tag to origin")
    promote = commands.add_parser("promote", help="assign prod to a registered version")
    promote.add_argument("version")
    promote.add_argument("--push", action="store_true", help="push the new tag to origin")
    back = commands.add_parser("rollback", help="assign prod to the version it had before")
    back.add_argument("--to", help="roll back to this version instead of the previous one")
    back.add_argument("--push", action="store_true", help="push the new tag to origin")
    commands.add_parser("fetch", help="fetch the registry tags from origin")
    args = parser.parse_args(argv)
    repo: Path = args.repo
    try:
        if args.command == "show":
            state = _state(repo)
            if args.json:
                print(json.dumps(state, indent=2))
            else:
                print(f"{PROD}: {state['prod'] or '(nothing assigned yet)'}")
                for v in state["versions"]:
                    mark = "  <- prod" if v["version"] == state["prod"] else ""
                    print(f"  {ARTIFACT}@{v['version']}  {v['commit'][:12]}{mark}")
            return 0
        if args.command == "fetch":
            fetch_tags(repo)
            print(f"fetched the {ARTIFACT} registry tags from origin")
            return 0
        created: list[str] = []
        if args.command == "register":
            version = register(repo, args.rev, args.version, args.bump)
            created = [version.tag]
            print(f"registered {version.tag} at {version.commit[:12]}")
        elif args.command == "promote":
            created = [assign_prod(repo, args.version)]
            print(f"{PROD} -> {args.version} ({created[0]})")
        else:
            old, new, tag = rollback(repo, args.to)
            created = [tag]
            print(f"rolled {PROD} back: {old} -> {new} ({tag})")
        if args.push:
            try:
                push_tags(repo, created)
            except RegistryError:
                delete_local_tags(repo, created)
                raise
            print(f"pushed {', '.join(created)} to origin")
        else:
            print(f"local only: publish with `git push origin {' '.join(map(repr, created))}`")
        return 0
    except AlreadyRegistered as exc:
        print(f"tabpipe registry: {exc}", file=sys.stderr)
        return 1
    except RegistryError as exc:
        print(f"tabpipe registry: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
