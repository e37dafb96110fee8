"""`tabpipe init` on diamonds (the CSV plotnine ships): 53,940 rows, ordered categories, a
price in the thousands.

Stored as Parquet with cut, colour and clarity as ordered pandas categories (their order as
plotnine and ggplot2 give it), as a user's typed table would hold them.
"""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = [pytest.mark.e2e, pytest.mark.onboarding]

ORDERS = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["D", "E", "F", "G", "H", "I", "J"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def diamonds() -> pd.DataFrame:
    # The data file only: importing plotnine would load matplotlib.
    spec = importlib.util.find_spec("plotnine")
    assert spec is not None and spec.origin is not None, "plotnine (dev dependency) ships the data"
    frame = pd.read_csv(Path(spec.origin).parent / "data" / "diamonds.csv")
    for name, order in ORDERS.items():
        frame[name] = pd.Categorical(frame[name], categories=order, ordered=True)
    return frame


def test_diamonds_become_a_regression_project_with_ordered_categories(tmp_path, environment):
    frame = diamonds()
    assert len(frame) >= 50_000 and frame["price"].median() > 1000
    data = tmp_path / "diamonds.parquet"
    frame.to_parquet(data, index=False)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(clone, data, "diamonds", "regression", "--target", "price")
    assert "'cut': ordered (a category with an order: Fair < Good < Very Good" in output
    contract = yaml.safe_load((clone / "contracts" / "data.yaml").read_text())["columns"]
    for name, order in ORDERS.items():
        assert contract[name]["isin"] == order, "the contract keeps the order"
        assert contract[name]["description"] == "ordered: " + " < ".join(order)
