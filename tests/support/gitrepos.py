"""Throwaway git repositories for the registry tests: a project with an origin to push to."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
# The same identity as command-line options, for a git run whose environment is set elsewhere.
IDENTITY_ARGS = ("-c", "user.name=Test", "-c", "user.email=test@example.invalid")
DVC_YAML = """artifacts:
  model:
    path: models/model.onnx
    type: model
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **IDENTITY},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {repo}: {done.stderr}")
    return done.stdout.strip()


@dataclass
class Project:
    """A working repository (``path``) whose ``origin`` is a bare repository."""

    path: Path
    origin: Path

    def commit_metrics(self, roc_auc: float, slices: dict | None = None, message: str = "") -> str:
        """Commit metrics files as the pipeline would; return the commit's sha."""
        metrics = self.path / "metrics"
        metrics.mkdir(exist_ok=True)
        (metrics / "test.json").write_text(json.dumps({"roc_auc": roc_auc, "accuracy": 0.8}))
        (metrics / "slices.json").write_text(json.dumps(slices or {}))
        git(self.path, "add", "--all")
        git(self.path, "commit", "--quiet", "-m", message or f"model with roc_auc {roc_auc}")
        return git(self.path, "rev-parse", "HEAD")

    def tags(self) -> list[str]:
        return sorted(git(self.path, "tag", "--list").split())

    def origin_tags(self) -> list[str]:
        return sorted(git(self.origin, "tag", "--list").split())


def make_project(base: Path) -> Project:
    origin, path = base / "origin.git", base / "project"
    git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(base, "init", "--quiet", "--initial-branch=main", str(path))
    (path / "dvc.yaml").write_text(DVC_YAML)
    git(path, "add", "dvc.yaml")
    git(path, "commit", "--quiet", "-m", "project")
    git(path, "remote", "add", "origin", str(origin))
    git(path, "push", "--quiet", "origin", "main")
    return Project(path, origin)


def shallow_clone(project: Project, dest: Path) -> Path:
    """What actions/checkout leaves by default: one commit deep, no tags."""
    git(
        dest.parent,
        "clone",
        "--quiet",
        "--depth=1",
        "--no-tags",
        f"file://{project.origin}",
        str(dest),
    )
    return dest
