"""The environment the end-to-end tests share: each clone still runs its own code."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from tests.support.workspace import UV, fresh_clone, make, sh

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
