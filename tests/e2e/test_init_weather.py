"""`tabpipe init` on Seattle weather (vega_datasets' local file): a string target with five
classes, a date column, and text booleans with missing cells.

The boolean column `freezing` is synthesised from the real table (the day's minimum
temperature at or below 0 °C, blank on every 25th day) and written as True/False text in the
CSV, as exports hold flags.
"""

import importlib.resources

import pandas as pd
import pytest
import yaml

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = [pytest.mark.e2e, pytest.mark.onboarding]


def test_seattle_weather_becomes_a_multiclass_project_with_booleans(tmp_path, environment):
    source = importlib.resources.files("vega_datasets") / "_data" / "seattle-weather.csv"
    frame = pd.read_csv(source)
    frame["freezing"] = (frame["temp_min"] <= 0).astype(object)
    frame.loc[::25, "freezing"] = None
    data = tmp_path / "seattle weather.csv"
    frame.to_csv(data, index=False)
    lines = data.read_text().splitlines()
    assert any(line.endswith(",True") for line in lines), "booleans as text"
    assert any(line.endswith(",") for line in lines), "blank cells"
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(
        clone, data, "seattle_weather", "multiclass", "--target", "weather", "--exclude", "date"
    )
    assert "'freezing': boolean" in output
    contract = yaml.safe_load((clone / "contracts" / "data.yaml").read_text())["columns"]
    assert contract["freezing"]["dtype"] == "boolean" and contract["freezing"]["nullable"]
    assert contract["weather"]["isin"] == ["drizzle", "fog", "rain", "snow", "sun"]
