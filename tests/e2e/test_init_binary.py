"""`tabpipe init` on breast cancer (scikit-learn): binary 0/1 target, Parquet input, spaces."""

import pytest
from sklearn.datasets import load_breast_cancer

from tests.e2e.onboarding_checks import onboard_and_verify
from tests.support.workspace import fresh_clone

# make test onboards this table in tests/onboarding/test_update.py (same checks, then a
# template fix merged and the project's make test-fast); here: make test-onboarding.
pytestmark = [pytest.mark.e2e, pytest.mark.onboarding]


def test_breast_cancer_becomes_a_binary_project(tmp_path, environment):
    frame = load_breast_cancer(as_frame=True).frame
    data = tmp_path / "tumours.parquet"
    frame.to_parquet(data, index=False)
    clone = fresh_clone(tmp_path / "project", environment)
    output = onboard_and_verify(
        clone, data, "tumours", "binary", "--target", "target", "--positive-class", "0"
    )
    assert "task: binary, inferred" in output
    assert (clone / "data" / "tumours.parquet").exists()
    assert "mean radius" in (clone / "params.yaml").read_text()
