"""`tabpipe init` on wine (scikit-learn): 178 rows, fewer than 200; three classes coded 0/1/2."""

import pytest
from sklearn.datasets import load_wine

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

pytestmark = [pytest.mark.e2e, pytest.mark.onboarding]


def test_wine_becomes_a_multiclass_project_from_178_rows(tmp_path, environment):
    frame = load_wine(as_frame=True).frame
    assert len(frame) < 200
    data = tmp_path / "wine.csv"
    frame.to_csv(data, index=False)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(clone, data, "wine", "multiclass", "--target", "target")
    assert "task: multiclass, inferred because the target has 3 distinct values" in output
    assert "'magnesium': numeric" in output, "an integer measure with many values is a number"
