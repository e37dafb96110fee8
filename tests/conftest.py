"""Shared fixtures: the repository root, its params, and the bundled raw data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tabpipe.config import Params, load_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    """The bundled raw data (run `make data` or `dvc pull data.dvc` first)."""
    path = ROOT / "data" / "credit.csv"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make data` (dvc pull data.dvc) before the tests")
    return pd.read_csv(path)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credit: pd.DataFrame) -> Path:
    """A scratch project directory (cwd) with params, contract and raw data copied in."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "contracts").mkdir()
    shutil.copy(ROOT / "contracts" / "data.yaml", tmp_path / "contracts" / "data.yaml")
    (tmp_path / "data").mkdir()
    credit.to_csv(tmp_path / "data" / "credit.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
