"""`tabpipe init` on a table whose features cannot predict the target: the project is set up,
the gate refuses the first model, and init says so, with what to try, and exits 1."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.support.workspace import fresh_clone, onboard, sh, stages_run

pytestmark = pytest.mark.e2e


def test_a_target_the_features_cannot_predict_gets_a_project_and_a_refused_model(
    tmp_path, environment
):
    rng = np.random.default_rng(0)
    rows = 400
    noise = pd.DataFrame(
        {
            "reading": rng.normal(10, 2, rows).round(2),
            "count": rng.integers(0, 40, rows),
            "outcome": rng.normal(0, 1, rows).round(3),  # drawn apart from the features
        }
    )
    data = tmp_path / "noise.csv"
    noise.to_csv(data, index=False)
    clone = fresh_clone(tmp_path / "project", environment)
    again = ["--force"] if (clone / "docs" / "project.md").exists() else []
    done = onboard(clone, data, "--target", "outcome", "--name", "noise", *again)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert "expect the gate to refuse it" in output  # said before anything was trained
    pipeline = list(yaml.safe_load((clone / "dvc.yaml").read_text())["stages"])
    assert stages_run(output) == pipeline, "the pipeline ran to its end, the gate last"
    assert "the gate refused its first model: r2 [overall]" in output
    assert "reports/gate.md" in output and "src/noise/features.py" in output
    assert "`dvc repro` exited" not in output  # not reported as a failure of init's own
    assert "Done. Next:" in output  # the project is there: the usual next steps follow
    assert not json.loads((clone / "reports" / "gate.json").read_text())["blessed"]
    assert (clone / "models" / "model.onnx").stat().st_size > 0
    assert (clone / "src" / "noise" / "models.py").exists()
    # The cached outputs stay ignored (DVC takes back the entries it added when a run
    # fails): the next steps' `git add -A` must not commit the model or the splits.
    cached = ["build/validated.parquet", "build/train.parquet", "models/model.joblib"]
    ignored = sh(["git", "check-ignore", *cached, "models/model.onnx"], clone, check=False)
    assert ignored.stdout.split() == [*cached, "models/model.onnx"], ignored
