"""`tabpipe init` on Palmer penguins (the tidy export): a binary string target with missing
labels, and the year as integer codes."""

import importlib.resources
import shutil

import pytest

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = [pytest.mark.e2e, pytest.mark.onboarding]


def test_penguins_become_a_binary_project_predicting_sex(tmp_path, environment):
    data = tmp_path / "penguins.csv"
    shutil.copy(importlib.resources.files("palmerpenguins") / "data" / "penguins.csv", data)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(
        clone,
        data,
        "penguin_sex",
        "binary",
        "--target",
        "sex",
        "--drop-missing-target",
        "--name",
        "penguin-sex",
    )
    assert "task: binary, inferred" in output
    assert "'year': codes (integer codes 2007, 2008, 2009" in output
    assert "positive class: 'female'" in output
