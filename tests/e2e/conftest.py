"""The onboarding datasets beyond the three `make test` runs: `make test-onboarding` only.

Each onboards a dataset into a fresh clone and runs that project's whole `make test` there,
minutes apiece, so `make test` leaves them out (pytest reports them as deselected). They
run under TABPIPE_TEST_ONBOARDED=all (`make test-onboarding`) or when named on the command
line.

Every end-to-end and onboarding test shares one installed environment per session
(``environment``): `make setup` runs once, each clone gets a hard-linked copy of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.workspace import session_environment


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "onboarding: one more onboarding dataset (make test-onboarding); slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    if os.environ.get("TABPIPE_TEST_ONBOARDED") == "all" or "onboarding" in (
        config.option.markexpr or ""
    ):
        return
    dropped = [
        item
        for item in items
        if item.get_closest_marker("onboarding") is not None and Path(item.fspath) not in named
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone whose `make setup` ran once; pass it to ``fresh_clone`` to share its .venv."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one folder for all workers of this run
    return session_environment(base)
