"""What every onboarding end-to-end test checks in the project `tabpipe init` made.

Datasets come from packages installed with the dev environment (palmerpenguins,
vega_datasets, scikit-learn), so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from tests.support.workspace import ROOT, UV, make, onboard, sh, stages_run

# This checkout's project package (params.yaml, project.package): the template's, or the new
# name in an onboarded project (whose own copy of these tests onboards again, with --force).
CURRENT_PACKAGE = yaml.safe_load((ROOT / "params.yaml").read_text())["project"]["package"]


# Running each new project's whole suite takes many minutes: `make test-onboarding` runs
# every dataset's whole `make test`; `make test` runs one onboarded project's `make test-fast`
# (tests/onboarding/test_update.py: breast cancer as Parquet, after a template fix was
# merged into it) to stay inside the CI budget.
# An onboarded project's own suite runs these tests again (they onboard a clone of it): there
# they check init, not the project's suite once more (that would recurse).
NESTED = os.environ.get("TABPIPE_ONBOARDING_NESTED") == "1"
# Where to append one JSON line per onboarded dataset (task, metrics beside the
# HistGradientBoosting reference, the project's test counts), for docs/onboarding.md.
REPORT = os.environ.get("TABPIPE_ONBOARDING_REPORT")

EXPECTED_METRICS = {
    "binary": {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"},
    "multiclass": {"accuracy", "f1_macro", "roc_auc", "log_loss"},
    "regression": {"rmse", "mae", "r2"},
}
DVC_HINTS = ("To track the changes with git", "Use `dvc push` to send")


def onboard_and_verify(clone: Path, data: Path, package: str, task: str, *init_args: str) -> str:
    """Run init, check the project it produced, then the README's run and test commands."""
    again = ["--force"] if (clone / "docs" / "project.md").exists() else []
    done = onboard(clone, data, *init_args, *again)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    pipeline = list(yaml.safe_load((clone / "dvc.yaml").read_text())["stages"])
    assert stages_run(output) == pipeline, "init runs the whole pipeline once"
    assert not [hint for hint in DVC_HINTS if hint in output], "no hint about a missing remote"
    record = (clone / "docs" / "project.md").read_text()
    for decision in re.findall(r"\[init\]   '(.+?)': ", output):
        assert f"`{decision}`" in record, f"init said what {decision!r} became, not the record"

    features = yaml.safe_load((clone / "params.yaml").read_text())["features"]
    first = [*features["numeric"], *features["categorical"]][0]
    examples = [
        path
        for path in [clone / "README.md", *sorted((clone / "docs").glob("*.md"))]
        if "localhost:8000/predict -H" in path.read_text()
    ]
    assert examples, "the docs show a request to the service"
    for path in examples:
        assert json.dumps(first, ensure_ascii=False) in path.read_text(), f"{path}: demo row"

    assert (clone / "src" / package / "models.py").exists()
    untouched = sh(["git", "status", "--porcelain", "--", "src/tabpipe", "tests"], clone)
    assert untouched.stdout == "", f"init changed the machinery or its tests: {untouched.stdout}"
    mentions = sh(["grep", "-rn", "tabpipe", f"src/{package}"], clone, check=False)
    assert mentions.stdout == "", f"the project package mentions the machinery: {mentions.stdout}"
    if package != CURRENT_PACKAGE:
        assert not (clone / "src" / CURRENT_PACKAGE).exists()
        # References to the old package (import statements, its folder, params'
        # project.package), not the word: in an onboarded project, the test that onboarded
        # it names the dataset, and a project onboarded from train.csv is package `train`,
        # which `from tabpipe.pipeline import train` and prose ("draws from iris's") are not.
        old = CURRENT_PACKAGE
        named = rf"^[[:space:]]*(import|from) {old}([.[:space:]]|$)|src/{old}\b|package: {old}\b"
        files = ["src", "tests", "dvc.yaml", "Makefile", "pyproject.toml", "params.yaml"]
        left = sh(["grep", "-rlE", named, *files], clone, check=False)
        assert left.stdout == "", f"old package name left in: {left.stdout}"

    metrics = json.loads((clone / "metrics" / "test.json").read_text())
    assert set(metrics) == EXPECTED_METRICS[task]
    assert (clone / "models" / "model.onnx").stat().st_size > 0
    assert f"task: {task}" in (clone / "params.yaml").read_text()
    gate = json.loads((clone / "reports" / "gate.json").read_text())
    assert gate["blessed"], f"the first model fails the gate init inferred: {gate}"

    run = make("run", clone)
    assert stages_run(run.stdout) == [], "init already ran the pipeline: make run is a no-op"
    line: dict = {"dataset": package, **reference(clone)}
    worse = {m: g for m, g in line["goals"].items() if not g["within_goal"]}
    assert not worse, f"the default model is worse than HistGradientBoosting's defaults: {worse}"
    if not NESTED and os.environ.get("TABPIPE_TEST_ONBOARDED") == "all":
        line["own_suite"] = own_suite(clone)
    if REPORT and not NESTED:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
    return output


def reference(clone: Path) -> dict:
    """The project's test metrics beside a default HistGradientBoosting on the same split."""
    done = sh([str(clone / ".venv" / "bin" / "python"), "-m", "tests.support.reference"], clone)
    return json.loads(done.stdout.strip().splitlines()[-1])


def own_suite(clone: Path, target: str = "test") -> dict[str, object]:
    """The new project's `make test` (or `make test-fast`), as its README says; its counts."""
    # As a user runs it: plain `make test` (not every onboarding dataset again), and its own
    # onboarding tests check init without running a project's suite once more.
    saved = {k: os.environ.pop(k) for k in ("TABPIPE_TEST_ONBOARDED",) if k in os.environ}
    os.environ["TABPIPE_ONBOARDING_NESTED"] = "1"
    try:
        # A whole suite takes minutes (many under load): more than sh's default timeout.
        tests = sh(["make", target, *([f"UV={UV}"] if UV.exists() else [])], clone, False, 5400)
    finally:
        os.environ.pop("TABPIPE_ONBOARDING_NESTED", None)
        os.environ.update(saved)
    tail = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else ""
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}
    assert counts.get("passed") and not counts.get("failed"), tail
    # What was not applicable to this dataset and why (pytest's -ra summary), for the docs.
    skips = re.findall(r"^SKIPPED \[\d+\] (.+)$", tests.stdout, re.MULTILINE)
    return {**counts, "skips": sorted(set(skips))}
