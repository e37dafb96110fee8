"""What every onboarding end-to-end test checks in the project `tabpipe init` made.

Datasets come from packages installed with the dev environment (palmerpenguins,
vega_datasets, scikit-learn), so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from tests.support.workspace import ROOT, make, onboard, sh, stages_run

# This checkout's project package (params.yaml, project.package): the template's, or the new
# name in an onboarded project (whose own copy of these tests onboards again, with --force).
CURRENT_PACKAGE = yaml.safe_load((ROOT / "params.yaml").read_text())["project"]["package"]


# Running each new project's own suite takes 2-3 minutes; `make test` runs it for the
# dataset least like the bundled one (breast cancer: Parquet, numeric features only, a 0/1
# label) to stay inside the CI budget; `make test-onboarding` runs it for all three.
OWN_SUITE_IN_MAKE_TEST = {"binary"}

EXPECTED_METRICS = {
    "binary": {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"},
    "multiclass": {"accuracy", "f1_macro", "roc_auc", "log_loss"},
    "regression": {"rmse", "mae", "r2"},
}


def onboard_and_verify(clone: Path, data: Path, package: str, task: str, *init_args: str) -> str:
    """Run init, check the project it produced, then the README's run and test commands."""
    again = ["--force"] if (clone / "docs" / "project.md").exists() else []
    done = onboard(clone, data, *init_args, *again)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    pipeline = list(yaml.safe_load((clone / "dvc.yaml").read_text())["stages"])
    assert stages_run(output) == pipeline, "init runs the whole pipeline once"

    assert (clone / "src" / package / "models.py").exists()
    untouched = sh(["git", "status", "--porcelain", "--", "src/tabpipe", "tests"], clone)
    assert untouched.stdout == "", f"init changed the machinery or its tests: {untouched.stdout}"
    mentions = sh(["grep", "-rn", "tabpipe", f"src/{package}"], clone, check=False)
    assert mentions.stdout == "", f"the project package mentions the machinery: {mentions.stdout}"
    if package != CURRENT_PACKAGE:
        assert not (clone / "src" / CURRENT_PACKAGE).exists()
        left = ["grep", "-rlw", CURRENT_PACKAGE, "src", "tests", "dvc.yaml", "Makefile"]
        untracked = sh(left, clone, check=False)
        assert untracked.stdout == "", f"old package name left in: {untracked.stdout}"

    metrics = json.loads((clone / "metrics" / "test.json").read_text())
    assert set(metrics) == EXPECTED_METRICS[task]
    assert (clone / "models" / "model.onnx").stat().st_size > 0
    assert (clone / "docs" / "project.md").exists()
    assert f"task: {task}" in (clone / "params.yaml").read_text()

    run = make("run", clone)
    assert stages_run(run.stdout) == [], "init already ran the pipeline: make run is a no-op"
    if task not in OWN_SUITE_IN_MAKE_TEST and os.environ.get("TABPIPE_TEST_ONBOARDED") != "all":
        return output
    # The new project's own suite, minus its end-to-end tests (they would run init again).
    tests = make("test-fast", clone, check=False)
    summary = tests.stdout.strip().splitlines()[-3:] if tests.stdout else []
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    assert " passed" in "\n".join(summary) and " failed" not in "\n".join(summary)
    return output
