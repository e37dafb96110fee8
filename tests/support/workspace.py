"""Running the project's own commands in scratch copies of the repository, as a user would."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.support.gitrepos import IDENTITY_ARGS

ROOT = Path(__file__).resolve().parents[2]


# The uv `make` exports (absolute), else this checkout's: a project onboarded in a test
# shares the session's environment and has no .tools/ of its own.
UV = Path(os.environ.get("UV") or ROOT / ".tools" / "bin" / "uv")
VENV = ".venv"
SYNCED = Path(VENV) / ".synced"  # the Makefile's marker: the environment matches the lock


def sh(
    args: list[str], cwd: Path, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run a command with no stdin; on failure, show everything it printed.

    ``UV`` names this checkout's uv, as make passes it, so a clone need not install its own.
    A clone's own environment comes first on ``PATH`` once it has one, so ``dvc`` and the
    ``python`` of its stages run the clone's code, as `make` there would.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    if UV.exists():
        env["UV"] = str(UV)  # make exports its own UV, which may be relative to the checkout
    own_bin = cwd / VENV / "bin"
    if own_bin.is_dir():
        env["PATH"] = os.pathsep.join([str(own_bin), env.get("PATH", "")])
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


def fresh_clone(target: Path, environment: Path | None = None) -> Path:
    """A new git repository holding exactly the files git would give a new user.

    The working tree's tracked and untracked-but-not-ignored files are copied, so
    uncommitted changes are tested too; outputs, caches and environments are not. With
    ``environment`` (see :func:`session_environment`) the clone gets a copy of that
    environment instead of installing its own: `make setup` there is then a no-op.
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
        ["git", *IDENTITY_ARGS, "commit", "-qm", "fresh"],
        target,
    )
    if not bundled_remote_has_the_data():
        # An onboarded project may keep its data only in the DVC cache (no --bundle-data):
        # stand in for the team's remote with this checkout's cache, in the clone's local
        # (uncommitted) config, so the clone still starts without the data.
        cache = str(ROOT / ".dvc" / "cache")
        sh(["dvc", "remote", "add", "--local", "-d", "teamcache", cache], target)
    if environment is not None:
        share_environment(environment, target)
    return target


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if absent), across processes (xdist workers)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def session_environment(base: Path, root: Path = ROOT) -> Path:
    """A checkout whose ``.venv`` every clone of this test session copies (hard links).

    Every end-to-end and onboarding test would otherwise install the same ~200 locked
    packages into each clone it makes (and compile their bytecode). The checkout running
    the tests is used when `make setup` would leave its environment as it is (its marker is
    newer than pyproject.toml and uv.lock: `make test` syncs it first) and it sits on the
    same file system as ``base``. Otherwise the first caller (any xdist worker) runs `make
    setup` once in a fresh clone under ``base`` while holding a lock, and later callers get
    that clone. It is built in a scratch folder and renamed into place, so a failed build is
    never mistaken for a finished one.
    """
    if _synced(root) and os.stat(root).st_dev == os.stat(base).st_dev:
        return root
    template = base / "environment"
    with _locked(base / "environment.lock"):
        if not (template / SYNCED).exists():
            scratch = base / "environment-building"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            make("setup", fresh_clone(scratch))
            # The editable install and the scripts name the folder they were made in.
            os.rename(scratch, template)
            _retarget(template / VENV, str(scratch), str(template))
    return template


def _synced(root: Path) -> bool:
    """Whether `make setup` in ``root`` would do nothing (its Makefile's rule)."""
    marker = root / SYNCED
    if not marker.is_file():
        return False
    newest_input = max((root / name).stat().st_mtime for name in ("pyproject.toml", "uv.lock"))
    return marker.stat().st_mtime >= newest_input


# The environment copies made by share_environment, until remove_environment_copies.
_COPIES: list[Path] = []


def remove_environment_copies() -> int:
    """Delete the environment copies made since the last call; how many there were.

    A copy is about 54,000 hard links. pytest keeps the temporary folders of the last three
    sessions and deletes older ones as a session ends, in the controller alone after the
    tests: with the 9 copies of a `make test` that was 482,000 of the 508,000 entries of a
    session's folder, 50-60 s of both CPUs idle while the disk caught up (measured on the
    2-core host, 2026-12-03). Deleted as soon as their tests are done, while the entries are
    still in the page cache, a copy takes about 1.3 s (10 s once they have left it), and the
    workers do it between tests. The rest of the clone (its git history, DVC cache and
    outputs) stays for the post-mortem of a failed test.
    """
    removed = 0
    while _COPIES:
        shutil.rmtree(_COPIES.pop(), ignore_errors=True)
        removed += 1
    return removed


def share_environment(template: Path, clone: Path) -> None:
    """Give ``clone`` its own ``.venv``: a hard-linked copy of ``template``'s.

    The installed packages (and their compiled bytecode) are shared file by file; uv itself
    installs them as hard links to its cache and replaces files rather than editing them,
    so a later `uv sync` in the clone (``tabpipe init`` renames the package) leaves the
    template alone. What names the template's folder is written afresh for the clone: the
    editable install's ``.pth`` (so the clone imports its own ``src/``), the scripts'
    interpreter lines and the activation scripts. The Makefile's ``.synced`` marker is the
    clone's own file, newer than its pyproject.toml and uv.lock.
    """
    target = clone / VENV
    if target.exists():
        raise FileExistsError(f"{target} exists: the clone already has an environment")
    subprocess.run(["cp", "-al", str(template / VENV), str(target)], check=True)
    _COPIES.append(target)
    _retarget(target, str(template), str(clone))
    (clone / SYNCED).unlink()
    (clone / SYNCED).touch()


def _retarget(venv: Path, old: str, new: str) -> None:
    """Rewrite the environment's files that name ``old`` to name ``new``, as new files.

    Unlinking before writing keeps a hard-linked original intact.
    """
    site = next((venv / "lib").glob("python*/site-packages"))
    candidates = [
        *(venv / "bin").iterdir(),
        venv / "pyvenv.cfg",
        *site.glob("*.pth"),
        *site.glob("*.dist-info/direct_url.json"),
    ]
    before, after = old.encode(), new.encode()
    for path in candidates:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1024**2:
            continue  # binaries (ruff, act, ...) name no folder
        data = path.read_bytes()
        if before not in data:
            continue
        mode = path.stat().st_mode
        path.unlink()
        path.write_bytes(data.replace(before, after))
        path.chmod(mode)


def onboard(clone: Path, data: Path, *init_args: str) -> subprocess.CompletedProcess[str]:
    """Install the clone's environment (a no-op if it has one) and run `tabpipe init DATA`."""
    make("setup", clone)
    return sh(
        [str(clone / ".venv" / "bin" / "tabpipe"), "init", str(data), *init_args],
        clone,
        check=False,
    )


def skip_if_the_gate_refused(why: str, root: Path = ROOT) -> None:
    """Skip, naming the missing property, when the gate refused this project's model.

    ``tabpipe init`` on a table whose features barely predict the target leaves a project
    whose first model the gate refused (reports/gate.json: not blessed): `make run` stops at
    the gate by design and the model has no performance to lose. The template's own model
    is blessed, so on the bundled data nothing is skipped.
    """
    import json

    import pytest

    verdict_file = root / "reports" / "gate.json"
    try:
        verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(verdict, dict) and verdict.get("blessed") is False:
        pytest.skip(
            f"not applicable: the gate refused this project's model ({verdict.get('reason')}), "
            f"so {why}"
        )
