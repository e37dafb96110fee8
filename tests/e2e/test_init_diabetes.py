"""`tabpipe init` on diabetes (scikit-learn, raw values): regression, integer codes and an
identifier.

Two columns are synthesised in the real table: `patient`, a shuffled unique number per row
(an identifier only its uniqueness gives away), and `high_blood_pressure`, a native boolean
(blood pressure of 100 or more).
"""

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_diabetes

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = [pytest.mark.e2e, pytest.mark.onboarding]


def test_diabetes_becomes_a_regression_project_without_its_identifier(tmp_path, environment):
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].astype(int)  # coded 1/2
    frame.insert(0, "patient", np.random.default_rng(12).permutation(len(frame)) + 20_000)
    frame["high_blood_pressure"] = frame["bp"] >= 100
    data = tmp_path / "diabetes.parquet"
    frame.to_parquet(data, index=False)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(clone, data, "diabetes", "regression", "--target", "target")
    assert "'patient': left out (an identifier: 100% of its integer values are distinct" in output
    assert "'sex': codes (integer codes 1, 2" in output
    params = yaml.safe_load((clone / "params.yaml").read_text())
    assert "patient" not in params["features"]["numeric"] + params["features"]["categorical"]
    assert {"sex", "high_blood_pressure"} <= set(params["features"]["categorical"])
    contract = yaml.safe_load((clone / "contracts" / "data.yaml").read_text())["columns"]
    assert (
        contract["sex"]["isin"] == [1, 2] and contract["high_blood_pressure"]["dtype"] == "boolean"
    )
