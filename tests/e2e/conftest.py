"""The onboarding datasets beyond the two `make test` runs: `make test-onboarding` only.

Each onboards a dataset into a fresh clone and runs that project's whole `make test` there,
minutes apiece, so `make test` leaves them out (pytest reports them as deselected). They
run under TABPIPE_TEST_ONBOARDED=all (`make test-onboarding`) or when named on the command
line. Breast cancer (test_init_binary.py) is one of them: in `make test` the same table is
onboarded and checked by tests/onboarding/test_update.py, which also reruns that project's
pipeline after merging a template fix into it (and its `make test-fast` under
`make test-onboarding`).

Every end-to-end and onboarding test shares one installed environment per session
(``environment`` in tests/conftest.py): `make setup` runs once, each clone gets a
hard-linked copy of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
