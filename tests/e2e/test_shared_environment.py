"""The environment the end-to-end tests share: each clone still runs its own code."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from tests.support.workspace import UV, fresh_clone, make, remove_environment_copies, sh

pytestmark = pytest.mark.e2e

WHERE = "import {package}, tabpipe; print(tabpipe.__file__); print({package}.__file__)"


def imported_from(clone: Path) -> list[str]:
    package = yaml.safe_load((clone / "params.yaml").read_text())["project"]["package"]
    python = str(clone / ".venv" / "bin" / "python")
    return sh([python, "-c", WHERE.format(package=package)], clone).stdout.split()


def test_a_clone_imports_its_own_sources_and_a_sync_there_leaves_the_others_alone(
    tmp_path: Path, environment: Path
) -> None:
    clone = fresh_clone(tmp_path / "clone", environment)
    tabpipe, package = imported_from(clone)
    assert Path(tabpipe).is_relative_to(clone / "src") and Path(package).is_relative_to(clone)
    script = (clone / ".venv" / "bin" / "tabpipe").read_text().splitlines()[0]
    assert script == f"#!{clone / '.venv' / 'bin' / 'python'}"
    assert "installing the locked environment" not in make("setup", clone).stdout

    # uv replaces files rather than editing them: a reinstall in one clone (tabpipe init
    # renames the package and syncs) changes nothing the template or other clones see.
    project = tomllib.loads((clone / "pyproject.toml").read_text())["project"]["name"]
    sh([str(UV), "sync", "--locked", "--reinstall-package", project, "--quiet"], clone)
    assert Path(imported_from(clone)[0]).is_relative_to(clone / "src")
    tabpipe, _ = imported_from(environment)
    assert Path(tabpipe).is_relative_to(environment / "src")


def test_a_clones_environment_copy_is_deleted_when_its_tests_are_done(
    tmp_path: Path, environment: Path
) -> None:
    remove_environment_copies()  # earlier tests' copies, so the count below is this test's
    clone = fresh_clone(tmp_path / "clone", environment)
    python = environment / ".venv" / "bin" / "python"
    site = "python*/site-packages/yaml/__init__.py"
    shared = next((environment / ".venv" / "lib").glob(site))
    copied = next((clone / ".venv" / "lib").glob(site))
    # The same file, not a copy of it (link counts would race: the other worker's clones
    # link and unlink the same files meanwhile).
    assert copied.stat().st_ino == shared.stat().st_ino
    assert remove_environment_copies() == 1
    assert not (clone / ".venv").exists() and (clone / "params.yaml").exists()
    assert shared.is_file()
    sh([str(python), "-c", "import yaml"], clone)  # the environment itself still works
    assert remove_environment_copies() == 0
