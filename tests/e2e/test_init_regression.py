"""`tabpipe init` on the cars data (vega_datasets): regression, unicode names, missing targets."""

import importlib.resources

import pandas as pd
import pytest

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = pytest.mark.e2e


def test_cars_become_a_regression_project(tmp_path, environment):
    cars = pd.read_json(importlib.resources.files("vega_datasets") / "_data" / "cars.json")
    cars = cars.rename(columns={"Origin": "Région d'origine", "Weight_in_lbs": "Poids (lbs)"})
    assert cars["Miles_per_Gallon"].isna().sum() > 0, "the data has rows with no target"
    data = tmp_path / "cars.csv"
    cars.to_csv(data, index=False)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(
        clone,
        data,
        "fuel_economy",
        "regression",
        "--target",
        "Miles_per_Gallon",
        "--exclude",
        "Name",
        "--exclude",
        "Year",
        "--drop-missing-target",
        "--name",
        "fuel-economy",
    )
    assert "task: regression, inferred" in output
    assert "Région d'origine" in (clone / "params.yaml").read_text()
