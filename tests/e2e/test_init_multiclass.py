"""`tabpipe init` on Palmer penguins (raw export): multiclass, awkward column names, exclusions."""

import importlib.resources
import shutil

import pytest

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = pytest.mark.e2e


def test_penguins_become_a_multiclass_project(tmp_path, environment):
    data = tmp_path / "penguins-raw.csv"
    shutil.copy(importlib.resources.files("palmerpenguins") / "data" / "penguins-raw.csv", data)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(
        clone,
        data,
        "penguin_species",
        "multiclass",
        "--target",
        "Species",
        "--exclude",
        "Individual ID",
        "--exclude",
        "Date Egg",
        "--name",
        "Penguin Species",
    )
    assert "task: multiclass, inferred" in output
    assert "Culmen Length (mm)" in (clone / "params.yaml").read_text()
