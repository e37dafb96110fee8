"""Running the project's own commands in scratch copies of the repository, as a user would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


UV = ROOT / ".tools" / "bin" / "uv"


def sh(
    args: list[str], cwd: Path, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run a command with no stdin; on failure, show everything it printed.

    ``UV`` names this checkout's uv, as make passes it, so a clone need not install its own.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    if UV.exists():
        env.setdefault("UV", str(UV))
    done = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def make(target: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`make TARGET` with this checkout's uv, so a clone skips re-installing uv."""
    args = ["make", target] + ([f"UV={UV}"] if UV.exists() else [])
    return sh(args, cwd, check)


def stages_run(output: str) -> list[str]:
    """The DVC stages that actually ran, in order, from `dvc repro` output."""
    return re.findall(r"Running stage '([a-z_]+)'", output)


def bundled_remote_has_the_data(root: Path = ROOT) -> bool:
    digest = yaml.safe_load((root / "data.dvc").read_text())["outs"][0]["md5"]
    return (root / ".dvc" / "storage" / "files" / "md5" / digest[:2] / digest[2:]).exists()


def fresh_clone(target: Path) -> Path:
    """A new git repository holding exactly the files git would give a new user.

    The working tree's tracked and untracked-but-not-ignored files are copied, so
    uncommitted changes are tested too; outputs, caches and environments are not.
    """
    listed = sh(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], ROOT)
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    sh(["git", "init", "-q", "-b", "main"], target)
    sh(["git", "add", "-A"], target)
    sh(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "fresh",
        ],
        target,
    )
    if not bundled_remote_has_the_data():
        # An onboarded project may keep its data only in the DVC cache (no --bundle-data):
        # stand in for the team's remote with this checkout's cache, in the clone's local
        # (uncommitted) config, so the clone still starts without the data.
        cache = str(ROOT / ".dvc" / "cache")
        sh(["dvc", "remote", "add", "--local", "-d", "teamcache", cache], target)
    return target


def onboard(clone: Path, data: Path, *init_args: str) -> subprocess.CompletedProcess[str]:
    """Install the clone's environment and run `tabpipe init DATA ...` in it."""
    make("setup", clone)
    return sh(
        [str(clone / ".venv" / "bin" / "tabpipe"), "init", str(data), *init_args],
        clone,
        check=False,
    )
