"""tabpipe ingest: a good batch becomes a new DVC version; a bad one changes nothing at all.

Each test works in a scratch git + DVC repository holding the project's params, contract
and raw data, with the in-repository remote ``bundled`` (``.dvc/storage``) as the default,
as in the template.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tabpipe.core import check
from tabpipe.core.io import read_table
from tabpipe.core.paths import INGEST_JOURNAL
from tabpipe.monitoring import ingest, swap
from tabpipe.monitoring.swap import FAULT_ENV
from tests.support.monitoring import write_simulated

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def dvc_on_path(monkeypatch) -> None:
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


def sh(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file outside .git and the DVC cache, with its bytes."""
    skip = (".git", ".dvc/cache", ".dvc/tmp")
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not str(p.relative_to(root)).startswith(skip)
        and not str(p.relative_to(root)).startswith("incoming")
    }


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory, root: Path, params) -> Path:
    """Built once (DVC commands are slow): git + DVC, data added and pushed to the bundled
    remote, everything committed."""
    base = tmp_path_factory.mktemp("ingest") / "repo"
    for relative in (Path("params.yaml"), params.data.contract, params.data.raw):
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / relative, base / relative)
    tracked = params.data.raw.parts[0] if len(params.data.raw.parts) > 1 else str(params.data.raw)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    sh("git", "init", "-q", "-b", "main", cwd=base)
    sh("dvc", "init", "-q", cwd=base)
    sh("dvc", "remote", "add", "-d", "bundled", ".dvc/storage", cwd=base)  # stored as "storage"
    sh("dvc", "add", "-q", tracked, cwd=base)
    sh("dvc", "push", "-q", cwd=base)
    sh("git", "add", "-A", cwd=base)
    sh("git", *identity, "commit", "-qm", "data", cwd=base)
    return base


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path, monkeypatch) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(template_repo, copy, symlinks=True)
    monkeypatch.chdir(copy)
    return copy


def test_a_batch_that_breaks_the_contract_changes_nothing(repo, raw, params, contract, capsys):
    write_simulated(raw, params, contract, repo / "incoming" / "bad.csv", "schema-break", rows=200)
    before = snapshot(repo)
    assert ingest.main(["incoming/bad.csv"]) == 1
    err = capsys.readouterr().err
    assert "REFUSED" in err and "Nothing was changed" in err
    assert f"column '{params.features.numeric[0]}'" in err  # the validation summary
    assert snapshot(repo) == before


def test_an_unlabelled_batch_is_refused(repo, raw, params, contract, capsys):
    write_simulated(raw, params, contract, repo / "incoming" / "u.csv", "clean", labelled=False)
    before = snapshot(repo)
    assert ingest.main(["incoming/u.csv"]) == 1
    assert f"column '{params.data.target}': missing column" in capsys.readouterr().err
    assert snapshot(repo) == before


def test_a_good_batch_is_appended_recorded_pushed_and_committed(
    repo, raw, params, contract, capsys
):
    write_simulated(raw, params, contract, repo / "incoming" / "new.csv", "clean", rows=150)
    table = repo / params.data.raw
    old_bytes, old_pointer = table.read_bytes(), (repo / "data.dvc").read_text()

    assert ingest.main(["incoming/new.csv", "--commit"]) == 0

    out = capsys.readouterr().out
    assert len(read_table(table)) == len(raw) + 150
    if table.suffix == ".csv":
        assert table.read_bytes().startswith(old_bytes), "existing rows are not rewritten"
    new_md5 = yaml.safe_load((repo / "data.dvc").read_text())["outs"][0]["md5"]
    assert (repo / "data.dvc").read_text() != old_pointer
    assert sh("dvc", "status", "--json", "data.dvc", cwd=repo).strip() == "{}"
    digest = new_md5.removesuffix(".dir")
    assert (repo / ".dvc/storage/files/md5" / digest[:2] / f"{digest[2:]}.dir").exists()
    assert "pushed into the in-repository remote" in out
    assert "+150 rows" in sh("git", "log", "-1", "--format=%s", cwd=repo)
    assert sh("git", "status", "--porcelain", "data.dvc", ".dvc/storage", cwd=repo) == ""

    assert ingest.main(["incoming/new.csv"]) == 1, "the same batch twice is refused"
    assert "already in" in capsys.readouterr().err


def test_a_failing_dvc_add_puts_the_data_back(repo, raw, params, contract, tmp_path, monkeypatch):
    write_simulated(raw, params, contract, repo / "incoming" / "new.csv", "clean", rows=100)
    fake = tmp_path / "fakebin"
    fake.mkdir()
    real = BIN / "dvc"
    (fake / "dvc").write_text(f'#!/bin/sh\n[ "$1" = add ] && exit 3\nexec "{real}" "$@"\n')
    (fake / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    before = snapshot(repo)
    assert ingest.main(["incoming/new.csv"]) == 1
    assert snapshot(repo) == before


def test_batches_inside_the_tracked_folder_are_refused(repo, raw, params):
    inside = repo / params.data.raw.parent / "batch.csv"
    raw.head(10).to_csv(inside, index=False)
    with pytest.raises(ingest.Refused, match="inside"):
        ingest.ingest(inside.relative_to(repo), params)


# --- a kill at any step ---------------------------------------------------------------------


def tabpipe(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The CLI in a subprocess of its own session (a kill there never reaches pytest)."""
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tabpipe.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full,
        start_new_session=True,
        timeout=300,
        check=False,
    )


def strays(repo: Path) -> list[str]:
    """What git sees outside ignored folders, besides a changed pointer and the batch itself."""
    listed = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=repo).splitlines()
    return [line for line in listed if line != " M data.dvc" and "incoming/" not in line]


def now_old_or_grown(table: Path, old: bytes, rows: int, added: int) -> bool:
    """The table is byte for byte the old one, or the old rows followed by the ``added`` ones.

    A CSV grows by appending, so its old bytes are a prefix; a Parquet file is rewritten
    whole, so its first ``rows`` rows are compared with the old file's instead.
    """
    now = table.read_bytes()
    if now == old:
        return True
    grown = read_table(table)
    if len(grown) != rows + added:
        return False
    if table.suffix.lower() == ".csv":
        return now.startswith(old)
    previous = pd.read_parquet(io.BytesIO(old))
    # Values, not dtypes: appending text rows to a category column (diamonds' cut) gives text.
    head = grown.head(rows).reset_index(drop=True).astype(object)
    return head.equals(previous.astype(object))


def dvc_clean(repo: Path) -> bool:
    return sh("dvc", "status", "--json", "data.dvc", cwd=repo).strip() in {"", "{}"}


@pytest.mark.parametrize("step", swap.STEPS)
def test_a_kill_at_any_step_leaves_old_or_new_data_and_the_next_run_finishes_or_undoes_it(
    repo, raw, params, contract, step, capsys, monkeypatch
):
    write_simulated(raw, params, contract, repo / "incoming" / "new.csv", "clean", rows=120)
    table, pointer = repo / params.data.raw, repo / "data.dvc"
    old_table, old_pointer = table.read_bytes(), pointer.read_bytes()

    killed = tabpipe("ingest", "incoming/new.csv", "--no-push", cwd=repo, env={FAULT_ENV: step})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    assert strays(repo) == [], "no file outside a git-ignored folder"
    assert now_old_or_grown(table, old_table, len(raw), 120), (
        "the table is the old version or the new one, never torn"
    )
    capsys.readouterr()
    if (repo / INGEST_JOURNAL).exists():
        assert check.main([]) == 1, "make run (tabpipe check) refuses to run on it"
        assert "interrupted" in capsys.readouterr().err
        assert ingest.main(["--status"]) == 1
        said = capsys.readouterr().out
        assert "was interrupted" in said and "--finish" in said and "--undo" in said
        assert ingest.main(["incoming/new.csv", "--no-push"]) == 1, "no new ingest on top"
        assert "was interrupted" in capsys.readouterr().err
    else:  # killed before the journal was written: nothing had changed
        assert table.read_bytes() == old_table and pointer.read_bytes() == old_pointer
        assert check.main([]) == 0

    undone = repo.parent / "undone"
    shutil.copytree(repo, undone, symlinks=True)
    monkeypatch.chdir(undone)
    assert ingest.main(["--undo"]) == 0, capsys.readouterr()
    assert (undone / params.data.raw).read_bytes() == old_table
    assert (undone / "data.dvc").read_bytes() == old_pointer
    assert dvc_clean(undone) and strays(undone) == [] and not (undone / ".tabpipe").exists()

    monkeypatch.chdir(repo)
    assert ingest.main(["--finish"]) == 0, capsys.readouterr()
    assert not (repo / ".tabpipe").exists() and strays(repo) == []
    if step == "staged":
        assert table.read_bytes() == old_table and pointer.read_bytes() == old_pointer
        assert ingest.main(["incoming/new.csv", "--no-push"]) == 0, capsys.readouterr()
    assert len(read_table(table)) == len(raw) + 120
    assert pointer.read_bytes() != old_pointer and dvc_clean(repo) and strays(repo) == []
    assert check.main([]) == 0


def test_ingest_finds_dvc_beside_its_python_when_it_is_not_on_path(repo, raw, params, contract):
    write_simulated(raw, params, contract, repo / "incoming" / "new.csv", "clean", rows=50)
    bare = {"PATH": "/usr/bin:/bin"}  # as `.venv/bin/tabpipe ingest` run without activating
    done = tabpipe("ingest", "incoming/new.csv", "--no-push", cwd=repo, env=bare)
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_dvc_anywhere_ingest_says_so_and_changes_nothing(
    repo, raw, params, contract, capsys, monkeypatch
):
    write_simulated(raw, params, contract, repo / "incoming" / "new.csv", "clean", rows=50)
    before = snapshot(repo)
    monkeypatch.setattr(ingest.shutil, "which", lambda *args, **kwargs: None)
    assert ingest.main(["incoming/new.csv", "--no-push"]) == 1
    err = capsys.readouterr().err
    assert "`dvc` is not installed" in err and "Nothing was changed" in err
    assert "Traceback" not in err
    assert snapshot(repo) == before
