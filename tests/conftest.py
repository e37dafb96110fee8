"""Shared fixtures: the repository root, its params and contract, and its raw data.

Tests read the dataset's shape from params.yaml and the contract instead of naming the
bundled dataset's columns, so they keep passing after `tabpipe init` onboards new data.
"""

# ruff: noqa: E402  (threads.configure() must run before the imports below)
from __future__ import annotations

from tabpipe.core import threads

threads.configure()  # before pandas loads numpy: OpenMP/BLAS pools sized, passive waiting

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from tabpipe.core.config import Params, load_params
from tabpipe.core.contract import load_contract
from tabpipe.core.io import read_table
from tests.support.workspace import remove_environment_copies, session_environment

ROOT = Path(__file__).resolve().parents[1]

# A model bundle built once per test session (serving and release tests use it).
pytest_plugins = ["tests.support.bundled"]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def contract(params: Params) -> pa.DataFrameSchema:
    return load_contract(ROOT / params.data.contract)


@pytest.fixture(scope="session")
def raw(params: Params) -> pd.DataFrame:
    """The project's raw data (run `make data` or `dvc pull data.dvc` first)."""
    path = ROOT / params.data.raw
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make data` (dvc pull data.dvc) before the tests")
    return read_table(path)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, params: Params) -> Path:
    """A scratch project directory (cwd) with params, contract and raw data copied in."""
    for relative in (Path("params.yaml"), params.data.contract, params.data.raw):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module", autouse=True)
def _environment_copies_end_with_their_module() -> Iterator[None]:
    """The environment copies a test file's clones got are deleted when the file is done
    (a clone lives at most as long as a module-scoped fixture)."""
    yield
    remove_environment_copies()


@pytest.fixture(scope="session")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout whose `make setup` ran once; pass it to ``fresh_clone`` (or
    ``share_environment``) so that a clone gets a hard-linked copy of its .venv."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one folder for all workers of this run
    return session_environment(base)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the end-to-end files first, so the longest work units start first.

    `make test` spreads whole files over two workers (``--dist loadfile``), handing each
    worker the next file as it finishes one. An end-to-end file is one to four tests that
    take 10 to 60 s apiece; left in collection order (or in xdist's default order, by number
    of tests, which puts one-test files last) one of them starts near the end while the
    other worker has nothing left, and the run waits for it alone. Longest first keeps both
    workers busy to the end. Order within a file is kept (a stable sort of whole files).
    """
    heavy = {item.path for item in items if item.get_closest_marker("e2e") is not None}
    items.sort(key=lambda item: item.path not in heavy)
