"""Fixtures for the act rehearsals: a fresh 'GitHub' origin per test, one shared cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.rehearsal.harness import Origin, Rehearsal


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rehearsal: runs the real workflow files under act (host mode); slow"
    )


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in Actions cache, shared by every rehearsal of this pytest run.

    Like the real cache, it carries the DVC cache (and run-cache) from one run to the next,
    so later rehearsals restore unchanged stages instead of retraining.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one folder for all workers of this run
    cache = base / "rehearsal-actions-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin.create(tmp_path)


@pytest.fixture
def rehearsal(tmp_path: Path, shared_cache: Path) -> Rehearsal:
    runs = tmp_path / "runs"
    runs.mkdir()
    return Rehearsal(runs, shared_cache)
